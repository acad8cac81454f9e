//! The booking service against real redis-server and nats-server processes, spoken to over
//! HTTP as any client would, with every NATS event watched.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};
use shared::{EventKind, ReleaseReason};
use testkit::token;

mod support;
use support::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_clients_race_for_one_seat_and_exactly_one_wins() {
    let stack = Stack::start(&[]).await;
    let tokens: Vec<String> = (0..200).map(|_| token()).collect();
    let answers = join_all(tokens.iter().map(|t| stack.api.seat("select", "E5", t))).await;

    let codes: Vec<String> = answers.iter().map(|a| a.code()).collect();
    assert_eq!(codes.iter().filter(|c| *c == "OK").count(), 1, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "SEAT_UNAVAILABLE").count(),
        199,
        "{codes:?}"
    );
    assert!(answers
        .iter()
        .filter(|a| a.code() != "OK")
        .all(|a| a.status == 409));

    let winner = answers.iter().find(|a| a.code() == "OK").unwrap();
    let held_by = winner.body["seat"]["held_by"].clone();
    assert!(stack.events.wait_for_count(1, Duration::from_secs(2)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = stack
        .events
        .matching(|e| e.kind == EventKind::Held && e.seat_id == "E5");
    assert_eq!(held.len(), 1, "exactly one held event: {held:?}");
    assert_eq!(json!(held[0].user_id), held_by);
    assert_eq!(stack.seat_status("E5").await["held_by"], held_by);
    stack.events.assert_contiguous_from_one();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_seats_with_twenty_contenders_each_get_exactly_one_holder_each() {
    let stack = Stack::start(&[]).await;
    let seats: Vec<String> = (b'A'..=b'J')
        .flat_map(|row| (1..=10).map(move |col| format!("{}{col}", row as char)))
        .collect();
    let attempts: Vec<(String, String)> = seats
        .iter()
        .flat_map(|seat| (0..20).map(move |_| (seat.clone(), token())))
        .collect();
    let answers = join_all(
        attempts
            .iter()
            .map(|(seat, t)| stack.api.seat("select", seat, t)),
    )
    .await;

    let mut winners: HashMap<String, Vec<String>> = HashMap::new();
    for ((seat, t), answer) in attempts.iter().zip(&answers) {
        match answer.code().as_str() {
            "OK" => winners.entry(seat.clone()).or_default().push(t.clone()),
            "SEAT_UNAVAILABLE" => {}
            other => panic!(
                "unexpected answer {other} for {seat}: {:?}\nthe service's log:\n{}",
                answer.body,
                stack.service.logs()
            ),
        }
    }
    assert_eq!(winners.len(), 100, "every seat has a holder");
    assert!(
        winners.values().all(|w| w.len() == 1),
        "no seat has two holders"
    );

    assert!(
        stack
            .events
            .wait_for_count(100, Duration::from_secs(5))
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stack.events.all().len(),
        100,
        "one event per hold, no more; the service's log:\n{}",
        stack.service.logs()
    );
    let snapshot = stack.api.get("/api/venues/main").await.body;
    assert_eq!(snapshot["seq"], 100);
    let holders: HashSet<&str> = snapshot["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["status"], 1, "{s}");
            s["held_by"].as_str().unwrap()
        })
        .collect();
    assert_eq!(holders.len(), 100, "a hundred different holders");
    stack.events.assert_contiguous_from_one();
}

/// A rush waits for Redis while Redis answers (above), but a Redis that answers nothing at all
/// (frozen: its connections stay open) gets every request of a rush answered 503, none left
/// hanging, and once it thaws the seats are sold again as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rush_on_a_frozen_redis_is_answered_503_and_none_is_left_hanging() {
    let stack = Stack::start(&[]).await;
    assert_eq!(stack.api.seat("select", "A1", &token()).await.code(), "OK");
    stack.redis.freeze();
    let attempts: Vec<(String, String)> = (0..1_200)
        .map(|i| {
            (
                format!("{}{}", (b'B' + (i % 9) as u8) as char, 1 + i % 10),
                token(),
            )
        })
        .collect();
    // The first scripts time out after 2 s and every other request is then answered at once:
    // about 2 s in all. Requests sent on in waves as slots come free (128 per 2 s timeout)
    // would take about 20 s; a deadline of 12 s tells the two apart with room for a busy machine.
    let answers = tokio::time::timeout(
        Duration::from_secs(12),
        join_all(
            attempts
                .iter()
                .map(|(seat, t)| stack.api.seat("select", seat, t)),
        ),
    )
    .await
    .expect("every request of the rush is answered while Redis is frozen");
    stack.redis.thaw();
    for ((seat, _), answer) in attempts.iter().zip(&answers) {
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (503, "UNAVAILABLE"),
            "{seat}: {:?}",
            answer.body
        );
    }
    stack.wait_healthy().await;
    // A2 was in no request of the rush. (Scripts already written to the frozen Redis's socket
    // run when it thaws, though their requests were answered 503: the documented cost of a
    // timeout, which the seq check of every edge makes visible to viewers.)
    assert_eq!(stack.api.seat("select", "A2", &token()).await.code(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_book_and_release_and_everyone_else_is_refused_with_a_code() {
    let stack = Stack::start(&[]).await;
    let (alice, bob) = (token(), token());
    let api = &stack.api;

    let first = api.seat("select", "A1", &alice).await;
    assert_eq!(first.code(), "OK");
    let again = api.seat("select", "A1", &alice).await;
    assert_eq!(again.code(), "OK", "selecting a seat you hold succeeds");
    assert_eq!(
        again.body["seat"]["expires_at"], first.body["seat"]["expires_at"],
        "and does not extend it"
    );

    let by_bob = api.seat("book", "A1", &bob).await;
    assert_eq!((by_bob.status, by_bob.code().as_str()), (403, "NOT_HOLDER"));
    let by_bob = api.seat("release", "A1", &bob).await;
    assert_eq!((by_bob.status, by_bob.code().as_str()), (403, "NOT_HOLDER"));
    let never_held = api.seat("book", "A2", &bob).await;
    assert_eq!(never_held.code(), "NOT_HOLDER");

    let booked = api.seat("book", "A1", &alice).await;
    assert_eq!(booked.code(), "OK");
    assert_eq!(booked.body["seat"]["status"], 2);
    assert_eq!(booked.body["seat"].get("expires_at"), None);
    for (verb, who) in [
        ("book", &alice),
        ("book", &bob),
        ("select", &bob),
        ("release", &alice),
    ] {
        let answer = api.seat(verb, "A1", who).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (409, "SEAT_BOOKED"),
            "{verb}"
        );
    }

    for seat in ["B1", "B2", "B3", "B4"] {
        assert_eq!(api.seat("select", seat, &bob).await.code(), "OK", "{seat}");
    }
    let fifth = api.seat("select", "B5", &bob).await;
    assert_eq!(
        (fifth.status, fifth.code().as_str()),
        (409, "MAX_HOLDS_EXCEEDED")
    );
    assert_eq!(
        api.seat("select", "B4", &bob).await.code(),
        "OK",
        "re-selecting a held seat is not a fifth hold"
    );

    let released = api.seat("release", "B1", &bob).await;
    assert_eq!(released.code(), "OK");
    assert_eq!(released.body["seat"]["status"], 0);
    assert_eq!(
        api.seat("select", "B5", &bob).await.code(),
        "OK",
        "a release frees a hold slot"
    );
    assert_eq!(api.seat("book", "B2", &bob).await.code(), "OK");
    assert_eq!(
        api.seat("select", "B6", &bob).await.code(),
        "OK",
        "a booking frees a hold slot"
    );

    // held A1, booked A1, held B1..B4, released B1, held B5, booked B2, held B6 = 10 changes
    assert!(
        stack
            .events
            .wait_for_count(10, Duration::from_secs(3))
            .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = stack.events.all();
    assert_eq!(events.len(), 10, "{events:?}");
    let release = events
        .iter()
        .find(|e| e.kind == EventKind::Released)
        .unwrap();
    assert_eq!(
        (release.seat_id.as_str(), release.reason),
        ("B1", Some(ReleaseReason::Released))
    );
    stack.events.assert_contiguous_from_one();

    let reset = api
        .post_raw("/api/admin/reset", "application/json", "{}")
        .await;
    assert_eq!(
        (reset.status, reset.code().as_str()),
        (401, "UNAUTHORIZED"),
        "reset needs the admin token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_is_announced_within_a_second() {
    let stack = Stack::start(&[("HOLD_SECONDS", "2")]).await;
    let selected_at = Instant::now();
    let answer = stack.api.seat("select", "C3", &token()).await;
    assert_eq!(answer.code(), "OK");

    let expired = stack
        .events
        .wait_for(Duration::from_secs(5), |e| {
            e.reason == Some(ReleaseReason::Expired)
        })
        .await
        .expect("an expiry event");
    let after = selected_at.elapsed();
    assert!(
        after >= Duration::from_millis(1_900),
        "not before the hold ends ({after:?})"
    );
    assert!(
        after <= Duration::from_millis(3_000),
        "within 1 s after the hold ends ({after:?})"
    );
    assert_eq!(expired.seat_id, "C3");
    assert_eq!(expired.status, shared::SeatStatus::Available);
    assert_eq!(stack.seat_status("C3").await["status"], 0);
    // The seat can be taken again, by anyone.
    assert_eq!(stack.api.seat("select", "C3", &token()).await.code(), "OK");
    stack.events.wait_for_count(3, Duration::from_secs(2)).await;
    stack.events.assert_contiguous_from_one();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_is_announced_even_when_the_service_is_killed_during_the_hold() {
    let mut stack = Stack::start(&[("HOLD_SECONDS", "3")]).await;

    // Killed and back up during the hold: announced on time.
    let selected_at = Instant::now();
    assert_eq!(stack.api.seat("select", "D4", &token()).await.code(), "OK");
    stack.service.kill9();
    stack.service.restart().await;
    stack.wait_healthy().await;
    let expired = stack
        .events
        .wait_for(Duration::from_secs(6), |e| {
            e.seat_id == "D4" && e.reason == Some(ReleaseReason::Expired)
        })
        .await
        .expect("expiry of D4 announced after a restart during the hold");
    let after = selected_at.elapsed();
    assert!(
        after <= Duration::from_millis(4_000),
        "within 1 s after the hold ends ({after:?})"
    );
    assert_eq!(expired.seq, 2);

    // Down for the whole end of the hold: announced as soon as it is back.
    assert_eq!(stack.api.seat("select", "D5", &token()).await.code(), "OK");
    stack.service.kill9();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restarted_at = Instant::now();
    stack.service.restart().await;
    let expired = stack
        .events
        .wait_for(Duration::from_secs(5), |e| {
            e.seat_id == "D5" && e.reason == Some(ReleaseReason::Expired)
        })
        .await
        .expect("expiry of D5 announced after the service came back");
    assert!(
        restarted_at.elapsed() <= Duration::from_secs(2),
        "{:?}",
        restarted_at.elapsed()
    );
    assert_eq!(expired.seq, 4);
    // Each kill came right after one change (seq 1, then seq 3) that the relay may have
    // published without recording: at most those two repeat, once each.
    let repeats = stack.events.assert_complete_allowing_identical_repeats();
    assert!(repeats <= 2, "{repeats} repeats");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_coded_error_and_changes_nothing() {
    let stack = Stack::start(&[]).await;
    let api = &stack.api;
    let good = token();
    assert_eq!(api.seat("select", "A1", &good).await.code(), "OK");
    let before = api.get("/api/venues/main").await.body;

    let long_id = "A".repeat(10 * 1024);
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/api/seats/select",
            json!({"seat_id": "A2"}),
            401,
            "UNAUTHORIZED",
        ),
        (
            "/api/seats/select",
            json!({"seat_id": "A2", "token": "short"}),
            401,
            "UNAUTHORIZED",
        ),
        (
            "/api/seats/select",
            json!({"seat_id": "A2", "token": "bad token with spaces!"}),
            401,
            "UNAUTHORIZED",
        ),
        (
            "/api/seats/select",
            json!({"seat_id": "Z99", "token": good}),
            404,
            "UNKNOWN_SEAT",
        ),
        (
            "/api/seats/select",
            json!({"seat_id": "A0", "token": good}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "/api/seats/select",
            json!({"seat_id": "A11", "token": good}),
            404,
            "UNKNOWN_SEAT",
        ),
        (
            "/api/seats/select",
            json!({"seat_id": "", "token": good}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "/api/seats/select",
            json!({"token": good}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "/api/seats/book",
            json!({"seat_id": long_id, "token": good}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "/api/seats/select",
            json!({"seat_id": "A2", "token": good, "venue": "nowhere"}),
            404,
            "UNKNOWN_VENUE",
        ),
        (
            "/api/seats/select",
            json!({"seat_id": 12, "token": good}),
            422,
            "VALIDATION_ERROR",
        ),
        ("/api/seats/release", json!("A1"), 422, "VALIDATION_ERROR"),
        // An array is not an object, even one whose items would fill the fields in order.
        (
            "/api/seats/release",
            json!(["A1", good, "main"]),
            422,
            "VALIDATION_ERROR",
        ),
        ("/api/seats/select", json!([]), 422, "VALIDATION_ERROR"),
    ];
    for (path, body, status, code) in cases {
        let answer = api.post_json(path, body.clone()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{path} {body}: {:?}",
            answer.body
        );
        assert!(answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let raw_cases: Vec<(&str, &str, String, u16)> = vec![
        (
            "/api/seats/select",
            "application/json",
            "{\"seat_id\": \"A2\", ".into(),
            400,
        ),
        ("/api/seats/select", "application/json", "".into(), 400),
        (
            "/api/seats/select",
            "text/plain",
            format!("{{\"seat_id\":\"A2\",\"token\":\"{good}\"}}"),
            415,
        ),
        (
            "/api/seats/select",
            "application/json",
            format!("{{\"seat_id\":\"{}\"}}", "A".repeat(40_000)),
            413,
        ),
    ];
    for (path, content_type, body, status) in raw_cases {
        let answer = api.post_raw(path, content_type, body).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, "VALIDATION_ERROR"),
            "{content_type}: {:?}",
            answer.body
        );
    }
    let unknown_venue = api.get("/api/venues/nowhere").await;
    assert_eq!(
        (unknown_venue.status, unknown_venue.code().as_str()),
        (404, "UNKNOWN_VENUE")
    );
    let not_utf8 = api.get("/api/venues/%ff").await;
    assert_eq!(
        (not_utf8.status, not_utf8.code().as_str()),
        (400, "VALIDATION_ERROR"),
        "{:?}",
        not_utf8.body
    );
    let unknown_route = api.get("/api/nothing").await;
    assert_eq!(
        (unknown_route.status, unknown_route.code().as_str()),
        (404, "NOT_FOUND")
    );

    stack.wait_healthy().await;
    assert_eq!(
        api.get("/api/venues/main").await.body,
        before,
        "no seat changed"
    );
    assert!(stack.events.wait_for_count(1, Duration::from_secs(3)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stack.events.all().len(),
        1,
        "only the good select was announced"
    );
    assert_eq!(
        api.get("/api/seats").await.body.as_array().unwrap().len(),
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_answered_ok_survives_kill_9_of_redis_and_of_the_service() {
    let mut stack = Stack::start(&[]).await;
    let alice = token();
    assert_eq!(stack.api.seat("select", "F6", &alice).await.code(), "OK");
    let booked = stack.api.seat("book", "F6", &alice).await;
    assert_eq!(booked.code(), "OK");
    let booker = booked.body["seat"]["held_by"].clone();

    stack.redis.kill9();
    stack.redis.restart();
    stack.service.kill9();
    stack.service.restart().await;
    stack.wait_healthy().await;

    let seat = stack.seat_status("F6").await;
    assert_eq!(seat["status"], 2, "{seat}");
    assert_eq!(seat["held_by"], booker);
    assert_eq!(
        stack.api.get("/api/venues/main").await.body["seq"],
        2,
        "seq survives too"
    );
    assert_eq!(
        stack.api.seat("select", "F6", &token()).await.code(),
        "SEAT_BOOKED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_answers_503_quickly_nats_down_stops_no_sale_and_both_recover() {
    let mut stack = Stack::start(&[]).await;
    let alice = token();

    stack.redis.kill9();
    let asked = Instant::now();
    let answer = stack.api.seat("select", "G1", &alice).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (503, "UNAVAILABLE"),
        "{}",
        stack.service.logs()
    );
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "no hang: {:?}",
        asked.elapsed()
    );
    let health = stack.api.get("/health").await;
    assert_eq!(health.status, 503);
    assert_eq!(health.body["redis"], "down");
    stack.redis.restart();
    stack.wait_healthy().await;
    assert_eq!(stack.api.seat("select", "G1", &alice).await.code(), "OK");

    stack.nats.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    let health = loop {
        let health = stack.api.get("/health").await;
        if health.status == 503 || Instant::now() > deadline {
            break health;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((health.status, &health.body["nats"]), (503, &json!("down")));
    // Sales go on while NATS is down: the event waits in the outbox.
    assert_eq!(stack.api.seat("book", "G1", &alice).await.code(), "OK");
    assert_eq!(stack.seat_status("G1").await["status"], 2);
    stack.nats.restart();
    stack.wait_healthy().await;
    let booked = stack
        .events
        .wait_for(Duration::from_secs(5), |e| e.kind == EventKind::Booked)
        .await
        .expect("the booking made while NATS was down is announced once it is back");
    assert_eq!(booked.seat_id, "G1");
    // Every seq arrives, and a repeat carries the same bytes. A repeat of seq 1 is what the
    // relay promises, not a fault: when it published seq 1 before NATS stopped, it publishes
    // it again after the reconnect (REPLAY_WINDOW) in case the crash lost it. Only seq 1 was
    // published before NATS stopped, so at most that one repeats.
    let repeats = stack.events.assert_complete_allowing_identical_repeats();
    assert!(repeats <= 1, "{repeats} repeats");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reset_releases_every_seat_with_numbered_events_and_sigterm_stops_cleanly() {
    let mut stack = Stack::start(&[]).await;
    let alice = token();
    for seat in ["H1", "H2"] {
        assert_eq!(stack.api.seat("select", seat, &alice).await.code(), "OK");
    }
    assert_eq!(stack.api.seat("book", "H1", &alice).await.code(), "OK");

    let wrong = stack.api.admin_reset("", "nope").await;
    assert_eq!(wrong.status, 401);
    // A misspelt or mangled venue is refused, never read as "every venue".
    for query in ["venu=main", "venue[]=main"] {
        let mangled = stack.api.admin_reset(query, "admin-secret").await;
        assert_eq!(
            (mangled.status, mangled.code().as_str()),
            (400, "VALIDATION_ERROR"),
            "{query}: {:?}",
            mangled.body
        );
    }
    let reset = stack.api.admin_reset("", "admin-secret").await;
    assert_eq!(reset.status, 200);
    assert_eq!(reset.body, json!({"ok": true, "released": 2}));

    assert!(stack.events.wait_for_count(5, Duration::from_secs(3)).await);
    let resets = stack
        .events
        .matching(|e| e.reason == Some(ReleaseReason::Reset));
    assert_eq!(resets.len(), 2);
    let snapshot = stack.api.get("/api/venues/main").await.body;
    assert!(snapshot["seats"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == 0));
    assert_eq!(snapshot["seq"], 5);
    stack.events.assert_contiguous_from_one();

    assert!(
        stack.service.terminate(),
        "SIGTERM ends the service with status 0"
    );
}

/// Sends a request head declaring a 100-byte body, then trickles the body one byte every 3 s;
/// reads what comes back until the service closes the connection (or 20 s pass).
async fn trickled_body(base: &str) -> (String, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    write
        .write_all(b"POST /api/seats/select HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if write.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut answer)).await;
    trickle.abort();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408_and_the_connection_is_not_held() {
    let stack = Stack::start(&[]).await;
    // A byte every 3 s keeps a per-read timer alive forever; the deadline is for the whole body.
    let (answer, took) = trickled_body(&stack.api.base).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"VALIDATION_ERROR\""), "{answer}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(
        stack.seat_status("A1").await["status"],
        0,
        "nothing changed"
    );
}
