//! Several seats at once over HTTP (`seat_ids`), against real redis-server and nats-server:
//! all or nothing, one event per seat with consecutive seqs, every seat in the way named, holds
//! that expire together, and a race of 200 clients for overlapping groups.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};
use shared::api::EventsPage;
use shared::{EventKind, SeatStatus};
use testkit::token;

mod support;
use support::Stack;

/// `POST /api/seats/{verb}` with `{"seat_ids","token"}`.
async fn group(stack: &Stack, verb: &str, seats: &[&str], token: &str) -> testkit::http::Answer {
    stack
        .api
        .post_json(
            &format!("/api/seats/{verb}"),
            json!({"seat_ids": seats, "token": token}),
        )
        .await
}

/// The seats named in an error body.
fn named(answer: &testkit::http::Answer) -> Vec<String> {
    serde_json::from_value(answer.body["error"]["seat_ids"].clone()).unwrap_or_default()
}

/// Every event the venue kept, from the history endpoint, in seq order.
async fn history(stack: &Stack) -> EventsPage {
    let page = stack.api.get("/api/venues/main/events?after=0").await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    serde_json::from_value(page.body).unwrap()
}

/// seat -> (status, held_by) from a snapshot.
async fn snapshot(stack: &Stack) -> (u64, HashMap<String, (u64, Value)>) {
    let snapshot = stack.api.get("/api/venues/main").await;
    let seq = snapshot.body["seq"].as_u64().unwrap();
    (seq, testkit::http::seats_of(&snapshot.body["seats"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_held_booked_and_released_as_one_with_an_event_per_seat() {
    let stack = Stack::start(&[]).await;
    let (alice, bob) = (token(), token());

    let held = group(&stack, "select", &["a1", "A2", "A3"], &alice).await;
    assert_eq!(held.code(), "OK", "{:?}", held.body);
    assert_eq!(held.body["seat_ids"], json!(["A1", "A2", "A3"]));
    let seats = held.body["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 3);
    assert!(seats.iter().all(|s| s["status"] == 1));
    // The seats one request newly holds share one expiry.
    assert!(seats
        .iter()
        .all(|s| s["expires_at"] == seats[0]["expires_at"]));

    // Bob's group overlaps: nothing of it is held, and the error names exactly the seat in
    // the way.
    let refused = group(&stack, "select", &["A3", "A4"], &bob).await;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "SEAT_UNAVAILABLE".into())
    );
    assert_eq!(named(&refused), vec!["A3"]);
    assert_eq!(stack.seat_status("A4").await["status"], 0);

    // Selecting seats you already hold with one more: only the new one changes.
    let more = group(&stack, "select", &["A3", "A4"], &alice).await;
    assert_eq!(more.code(), "OK", "{:?}", more.body);
    assert_eq!(more.body["seats"][0]["expires_at"], seats[2]["expires_at"]);

    // Booking a group with a seat Bob does not hold books nothing.
    let not_his = group(&stack, "book", &["A1", "A2"], &bob).await;
    assert_eq!((not_his.status, not_his.code()), (403, "NOT_HOLDER".into()));
    assert_eq!(named(&not_his), vec!["A1", "A2"]);

    let booked = group(&stack, "book", &["A1", "A2"], &alice).await;
    assert_eq!(booked.code(), "OK", "{:?}", booked.body);
    assert!(booked.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == 2 && s["expires_at"].is_null()));
    let released = group(&stack, "release", &["A3", "A4"], &alice).await;
    assert_eq!(released.code(), "OK", "{:?}", released.body);

    // A booked seat in a group: SEAT_BOOKED comes before SEAT_UNAVAILABLE.
    assert_eq!(group(&stack, "select", &["A5"], &bob).await.code(), "OK");
    let both = group(&stack, "select", &["A1", "A5", "A6"], &alice).await;
    assert_eq!(both.code(), "SEAT_BOOKED");
    assert_eq!(named(&both), vec!["A1", "A5"]);

    // One event per seat, consecutive seqs in the order asked.
    let page = history(&stack).await;
    let changes: Vec<(u64, String, EventKind)> = page
        .events
        .iter()
        .map(|e| (e.seq, e.seat_id.clone(), e.kind))
        .collect();
    use EventKind::*;
    let expected = [
        ("A1", Held),
        ("A2", Held),
        ("A3", Held),
        ("A4", Held),
        ("A1", Booked),
        ("A2", Booked),
        ("A3", Released),
        ("A4", Released),
        ("A5", Held),
    ];
    let expected: Vec<(u64, String, EventKind)> = expected
        .iter()
        .enumerate()
        .map(|(i, (seat, kind))| (i as u64 + 1, seat.to_string(), *kind))
        .collect();
    assert_eq!(changes, expected);
    assert!(stack.events.wait_for_count(9, Duration::from_secs(3)).await);
    stack.events.assert_contiguous_from_one();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_holds_counts_seats_and_malformed_groups_get_a_code() {
    let stack = Stack::start(&[]).await;
    let alice = token();
    assert_eq!(
        group(&stack, "select", &["B1", "B2", "B3"], &alice)
            .await
            .code(),
        "OK"
    );
    let over = group(&stack, "select", &["B3", "B4", "B5"], &alice).await;
    assert_eq!(
        (over.status, over.code()),
        (409, "MAX_HOLDS_EXCEEDED".into())
    );
    assert_eq!(named(&over), vec!["B4", "B5"]);
    assert_eq!(stack.seat_status("B4").await["status"], 0);
    assert_eq!(
        group(&stack, "select", &["B3", "B4"], &alice).await.code(),
        "OK"
    );

    let other = token();
    for (body, why) in [
        (json!({"seat_ids": [], "token": other}), "empty"),
        (
            json!({"seat_ids": ["C1", "C2", "C3", "C4", "C5"], "token": other}),
            "over MAX_HOLDS_PER_USER",
        ),
        (
            json!({"seat_ids": ["C1", "c1"], "token": other}),
            "a seat twice",
        ),
        (
            json!({"seat_ids": ["C1", "??"], "token": other}),
            "a malformed id",
        ),
        (json!({"seat_ids": "C1", "token": other}), "not an array"),
        (
            json!({"seat_ids": ["C1", 2], "token": other}),
            "not strings",
        ),
        (
            json!({"seat_id": "C1", "seat_ids": ["C2"], "token": other}),
            "both forms",
        ),
        (json!({"token": other}), "no seat at all"),
    ] {
        let answer = stack.api.post_json("/api/seats/select", body).await;
        // 422 when the body does not fit the request's shape, as for every route.
        assert!(
            [400, 422].contains(&answer.status) && answer.code() == "VALIDATION_ERROR",
            "{why}: {} {:?}",
            answer.status,
            answer.body
        );
    }
    let unknown = group(&stack, "select", &["C1", "Z99"], &other).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "UNKNOWN_SEAT".into())
    );
    let forged = group(&stack, "select", &["C1"], "v1.forged.token").await;
    assert_eq!(forged.code(), "UNAUTHORIZED");
    assert_eq!(stack.seat_status("C1").await["status"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_holds_expire_together() {
    let stack = Stack::start(&[("HOLD_SECONDS", "1")]).await;
    let alice = token();
    assert_eq!(
        group(&stack, "select", &["D1", "D2", "D3"], &alice)
            .await
            .code(),
        "OK"
    );
    let expired = || {
        stack
            .events
            .matching(|e| e.reason == Some(shared::ReleaseReason::Expired))
    };
    assert!(testkit::eventually(Duration::from_secs(4), || expired().len() == 3).await);
    let mut seats: Vec<String> = expired().into_iter().map(|e| e.seat_id).collect();
    seats.sort();
    assert_eq!(seats, ["D1", "D2", "D3"]);
    // The count went back with them: a new group of four fits.
    assert_eq!(
        group(&stack, "select", &["E1", "E2", "E3", "E4"], &alice)
            .await
            .code(),
        "OK"
    );
}

/// 200 clients each ask for a group of 2 to 4 seats, overlapping their neighbours', all at once.
/// Nobody holds part of a group; every refusal names seats that were in the way when it was
/// judged (held by another, and before any other seat of the group that another won); and the
/// kept events replay to the final state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_clients_race_for_overlapping_groups_all_or_nothing() {
    let stack = Stack::start(&[]).await;
    let ids: Vec<String> = (b'A'..=b'J')
        .flat_map(|row| (1..=10).map(move |col| format!("{}{col}", row as char)))
        .collect();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |below: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below as u64) as usize
    };
    let requests: Vec<(String, Vec<String>)> = (0..200)
        .map(|_| {
            let size = 2 + next(3);
            let start = next(ids.len() - size);
            (token(), ids[start..start + size].to_vec())
        })
        .collect();
    let stack_ref = &stack;
    let answers = join_all(requests.iter().map(|(t, seats)| {
        let seats: Vec<&str> = seats.iter().map(String::as_str).collect();
        async move { group(stack_ref, "select", &seats, t).await }
    }))
    .await;

    let (seq, final_state) = snapshot(&stack).await;
    let page = history(&stack).await;
    assert_eq!(page.to, seq);
    let held_seq: HashMap<&str, u64> = page
        .events
        .iter()
        .map(|e| (e.seat_id.as_str(), e.seq))
        .collect();
    let mut winners = 0;
    for ((token, seats), answer) in requests.iter().zip(&answers) {
        let me = json!(shared::TokenSigner::new(testkit::token_secret())
            .unwrap()
            .verify(token)
            .unwrap()
            .user_id());
        let mine: BTreeSet<&str> = seats
            .iter()
            .map(String::as_str)
            .filter(|s| final_state[*s].1 == me)
            .collect();
        match answer.code().as_str() {
            "OK" => {
                winners += 1;
                assert_eq!(mine.len(), seats.len(), "an OK group is held whole");
            }
            "SEAT_UNAVAILABLE" => {
                assert!(mine.is_empty(), "a refused client holds none of its group");
                let named = named(answer);
                assert!(!named.is_empty());
                let last_in_the_way = named
                    .iter()
                    .map(|s| {
                        assert!(seats.contains(s), "{s} is not in the group {seats:?}");
                        assert_eq!(final_state[s].0, 1, "{s} was named but is not held");
                        held_seq[s.as_str()]
                    })
                    .max()
                    .unwrap();
                for seat in seats.iter().filter(|s| !named.contains(s)) {
                    assert!(
                        final_state[seat].0 == 0 || held_seq[seat.as_str()] > last_in_the_way,
                        "{seat} was held before the refusal of {seats:?} but not named in {named:?}"
                    );
                }
            }
            other => panic!("unexpected answer {other}: {:?}", answer.body),
        }
    }
    assert!(winners > 0);

    // Events replay, in seq order, to the final state; each seat is held once at most.
    assert_eq!(page.events.len() as u64, seq);
    let mut replayed: HashMap<String, (u64, Value)> = HashMap::new();
    for (i, event) in page.events.iter().enumerate() {
        assert_eq!(event.seq, i as u64 + 1);
        assert_eq!(event.kind, EventKind::Held);
        let previous = replayed.insert(
            event.seat_id.clone(),
            (SeatStatus::Held as u64, json!(event.user_id)),
        );
        assert!(previous.is_none(), "{} held twice", event.seat_id);
    }
    for (seat, (status, holder)) in &final_state {
        match replayed.get(seat) {
            Some(state) => assert_eq!(state, &(*status, holder.clone()), "{seat}"),
            None => assert_eq!(*status, 0, "{seat}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiting_room_applies_to_groups_as_to_one_seat() {
    let stack = Stack::start(&[("MAX_SHOPPERS", "1")]).await;
    let (shopper, waiting) = (token(), token());
    for t in [&shopper, &waiting] {
        let joined = stack
            .api
            .post_json("/api/queue/join", json!({"token": t}))
            .await;
        assert_eq!(joined.status, 200, "{:?}", joined.body);
    }
    let refused = group(&stack, "select", &["F1", "F2"], &waiting).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "NOT_ADMITTED".into())
    );
    assert_eq!(stack.seat_status("F1").await["status"], 0);
    let held = group(&stack, "select", &["F1", "F2"], &shopper).await;
    assert_eq!(held.code(), "OK", "{:?}", held.body);
}
