//! Every change reaches NATS, in seq order, whatever dies: the outbox, the relay, the history
//! endpoint and the venue epoch, against real redis-server, nats-server and service processes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::Value;
use shared::{EventKind, SeatEvent};
use testkit::{token, Api, ServiceProcess};

mod support;
use support::{Stack, BINARY};

/// Seat names of a venue 10 rows wide, by index.
fn seat(index: usize, cols: usize) -> String {
    format!(
        "{}{}",
        (b'A' + (index / cols) as u8) as char,
        index % cols + 1
    )
}

/// Replays events (first arrival of each seq, in seq order) into `(status, user)` per seat.
fn replay(events: &[SeatEvent]) -> BTreeMap<String, (u8, Option<String>)> {
    let mut by_seq: BTreeMap<u64, &SeatEvent> = BTreeMap::new();
    for event in events {
        by_seq.entry(event.seq).or_insert(event);
    }
    let mut seats = BTreeMap::new();
    for event in by_seq.values() {
        seats.insert(
            event.seat_id.clone(),
            (u8::from(event.status), event.held_by()),
        );
    }
    seats.retain(|_, (status, _)| *status != 0);
    seats
}

/// The non-available seats of a snapshot, as `(status, held_by)`.
fn taken_seats(snapshot: &Value) -> BTreeMap<String, (u8, Option<String>)> {
    snapshot["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] != 0)
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                (
                    s["status"].as_u64().unwrap() as u8,
                    s["held_by"].as_str().map(str::to_owned),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_change_reaches_nats_across_fifty_kill_9_rounds() {
    // A fixed SERVICE_ID: the restarted process resumes its own relay lease at once.
    let mut stack = Stack::start(&[
        ("VENUES", "main:10x20"),
        ("SERVICE_ID", "booking-under-test"),
        ("USER_RATE_LIMIT", "1000"),
    ])
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(2))
        .build()
        .unwrap();
    let mut answered_ok = 0;
    for round in 0..50 {
        let seats: Vec<String> = (0..4).map(|i| seat(round * 4 + i, 20)).collect();
        let user = token();
        let api = &stack.api;
        let burst = join_all(seats[..3].iter().map(|s| api.seat("select", s, &user))).await;
        for answer in &burst {
            assert_eq!(answer.code(), "OK", "round {round}: {:?}", answer.body);
        }
        assert_eq!(api.seat("release", &seats[0], &user).await.code(), "OK");
        assert_eq!(api.seat("book", &seats[1], &user).await.code(), "OK");
        if round % 5 == 0 {
            // A request whose client gives up at once: it may or may not commit, and if it
            // does, its event must still be announced.
            let _ = impatient
                .post(format!("{}/api/seats/release", api.base))
                .json(&serde_json::json!({"seat_id": seats[2], "token": user}))
                .send()
                .await;
        }
        assert_eq!(api.seat("select", &seats[3], &user).await.code(), "OK");
        answered_ok += 5;
        // Killed right after an OK: its event may not have reached NATS yet.
        stack.service.kill9();
        stack.service.restart().await;
        stack.wait_healthy().await;
    }
    let snapshot = stack.api.get("/api/venues/main").await.body;
    let last = snapshot["seq"].as_u64().unwrap();
    assert!(last >= answered_ok, "{last} changes numbered");
    assert!(
        stack
            .events
            .wait_for(Duration::from_secs(5), |e| e.seq == last)
            .await
            .is_some(),
        "the last change (seq {last}) reached NATS\n{}",
        stack.service.logs()
    );
    let repeats = stack.events.assert_complete_allowing_identical_repeats();
    println!("50 kill -9 rounds: seqs 1..={last} all on NATS, {repeats} repeated");
    assert_eq!(
        replay(&stack.events.all()),
        taken_seats(&snapshot),
        "replaying the events gives the venue's true state"
    );
    // Each payload is the outbox's, byte for byte.
    let kept = stack
        .api
        .get(&format!("/api/venues/main/events?after={}", last - 20))
        .await;
    assert_eq!(kept.status, 200, "{:?}", kept.body);
    let payloads = stack.events.payloads();
    for event in kept.body["events"].as_array().unwrap() {
        assert!(
            payloads
                .iter()
                .any(|p| serde_json::from_str::<Value>(p).unwrap() == *event),
            "{event} was published as kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sales_go_on_for_ten_seconds_without_nats_and_every_event_then_arrives_in_order() {
    let mut stack = Stack::start(&[("USER_RATE_LIMIT", "1000")]).await;
    assert_eq!(stack.api.seat("select", "A1", &token()).await.code(), "OK");
    assert!(stack.events.wait_for_count(1, Duration::from_secs(3)).await);

    stack.nats.stop();
    let outage = Instant::now();
    let users: Vec<String> = (0..25).map(|_| token()).collect();
    let mut ok = 0;
    for (n, user) in users.iter().enumerate() {
        let seats: Vec<String> = (0..4).map(|i| seat(1 + n * 4 + i, 10)).collect();
        for s in seats.iter().filter(|s| s.as_str() != "K1") {
            if stack.api.seat("select", s, user).await.code() == "OK" {
                ok += 1;
            }
        }
    }
    for (n, user) in users.iter().enumerate() {
        for i in 0..4 {
            let s = seat(1 + n * 4 + i, 10);
            if s != "K1" && stack.api.seat("release", &s, user).await.code() == "OK" {
                ok += 1;
            }
        }
    }
    assert_eq!(ok, 198, "every command succeeded while NATS was down");
    let health = stack.api.get("/health").await;
    assert_eq!(
        (health.status, health.body["nats"].as_str()),
        (503, Some("down"))
    );
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(outage.elapsed())).await;
    stack.nats.restart();

    assert!(
        stack
            .events
            .wait_for_count(1 + 198, Duration::from_secs(10))
            .await,
        "all events arrive once NATS is back: {} of 199\n{}",
        stack.events.all().len(),
        stack.service.logs()
    );
    // At least once: an event handed to NATS in the instant it died may arrive again after
    // the relay retries it, with the same seq and payload. Order is never broken.
    let seqs: Vec<u64> = stack.events.all().iter().map(|e| e.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] <= w[1]),
        "in seq order: {seqs:?}"
    );
    let repeats = stack.events.assert_complete_allowing_identical_repeats();
    println!("NATS down for 10 s: 199 events in order after it returned, {repeats} repeated");
    assert!(
        repeats <= 1,
        "only what was in flight when NATS died repeats: {seqs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_endpoint_serves_missed_events_and_says_when_they_are_gone() {
    let stack = Stack::start(&[("EVENT_HISTORY", "10"), ("USER_RATE_LIMIT", "1000")]).await;
    let api = &stack.api;
    let user = token();
    // With only 10 events kept, a relay that falls more than a few dozen changes behind (its
    // first round waiting for NATS, a loaded machine) finds them trimmed and skips them, as
    // documented. This test is about the history endpoint, so it lets NATS take each pair first.
    for n in 0..150 {
        let s = seat(n % 100, 10);
        assert_eq!(api.seat("select", &s, &user).await.code(), "OK");
        assert_eq!(api.seat("release", &s, &user).await.code(), "OK");
        assert!(
            stack
                .events
                .wait_for_count(2 * (n + 1), Duration::from_secs(10))
                .await,
            "pair {n} reached NATS: {}",
            stack.service.logs()
        );
    }
    stack.events.assert_contiguous_from_one();

    let gone = api.get("/api/venues/main/events?after=0").await;
    assert_eq!((gone.status, gone.code().as_str()), (410, "HISTORY_GONE"));

    let recent = api.get("/api/venues/main/events?after=295").await;
    assert_eq!(recent.status, 200, "{:?}", recent.body);
    assert_eq!(recent.body["venue"], "main");
    assert_eq!(
        (recent.body["from"].as_u64(), recent.body["to"].as_u64()),
        (Some(296), Some(300))
    );
    let events = recent.body["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![296, 297, 298, 299, 300]);
    let published = stack.events.payloads();
    for (event, payload) in events.iter().zip(&published[295..]) {
        assert_eq!(
            *event,
            serde_json::from_str::<Value>(payload).unwrap(),
            "the NATS payload, as published"
        );
    }
    let epoch = recent.body["epoch"].as_u64().unwrap();
    assert!(events.iter().all(|e| e["epoch"].as_u64() == Some(epoch)));
    assert_eq!(
        api.get("/api/venues/main").await.body["epoch"].as_u64(),
        Some(epoch),
        "snapshots carry the same epoch"
    );

    let check = api.get("/api/venues/main/events?after=300&limit=0").await;
    assert_eq!(
        (
            check.body["to"].as_u64(),
            check.body["events"].as_array().map(Vec::len)
        ),
        (Some(300), Some(0))
    );
    let two = api.get("/api/venues/main/events?after=290&limit=2").await;
    assert_eq!(two.body["events"].as_array().map(Vec::len), Some(2));
    let ahead = api.get("/api/venues/main/events?after=301").await;
    assert_eq!((ahead.status, ahead.code().as_str()), (410, "HISTORY_GONE"));
    for bad in ["after=abc", "after=-1", "after=1.5", "", "after=1&limit=x"] {
        let answer = api.get(&format!("/api/venues/main/events?{bad}")).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (400, "VALIDATION_ERROR"),
            "{bad}"
        );
    }
    let unknown = api.get("/api/venues/nowhere/events?after=0").await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (404, "UNKNOWN_VENUE")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_booking_service_takes_the_relay_over_when_the_first_dies() {
    let mut stack = Stack::start(&[("SERVICE_ID", "booking-one")]).await;
    let second = ServiceProcess::start(
        BINARY,
        &[
            ("REDIS_URL", stack.redis.url()),
            ("NATS_URL", stack.nats.url()),
            ("SERVICE_ID", "booking-two".into()),
        ],
    )
    .await;
    let other = Api::new(second.base_url());
    other.wait_healthy(Duration::from_secs(10)).await;
    assert_eq!(stack.api.seat("select", "A1", &token()).await.code(), "OK");
    assert_eq!(other.seat("select", "A2", &token()).await.code(), "OK");
    assert!(stack.events.wait_for_count(2, Duration::from_secs(3)).await);
    assert_eq!(
        stack.redis.cli(&["GET", "relay:{main}"]),
        "booking-one",
        "one relay per venue"
    );

    stack.service.kill9();
    let killed = Instant::now();
    assert_eq!(other.seat("select", "A3", &token()).await.code(), "OK");
    let announced = stack
        .events
        .wait_for(Duration::from_secs(5), |e| e.seat_id == "A3")
        .await;
    let took = killed.elapsed();
    assert!(announced.is_some(), "{}", second.logs());
    println!("relay taken over and the change announced {took:?} after kill -9");
    assert!(took < Duration::from_millis(2_500), "took over in {took:?}");
    assert_eq!(stack.redis.cli(&["GET", "relay:{main}"]), "booking-two");
    // Only the two changes before the kill can have been published and not recorded.
    let repeats = stack.events.assert_complete_allowing_identical_repeats();
    assert!(repeats <= 2, "{repeats} repeats");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_redis_starts_a_new_epoch_with_seq_one() {
    let stack = Stack::start(&[]).await;
    assert_eq!(stack.api.seat("select", "B2", &token()).await.code(), "OK");
    let first = stack
        .events
        .wait_for(Duration::from_secs(3), |e| e.kind == EventKind::Held)
        .await
        .unwrap();
    assert_eq!(first.seq, 1);

    stack.redis.cli(&["FLUSHALL"]);
    // Epochs are milliseconds: make sure the new one cannot be the same number.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let snapshot = stack.api.get("/api/venues/main").await.body;
    assert_eq!(snapshot["seq"], 0, "the data is gone");
    let epoch = snapshot["epoch"].as_u64().unwrap();
    assert!(
        epoch > first.epoch,
        "a new epoch: {epoch} after {}",
        first.epoch
    );
    assert_eq!(stack.api.seat("select", "C3", &token()).await.code(), "OK");
    let again = stack
        .events
        .wait_for(Duration::from_secs(3), |e| e.seat_id == "C3")
        .await
        .expect("changes after the wipe are announced");
    assert_eq!((again.seq, again.epoch), (1, epoch));
    let stale = stack.api.get("/api/venues/main/events?after=1").await;
    assert_eq!(stale.status, 200);
    let ahead = stack.api.get("/api/venues/main/events?after=7").await;
    assert_eq!(
        ahead.code(),
        "HISTORY_GONE",
        "a client from the old epoch must resync"
    );
}

/// The bound docs/reliability.md promises for a stop after SIGTERM, whatever is down.
const STOP_BOUND: Duration = service_runner::stop::STOP_BOUND;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_stops_within_the_bound_with_nats_gone() {
    let mut stack = Stack::start(&[]).await;
    assert_eq!(stack.api.seat("select", "A1", &token()).await.code(), "OK");
    stack.nats.stop();
    // A change made while NATS is gone waits in the outbox; the stop must not wait for it.
    assert_eq!(stack.api.seat("select", "A2", &token()).await.code(), "OK");
    let (clean, took) = stack.service.terminate_timed();
    assert!(clean, "SIGTERM ends the service with status 0");
    assert!(
        took < STOP_BOUND,
        "the service took {took:?} to stop without NATS"
    );
}

/// Kills Redis under the service after a command went through, then stops it with `signal`.
async fn stop_the_service_with_redis_gone(signal: &str) {
    let mut stack = Stack::start(&[]).await;
    assert_eq!(stack.api.seat("select", "A1", &token()).await.code(), "OK");
    stack.redis.kill9();
    assert_eq!(
        stack.api.seat("select", "A2", &token()).await.code(),
        "UNAVAILABLE"
    );
    let (clean, took) = stack.service.stop_timed(signal);
    assert!(clean, "SIG{signal} ends the service with status 0");
    assert!(
        took < STOP_BOUND,
        "the service took {took:?} to stop on SIG{signal} without Redis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_stops_within_the_bound_with_redis_gone() {
    stop_the_service_with_redis_gone("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_the_service_within_the_bound_with_redis_gone() {
    stop_the_service_with_redis_gone("INT").await;
}

/// A Redis that answers nothing (frozen, as behind a cut link) holds up no stop either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_stops_within_the_bound_with_redis_and_nats_silent() {
    let mut stack = Stack::start(&[]).await;
    assert_eq!(stack.api.seat("select", "A1", &token()).await.code(), "OK");
    stack.redis.freeze();
    stack.nats.freeze();
    // A command on its way when the stop is asked for.
    let api = stack.api.clone();
    let waiting = tokio::spawn(async move { api.seat("select", "A2", &token()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (clean, took) = stack.service.terminate_timed();
    stack.redis.thaw();
    stack.nats.thaw();
    let _ = waiting.await;
    let logs = stack.service.logs();
    let tail: Vec<&str> = logs.lines().rev().take(12).collect();
    assert!(
        clean,
        "SIGTERM ends the service with status 0; its last lines: {tail:#?}"
    );
    assert!(
        took < STOP_BOUND,
        "the service took {took:?} to stop with Redis and NATS silent"
    );
}
