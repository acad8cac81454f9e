//! Several seats at once over WebSocket (`SELECT_SEATS`, `BOOK_SEATS`, `RELEASE_SEATS`), through
//! two edges: the edge forwards the group, answers with every seat or every seat in the way,
//! and every viewer sees one update per seat, in seq order; best available (`HOLD_BEST`) too.

use serde_json::json;
use shared::ws::{OkSeats, ServerMessage};
use shared::SeatStatus;

mod support;
use support::{assert_all_converge, Backend, Viewer};

/// Sends a group command and waits for its answer.
async fn group(viewer: &Viewer, kind: &str, seats: &[&str], req_id: &str) -> ServerMessage {
    viewer.send(kind, json!({"seat_ids": seats, "req_id": req_id}));
    viewer
        .wait_for(&format!("the answer to {req_id}"), |m| match m {
            ServerMessage::Ok(ok) => ok.req_id == json!(req_id),
            ServerMessage::Error(err) => err.req_id == json!(req_id),
            _ => false,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_held_whole_and_every_viewer_sees_each_seat() {
    let backend = Backend::start(2, &[]).await;
    let alice = Viewer::ready(&backend.ws_url(0)).await;
    let bob = Viewer::ready(&backend.ws_url(1)).await;
    assert_eq!(alice.welcome().max_holds_per_user, 4);

    let ServerMessage::Ok(ok) = group(&alice, "SELECT_SEATS", &["d5", "D6"], "g1").await else {
        panic!("SELECT_SEATS refused")
    };
    assert_eq!(ok.action, "select");
    let OkSeats::Several { seat_ids, seats } = &ok.seats else {
        panic!("a group OK: {ok:?}")
    };
    assert_eq!(seat_ids, &["D5", "D6"]);
    assert!(seats.iter().all(|s| s.status == SeatStatus::Held));

    // Bob, on the other edge, sees both seats held, with consecutive seqs.
    for seat in ["D5", "D6"] {
        bob.wait_for(&format!("{seat} held"), |m| {
            matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == seat && u.status == SeatStatus::Held)
        })
        .await;
    }
    let seqs = bob.update_seqs();
    assert_eq!(seqs.len(), 2);
    assert_eq!(seqs[1], seqs[0] + 1);

    let ServerMessage::Error(error) = group(&bob, "SELECT_SEATS", &["D6", "D7"], "g2").await else {
        panic!("an overlapping group was held")
    };
    assert_eq!(error.code, shared::ErrorCode::SeatUnavailable);
    assert_eq!(error.seat_ids, Some(vec!["D6".to_owned()]));
    assert_eq!(error.seat_id, None);

    let booked = group(&alice, "BOOK_SEATS", &["D5", "D6"], "g3").await;
    assert!(matches!(booked, ServerMessage::Ok(_)), "{booked:?}");
    let ServerMessage::Error(bad) = group(&alice, "RELEASE_SEATS", &[], "g4").await else {
        panic!("an empty group was accepted")
    };
    assert_eq!(bad.code, shared::ErrorCode::ValidationError);
    bob.wait_for("D6 booked", |m| {
        matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == "D6" && u.status == SeatStatus::Booked)
    })
    .await;
    assert!(bob.violations().is_empty(), "{:?}", bob.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_seat_rule_names_the_stranded_seat_over_websocket() {
    let backend = Backend::start_with(1, &[], &[("SINGLE_SEAT_RULE", "1")]).await;
    let alice = Viewer::ready(&backend.ws_url(0)).await;
    alice.send("SELECT_SEAT", json!({"seat_id": "B2", "req_id": "one"}));
    let answer = alice
        .wait_for(
            "the answer",
            |m| matches!(m, ServerMessage::Error(e) if e.req_id == json!("one")),
        )
        .await;
    let ServerMessage::Error(error) = answer else {
        unreachable!()
    };
    assert_eq!(error.code, shared::ErrorCode::SingleSeatGap);
    assert_eq!(error.seat_ids, Some(vec!["B1".to_owned()]));
    assert!(matches!(
        group(&alice, "SELECT_SEATS", &["B1", "B2"], "two").await,
        ServerMessage::Ok(_)
    ));
}

/// 200 clients on two edges each send one `SELECT_SEATS` of 2 to 4 seats overlapping their
/// neighbours', all at once. No client holds part of its group; every `ERROR` names only seats
/// of its group that another holds; every viewer ends at the booking service's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_clients_race_for_overlapping_groups_over_two_edges() {
    let backend = Backend::start(2, &[]).await;
    let clients = futures_util::future::join_all(
        (0..200).map(|i| Viewer::ready_owned(backend.ws_url(i % 2))),
    )
    .await;
    let ids: Vec<String> = (b'A'..=b'J')
        .flat_map(|row| (1..=10).map(move |col| format!("{}{col}", row as char)))
        .collect();
    let groups: Vec<Vec<String>> = (0..200)
        .map(|i| {
            let size = 2 + i % 3;
            let start = (i * 7) % (ids.len() - size);
            ids[start..start + size].to_vec()
        })
        .collect();
    for (client, seats) in clients.iter().zip(&groups) {
        client.send("SELECT_SEATS", json!({"seat_ids": seats, "req_id": "race"}));
    }
    let mut answers = Vec::new();
    for client in &clients {
        answers.push(
            client
                .wait_for("the answer", |m| match m {
                    ServerMessage::Ok(ok) => ok.req_id == json!("race"),
                    ServerMessage::Error(err) => err.req_id == json!("race"),
                    _ => false,
                })
                .await,
        );
    }
    assert_all_converge(&backend, &clients, std::time::Duration::from_secs(10)).await;
    let (_, truth) = backend.truth().await;
    let mut winners = 0;
    for ((client, seats), answer) in clients.iter().zip(&groups).zip(&answers) {
        let me = json!(client.welcome().user_id);
        let mine = seats.iter().filter(|s| truth[*s].1 == me).count();
        match answer {
            ServerMessage::Ok(_) => {
                winners += 1;
                assert_eq!(mine, seats.len(), "an OK group is held whole");
            }
            ServerMessage::Error(error) => {
                assert_eq!(error.code, shared::ErrorCode::SeatUnavailable, "{error:?}");
                assert_eq!(mine, 0, "a refused client holds none of its group");
                let named = error.seat_ids.clone().unwrap_or_default();
                assert!(!named.is_empty(), "{error:?}");
                for seat in &named {
                    assert!(seats.contains(seat), "{seat} is not in {seats:?}");
                    assert_eq!(truth[seat].0, 1, "{seat} was named but is not held");
                }
            }
            other => panic!("not an answer: {other:?}"),
        }
    }
    assert!(
        winners > 0 && winners < 200,
        "{winners} of 200 won: no race"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_available_over_websocket_hands_out_disjoint_blocks_on_two_edges() {
    let backend = Backend::start(2, &[]).await;
    let clients =
        futures_util::future::join_all((0..40).map(|i| Viewer::ready_owned(backend.ws_url(i % 2))))
            .await;
    // 40 clients asking for 2 to 4 seats want about 120 seats of 100.
    for (i, client) in clients.iter().enumerate() {
        client.send("HOLD_BEST", json!({"count": 2 + i % 3, "req_id": "best"}));
    }
    let mut answers = Vec::new();
    for client in &clients {
        answers.push(
            client
                .wait_for("the answer", |m| match m {
                    ServerMessage::Ok(ok) => ok.req_id == json!("best"),
                    ServerMessage::Error(err) => err.req_id == json!("best"),
                    _ => false,
                })
                .await,
        );
    }
    assert_all_converge(&backend, &clients, std::time::Duration::from_secs(10)).await;
    let (_, truth) = backend.truth().await;
    let mut given = std::collections::HashSet::new();
    let mut refused = 0;
    for (i, (client, answer)) in clients.iter().zip(&answers).enumerate() {
        let me = json!(client.welcome().user_id);
        match answer {
            ServerMessage::Ok(ok) => {
                assert_eq!(ok.action, "best");
                let OkSeats::Several { seat_ids, seats } = &ok.seats else {
                    panic!("a best-available OK names its seats: {ok:?}")
                };
                assert_eq!(seat_ids.len(), 2 + i % 3);
                // Side by side in one row of the grid.
                let row = &seat_ids[0][..1];
                let cols: Vec<u32> = seat_ids.iter().map(|id| id[1..].parse().unwrap()).collect();
                assert!(seat_ids.iter().all(|id| &id[..1] == row), "{seat_ids:?}");
                assert!(cols.windows(2).all(|w| w[1] == w[0] + 1), "{seat_ids:?}");
                for (id, seat) in seat_ids.iter().zip(seats) {
                    assert!(given.insert(id.clone()), "{id} was given twice");
                    assert_eq!(seat.status, SeatStatus::Held);
                    assert_eq!(truth[id], (1, me.clone()), "{id} is held by its asker");
                }
            }
            ServerMessage::Error(error) => {
                assert_eq!(error.code, shared::ErrorCode::NoSeatsTogether, "{error:?}");
                // Refused only when no row has that many free seats side by side, even now.
                let count = 2 + i % 3;
                let fits = (b'A'..=b'J').any(|row| {
                    let free: Vec<bool> = (1..=10)
                        .map(|col| truth[&format!("{}{col}", row as char)].0 == 0)
                        .collect();
                    free.windows(count).any(|w| w.iter().all(|f| *f))
                });
                assert!(
                    !fits,
                    "{count} seats were refused while a row had them free"
                );
                refused += 1;
            }
            other => panic!("not an answer: {other:?}"),
        }
    }
    assert!(
        refused > 0 && given.len() > 80,
        "{refused} refused, {} seats given",
        given.len()
    );
    let asker = &clients[0];
    asker.send("HOLD_BEST", json!({"count": 0, "req_id": "zero"}));
    let bad = asker
        .wait_for(
            "the answer",
            |m| matches!(m, ServerMessage::Error(e) if e.req_id == json!("zero")),
        )
        .await;
    let ServerMessage::Error(bad) = bad else {
        unreachable!()
    };
    assert_eq!(bad.code, shared::ErrorCode::ValidationError);
    assert!(clients.iter().all(|c| c.violations().is_empty()));
}
