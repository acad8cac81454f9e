//! Edge servers against the real back end: fan-out across edges, races, identity, ordering,
//! slow clients, NATS outages, lost events, bad frames and graceful shutdown. The modules under
//! `fanout/` cover gap filling and epochs, resuming by seq, origins and tokens, and telling
//! clients how current their edge is (`STATUS`, `PING`/`PONG`).

mod support;

#[path = "fanout/history.rs"]
mod history;
#[path = "fanout/identity.rs"]
mod identity;
#[path = "fanout/liveness.rs"]
mod liveness;
#[path = "fanout/resume.rs"]
mod resume;
#[path = "fanout/shutdown.rs"]
mod shutdown;
#[path = "fanout/unix_socket.rs"]
mod unix_socket;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use shared::ws::ServerMessage;
use shared::ErrorCode;
use support::{assert_all_converge, Backend, Viewer};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_selection_on_one_edge_reaches_a_client_on_the_other() {
    let backend = Backend::start(2, &[]).await;
    let mut alice = Viewer::ready(&backend.ws_url(0)).await;
    let bob = Viewer::ready(&backend.ws_url(1)).await;
    let (alice_hi, bob_hi) = (alice.welcome(), bob.welcome());
    assert_ne!(alice_hi.edge_id, bob_hi.edge_id, "two different edges");
    assert_ne!(alice_hi.user_id, bob_hi.user_id);
    assert!(alice_hi.token.len() >= 16 && alice_hi.user_id.starts_with("u-"));
    assert_eq!(
        (alice_hi.venue.as_str(), alice_hi.hold_seconds),
        ("main", 30)
    );

    assert_eq!(alice.command("SELECT_SEAT", "D5").await, "OK");
    let update = bob
        .wait_for(
            "the update on edge B",
            |m| matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == "D5"),
        )
        .await;
    let ServerMessage::SeatUpdate(update) = update else {
        unreachable!()
    };
    assert_eq!(update.held_by.as_deref(), Some(alice_hi.user_id.as_str()));
    assert_eq!(update.status, shared::SeatStatus::Held);
    assert!(update.expires_at.is_some());
    assert_eq!(bob.seats()["D5"].0, 1);
    // The token never travels to other clients.
    let seen_by_bob = serde_json::to_string(&bob.view.lock().unwrap().messages).unwrap();
    assert!(!seen_by_bob.contains(&alice_hi.token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_over_two_edges_race_for_one_seat_and_exactly_one_wins() {
    let backend = Backend::start(2, &[]).await;
    let mut clients = join_all((0..50).map(|i| Viewer::ready_owned(backend.ws_url(i % 2)))).await;
    let answers = join_all(clients.iter_mut().map(|c| c.command("SELECT_SEAT", "A1"))).await;
    assert_eq!(
        answers.iter().filter(|a| *a == "OK").count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|a| *a == "SEAT_UNAVAILABLE").count(),
        49,
        "{answers:?}"
    );
    assert_all_converge(&backend, &clients, Duration::from_secs(5)).await;
    let winner = clients
        .iter()
        .zip(&answers)
        .find(|(_, a)| *a == "OK")
        .unwrap()
        .0
        .welcome()
        .user_id;
    for client in &clients {
        assert_eq!(client.seats()["A1"], (1, json!(winner)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_with_the_token_keeps_the_identity_and_its_holds() {
    let backend = Backend::start(2, &[]).await;
    let mut first = Viewer::ready(&backend.ws_url(0)).await;
    let identity = first.welcome();
    assert_eq!(first.command("SELECT_SEAT", "C7").await, "OK");
    first.close();

    // Back through the other edge, resuming with CONNECT.
    let mut again = Viewer::ready(&backend.ws_url(1)).await;
    assert_ne!(
        again.welcome().user_id,
        identity.user_id,
        "a fresh identity until CONNECT"
    );
    again.send("CONNECT", json!({"token": identity.token, "venue": "main"}));
    again
        .wait_for(
            "a WELCOME for the resumed identity",
            |m| matches!(m, ServerMessage::Welcome(w) if w.user_id == identity.user_id),
        )
        .await;
    assert_eq!(again.command("BOOK_SEAT", "C7").await, "OK");
    assert_eq!(backend.truth().await.1["C7"], (2, json!(identity.user_id)));

    // A stranger cannot act for that user, and a bad token is refused without losing the socket.
    let mut stranger = Viewer::ready(&backend.ws_url(0)).await;
    assert_eq!(stranger.command("RELEASE_SEAT", "C7").await, "SEAT_BOOKED");
    stranger.send("CONNECT", json!({"token": "bad token!"}));
    stranger
        .wait_for(
            "UNAUTHORIZED",
            |m| matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::Unauthorized),
        )
        .await;
    // The older demo scripts' alias works too.
    stranger.send("subscribe", json!({"venue": "main"}));
    assert_eq!(stranger.command("SELECT_SEAT", "C8").await, "OK");
    stranger.send("subscribe", json!({"venue": "nowhere"}));
    stranger
        .wait_for(
            "UNKNOWN_VENUE",
            |m| matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::UnknownVenue),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_random_commands_arrive_everywhere_in_order_without_gaps() {
    let backend = Backend::start_with(2, &[], &[("MAX_HOLDS_PER_USER", "4")]).await;
    let clients = join_all((0..20).map(|i| Viewer::ready_owned(backend.ws_url(i % 2)))).await;
    let seats: Vec<String> = (b'A'..=b'C')
        .flat_map(|r| (1..=4).map(move |c| format!("{}{c}", r as char)))
        .collect();
    let started = Instant::now();
    // 20 clients x 50 commands, each client paced under the 20/s limit.
    let outcomes = join_all(clients.into_iter().enumerate().map(|(i, mut client)| {
        let seats = seats.clone();
        async move {
            let mut rng = i as u64 * 7919 + 17;
            let mut results = Vec::new();
            for _ in 0..50 {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let seat = &seats[(rng >> 33) as usize % seats.len()];
                let kind = ["SELECT_SEAT", "SELECT_SEAT", "RELEASE_SEAT", "BOOK_SEAT"]
                    [(rng >> 20) as usize % 4];
                results.push(client.command(kind, seat).await);
                tokio::time::sleep(Duration::from_millis(55)).await;
            }
            (client, results)
        }
    }))
    .await;
    let (clients, results): (Vec<Viewer>, Vec<Vec<String>>) = outcomes.into_iter().unzip();
    let all: Vec<&String> = results.iter().flatten().collect();
    assert_eq!(all.len(), 1000);
    assert!(
        all.iter().all(|r| [
            "OK",
            "SEAT_UNAVAILABLE",
            "SEAT_BOOKED",
            "NOT_HOLDER",
            "MAX_HOLDS_EXCEEDED"
        ]
        .contains(&r.as_str())),
        "{all:?}"
    );
    assert!(all.iter().any(|r| *r == "OK"));
    assert!(
        all.iter().all(|r| *r != "RATE_LIMITED"),
        "paced commands are never rate limited"
    );
    assert_all_converge(&backend, &clients, Duration::from_secs(5)).await;
    println!("1000 commands over 20 clients in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_never_reads_does_not_delay_the_others() {
    let backend = Backend::start(1, &[]).await;
    // It completes the handshake and then never reads, on a socket with a tiny receive
    // buffer, so the edge's writes to it back up quickly.
    let never_reads = testkit::Options {
        reading: testkit::Reading::StallAfter(0),
        recv_buffer: Some(2048),
        ..testkit::Options::default()
    };
    let stuck = Viewer::open(&backend.ws_url(0), never_reads).await.unwrap();
    let readers = join_all((0..5).map(|_| Viewer::ready_owned(backend.ws_url(0)))).await;

    // Hundreds of changes, as fast as the booking service takes them.
    let tokens: Vec<String> = (0..100).map(|_| testkit::token()).collect();
    let seats: Vec<String> = (b'A'..=b'J')
        .flat_map(|r| (1..=10).map(move |c| format!("{}{c}", r as char)))
        .collect();
    for _round in 0..8 {
        join_all(
            seats
                .iter()
                .zip(&tokens)
                .map(|(seat, t)| backend.api.seat("select", seat, t)),
        )
        .await;
        backend.reset().await;
    }
    let finished = Instant::now();
    assert_all_converge(&backend, &readers, Duration::from_secs(3)).await;
    println!(
        "readers converged {:?} after the last change",
        finished.elapsed()
    );

    let resynced = backend
        .edge_metric(0, "edge_slow_client_resyncs_total")
        .await;
    let dropped = backend
        .edge_metric(0, "edge_slow_clients_dropped_total")
        .await;
    assert!(
        resynced + dropped >= 1.0,
        "the stalled client was resynced ({resynced}) or dropped ({dropped})"
    );
    for (i, reader) in readers.iter().enumerate() {
        assert!(
            reader.view.lock().unwrap().closed.is_none(),
            "reader {i} is still connected"
        );
    }
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_a_ten_second_nats_outage_every_viewer_keeps_up_and_converges() {
    let mut backend = Backend::start(2, &[]).await;
    let mut clients = join_all((0..10).map(|i| Viewer::ready_owned(backend.ws_url(i % 2)))).await;
    assert_eq!(clients[0].command("SELECT_SEAT", "A1").await, "OK");

    backend.nats.stop();
    let stopped = Instant::now();
    // Changes go on over HTTP while NATS is down, and viewers see them: the edges find the
    // booking service ahead with their periodic check and fetch the events from its history.
    let token = testkit::token();
    for seat in ["B2", "B3", "B4"] {
        assert_eq!(backend.api.seat("select", seat, &token).await.code(), "OK");
    }
    assert_all_converge(&backend, &clients, Duration::from_secs(5)).await;
    for seat in ["B3", "C1"] {
        let verb = if seat == "B3" { "book" } else { "select" };
        assert_eq!(backend.api.seat(verb, seat, &token).await.code(), "OK");
    }
    let outage = Duration::from_secs(10).saturating_sub(stopped.elapsed());
    tokio::time::sleep(outage).await;
    backend.nats.restart();
    // The relay now publishes what NATS missed: repeats of what the viewers have, which the
    // edges drop. Changes made as soon as NATS is back flow as usual.
    let another = testkit::token();
    for seat in ["B5", "B6"] {
        assert_eq!(
            backend.api.seat("select", seat, &another).await.code(),
            "OK"
        );
    }
    assert_all_converge(&backend, &clients, Duration::from_secs(5)).await;
    // And they keep working afterwards, over the WebSocket too.
    assert_eq!(clients[1].command("SELECT_SEAT", "J10").await, "OK");
    assert_all_converge(&backend, &clients, Duration::from_secs(5)).await;
    for (i, client) in clients.iter().enumerate() {
        assert_eq!(
            client.venue_states(),
            1,
            "viewer {i} never needed the whole map again"
        );
    }
    let mut fills = 0.0;
    for edge in 0..2 {
        fills += backend.edge_metric(edge, "edge_history_fills_total").await;
        let reconnects = backend
            .edge_metric(edge, "edge_nats_reconnects_total")
            .await;
        assert!(reconnects >= 1.0, "edge {edge} reconnected to NATS");
    }
    assert!(
        fills >= 2.0,
        "both edges filled the gap from history ({fills})"
    );
    clients.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dead_nats_is_noticed_within_5_s_while_viewers_keep_up() {
    let backend = Backend::start(1, &[]).await;
    let mut viewers = vec![Viewer::ready(&backend.ws_url(0)).await];
    let edge = testkit::Api::new(backend.edges[0].base_url());
    let token = testkit::token();

    // NATS hangs: its connections stay open but nothing answers.
    backend.nats.freeze();
    let frozen = Instant::now();
    assert_eq!(backend.api.seat("select", "C3", &token).await.code(), "OK");
    assert_all_converge(&backend, &viewers, Duration::from_secs(5)).await;
    while edge.get("/health").await.status == 200 {
        assert!(
            frozen.elapsed() < Duration::from_secs(5),
            "the edge noticed the dead NATS within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("the edge noticed after {:?}", frozen.elapsed());

    backend.nats.thaw();
    let deadline = Instant::now() + Duration::from_secs(15);
    while edge.get("/health").await.status != 200 {
        assert!(Instant::now() < deadline, "the edge reconnected to NATS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(viewers[0].command("SELECT_SEAT", "C4").await, "OK");
    assert_all_converge(&backend, &viewers, Duration::from_secs(3)).await;
    assert_eq!(viewers[0].venue_states(), 1);
    viewers.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_event_is_lost_is_caught_by_the_periodic_seq_check() {
    let backend = Backend::start_linked(2).await;
    let mut clients = vec![
        Viewer::ready(&backend.ws_url(0)).await,
        Viewer::ready(&backend.ws_url(1)).await,
    ];
    assert_eq!(clients[0].command("SELECT_SEAT", "A1").await, "OK");
    assert_all_converge(&backend, &clients, Duration::from_secs(2)).await;

    // The last change of the venue never reaches the edges over NATS, and nothing follows it.
    backend.link().cut.store(true, Ordering::Relaxed);
    assert_eq!(
        backend
            .api
            .seat("select", "H8", &testkit::token())
            .await
            .code(),
        "OK"
    );
    let changed_at = Instant::now();
    assert_all_converge(&backend, &clients, Duration::from_secs(5)).await;
    println!(
        "edges caught the lost change after {:?}",
        changed_at.elapsed()
    );
    assert_eq!(clients[1].seats()["H8"].0, 1);
    // And ordinary updates carry on in order after it.
    backend.link().cut.store(false, Ordering::Relaxed);
    assert_eq!(clients[1].command("SELECT_SEAT", "B1").await, "OK");
    assert_all_converge(&backend, &clients, Duration::from_secs(2)).await;
    for client in &clients {
        assert_eq!(
            client.venue_states(),
            1,
            "filled from history, not a new VENUE_STATE"
        );
    }
    clients.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_an_error_and_the_socket_stays_up() {
    let backend = Backend::start(1, &[]).await;
    let mut client = Viewer::ready(&backend.ws_url(0)).await;
    let frames = [
        Message::text("not json"),
        Message::text("[]"),
        Message::text(r#"{"type":"DANCE","data":{}}"#),
        Message::text(r#"{"type":"SELECT_SEAT","data":{}}"#),
        Message::text(r#"{"type":"SELECT_SEAT","data":{"seat_id":"Z99"}}"#),
        Message::binary(vec![1u8, 2, 3]),
        Message::text(format!(
            r#"{{"type":"SELECT_SEAT","data":{{"seat_id":"{}"}}}}"#,
            "A".repeat(5000)
        )),
    ];
    let expected = [
        ErrorCode::ValidationError,
        ErrorCode::ValidationError,
        ErrorCode::UnknownType,
        ErrorCode::ValidationError,
        ErrorCode::UnknownSeat,
        ErrorCode::ValidationError,
        ErrorCode::FrameTooLarge,
    ];
    for frame in frames {
        client.send_raw(frame);
    }
    testkit::eventually(Duration::from_secs(5), || {
        client
            .view
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| matches!(m, ServerMessage::Error(_)))
            .count()
            >= expected.len()
    })
    .await;
    let codes: Vec<ErrorCode> = client
        .view
        .lock()
        .unwrap()
        .messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Error(e) => Some(e.code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, expected);
    assert_eq!(
        client.command("SELECT_SEAT", "A1").await,
        "OK",
        "the socket is still up"
    );
    assert!(client.view.lock().unwrap().closed.is_none());

    // A flood gets RATE_LIMITED, and the socket still stays up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for _ in 0..40 {
        client.send("SELECT_SEAT", json!({"seat_id": "A1"}));
    }
    client
        .wait_for(
            "RATE_LIMITED",
            |m| matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::RateLimited),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(client.command("SELECT_SEAT", "A2").await, "OK");
    assert_eq!(
        backend.api.get("/api/venues/main").await.body["seq"],
        2,
        "nothing else changed"
    );

    // A frame too large to read at all (over 64 KiB) gets FRAME_TOO_LARGE and a close 1009.
    client.send_raw(Message::text("x".repeat(100 * 1024)));
    testkit::eventually(Duration::from_secs(5), || {
        client.view.lock().unwrap().closed.is_some()
    })
    .await;
    {
        let view = client.view.lock().unwrap();
        assert!(
            matches!(view.messages.last(), Some(ServerMessage::Error(e)) if e.code == ErrorCode::FrameTooLarge),
            "the last message names the error"
        );
        assert_eq!(view.closed.as_ref().map(|c| c.0), Some(1009));
    }
    assert_eq!(backend.api.get("/api/venues/main").await.body["seq"], 2);
    Viewer::ready(&backend.ws_url(0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ten_thousand_seat_venue_reaches_every_joining_viewer_and_its_updates_follow() {
    let backend = Backend::start_with(
        2,
        &[("DEFAULT_VENUE", "arena")],
        &[("VENUES", "main:10x10,arena:26x385")],
    )
    .await;
    // Forty viewers join at once, over two edges: each gets the whole venue (431 KB).
    let viewers = join_all((0..40).map(|i| Viewer::ready_owned(backend.ws_url(i % 2)))).await;
    for viewer in &viewers {
        let state = viewer.venue_state().expect("a VENUE_STATE");
        assert_eq!(
            (
                state.venue.as_str(),
                state.full_seats().expect("a full state").len()
            ),
            ("arena", 10_010)
        );
    }
    let token = testkit::token();
    for seat in ["A1", "Z385", "M200"] {
        let answer = backend
            .api
            .post_json(
                "/api/seats/select",
                json!({"seat_id": seat, "token": token, "venue": "arena"}),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    for viewer in &viewers {
        viewer
            .wait_for(
                "the third update",
                |m| matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == "M200"),
            )
            .await;
        assert_eq!(viewer.update_seqs(), vec![1, 2, 3]);
        assert!(viewer.violations().is_empty(), "{:?}", viewer.violations());
        assert!(viewer.view.lock().unwrap().closed.is_none());
    }
    let serialised = backend
        .edge_metric(0, "edge_venue_states_serialised_total")
        .await
        + backend
            .edge_metric(1, "edge_venue_states_serialised_total")
            .await;
    println!("40 joins of a 10,010-seat venue: {serialised} serialisations of its state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_an_edge_down_closes_its_sockets_with_going_away() {
    let mut backend = Backend::start(1, &[]).await;
    let client = Viewer::ready(&backend.ws_url(0)).await;
    assert!(
        backend.edges[0].terminate(),
        "SIGTERM ends the edge with status 0"
    );
    testkit::eventually(Duration::from_secs(5), || {
        client.view.lock().unwrap().closed.is_some()
    })
    .await;
    let closed = client.view.lock().unwrap().closed.clone();
    assert_eq!(closed.map(|c| c.0), Some(1001));
}
