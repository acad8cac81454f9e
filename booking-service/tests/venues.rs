//! Venues beyond the 10x10 grid, against real Redis and NATS: grid rows past Z, and the ids of
//! every venue echoed whole in answers, events and snapshots.

use std::time::Duration;

use serde_json::json;
use shared::EventKind;
use testkit::token;

mod support;
use support::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_by_hundred_grid_serves_cv100_end_to_end() {
    let stack = Stack::start(&[("VENUES", "main:100x100")]).await;
    let user = token();
    let seat = |verb: &'static str, id: &'static str| {
        let api = stack.api.clone();
        let user = user.clone();
        async move {
            api.post_json(
                &format!("/api/seats/{verb}"),
                json!({"seat_id": id, "token": user, "venue": "main"}),
            )
            .await
        }
    };

    // Lower case is accepted and answered in the canonical form.
    let held = seat("select", "cv100").await;
    assert_eq!(held.code(), "OK", "{:?}", held.body);
    assert_eq!(held.body["seat"]["id"], "CV100");
    assert_eq!(held.body["seat"]["row"], 99);
    assert_eq!(held.body["seat"]["col"], 99);
    let booked = seat("book", "CV100").await;
    assert_eq!(booked.code(), "OK", "{:?}", booked.body);
    assert_eq!(booked.body["seat"]["status"], 2);
    let again = seat("release", "CV100").await;
    assert_eq!(again.code(), "SEAT_BOOKED", "{:?}", again.body);
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CV100"),
        "{:?}",
        again.body
    );

    let other = seat("select", "AA1").await;
    assert_eq!(other.code(), "OK", "{:?}", other.body);
    let released = seat("release", "aa1").await;
    assert_eq!(released.code(), "OK", "{:?}", released.body);

    let beyond = seat("select", "CW1").await;
    assert_eq!(
        (beyond.status, beyond.code()),
        (404, "UNKNOWN_SEAT".to_string())
    );
    assert!(
        beyond.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CW1"),
        "{:?}",
        beyond.body
    );

    let snapshot = stack.api.get("/api/venues/main").await;
    assert_eq!(snapshot.body["rows"], 100);
    assert_eq!(snapshot.body["cols"], 100);
    let seats = snapshot.body["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 10_000);
    let last = seats.last().unwrap();
    assert_eq!(
        (&last["id"], &last["row"], &last["col"], &last["status"]),
        (&json!("CV100"), &json!(99), &json!(99), &json!(2))
    );

    assert!(stack.events.wait_for_count(4, Duration::from_secs(2)).await);
    let kinds: Vec<(EventKind, String)> = stack
        .events
        .all()
        .into_iter()
        .map(|e| (e.kind, e.seat_id))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Held, "CV100".to_string()),
            (EventKind::Booked, "CV100".to_string()),
            (EventKind::Held, "AA1".to_string()),
            (EventKind::Released, "AA1".to_string()),
        ]
    );
}
