//! Gaps and epochs: events lost, repeated or reordered between NATS and the edges are filled
//! from the booking service's history without resending the whole venue; an event the venue
//! never reached changes nothing; a Redis that lost everything starts a new epoch that every
//! viewer follows.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use shared::ws::ServerMessage;

use crate::support::{assert_all_converge, Backend, Viewer};

/// Changes at about `per_second` through the HTTP API, from a few users over a few seats.
async fn steady_changes(backend: &Backend, count: usize, per_second: u64) {
    let tokens: Vec<String> = (0..4).map(|_| testkit::token()).collect();
    let pause = Duration::from_millis(1000 / per_second);
    for i in 0..count {
        let token = &tokens[i % tokens.len()];
        let seat = format!("{}{}", (b'A' + (i % 4) as u8) as char, 1 + (i / 4) % 8);
        let verb = if (i / 16) % 2 == 0 {
            "select"
        } else {
            "release"
        };
        let answer = backend.api.seat(verb, &seat, token).await.code();
        assert!(
            ["OK", "SEAT_UNAVAILABLE", "NOT_HOLDER", "MAX_HOLDS_EXCEEDED"]
                .contains(&answer.as_str()),
            "{verb} {seat}: {answer}"
        );
        tokio::time::sleep(pause).await;
    }
}

/// Every update a viewer got is the one after the one before, from its VENUE_STATE on.
fn assert_one_by_one(client: &Viewer, from: u64, to: u64, who: &str) {
    let seqs = client.update_seqs();
    let expected: Vec<u64> = (from + 1..=to).collect();
    assert_eq!(seqs, expected, "{who} got every seq once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_lost_repeated_or_reordered_on_the_way_reach_every_viewer_once_and_in_order() {
    let backend = Backend::start_linked(2).await;
    let viewers = join_all((0..8).map(|i| Viewer::ready_owned(backend.ws_url(i % 2)))).await;
    let start_seq = backend.truth().await.0;
    // Lose every 7th event, send every 5th twice, hold every 3rd back behind the next one.
    backend.link().set(7, 5, 3);
    steady_changes(&backend, 60, 20).await;
    assert_all_converge(&backend, &viewers, Duration::from_secs(3)).await;
    let (_, seq, _) = backend.truth_with_epoch().await;
    for (i, viewer) in viewers.iter().enumerate() {
        assert_one_by_one(viewer, start_seq, seq, &format!("viewer {i}"));
        assert_eq!(
            viewer.venue_states(),
            1,
            "viewer {i} never got the whole map again"
        );
    }
    for edge in 0..2 {
        let fills = backend.edge_metric(edge, "edge_history_fills_total").await;
        let rebuilds = backend.edge_metric(edge, "edge_venue_resyncs_total").await;
        assert!(
            fills >= 1.0,
            "edge {edge} filled gaps from history ({fills})"
        );
        assert_eq!(
            rebuilds, 1.0,
            "edge {edge} fetched the whole venue only at start"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_venue_never_reached_changes_nothing_for_viewers() {
    let backend = Backend::start_linked(2).await;
    let mut viewers = vec![
        Viewer::ready(&backend.ws_url(0)).await,
        Viewer::ready(&backend.ws_url(1)).await,
    ];
    assert_eq!(viewers[0].command("SELECT_SEAT", "A1").await, "OK");
    assert_all_converge(&backend, &viewers, Duration::from_secs(2)).await;
    // A confused publisher announces a change far ahead of the venue.
    let (epoch, seq, _) = backend.truth_with_epoch().await;
    let forged = json!({"type": "booked", "venue": "main", "seq": seq + 40, "seat_id": "J10",
        "status": 2, "user_id": "u-000000000000", "ts_ms": 1, "epoch": epoch});
    let nats = async_nats::connect(backend.edge_nats.as_ref().unwrap().url())
        .await
        .unwrap();
    nats.publish("seats.main.booked", forged.to_string().into())
        .await
        .unwrap();
    nats.flush().await.unwrap();
    // Real changes go on; the viewers see them, in order, and never the forged one.
    steady_changes(&backend, 10, 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_all_converge(&backend, &viewers, Duration::from_secs(3)).await;
    for viewer in &viewers {
        assert_eq!(viewer.seats()["J10"].0, 0);
        assert_eq!(viewer.venue_states(), 1);
    }
    viewers.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn past_the_kept_history_viewers_get_one_venue_state_and_then_only_newer_updates() {
    let backend = Backend::start_linked_with(1, &[("EVENT_HISTORY", "10")]).await;
    let viewers = join_all((0..3).map(|_| Viewer::ready_owned(backend.ws_url(0)))).await;
    // 200 changes the edge never hears of: far more than the ~110 the stream keeps.
    backend.link().cut.store(true, Ordering::Relaxed);
    let tokens: Vec<String> = (0..100).map(|_| testkit::token()).collect();
    let seats: Vec<String> = (b'A'..=b'J')
        .flat_map(|r| (1..=10).map(move |c| format!("{}{c}", r as char)))
        .collect();
    for verb in ["select", "release"] {
        let answers = join_all(
            seats
                .iter()
                .zip(&tokens)
                .map(|(seat, token)| backend.api.seat(verb, seat, token)),
        )
        .await;
        assert!(answers.iter().all(|a| a.code() == "OK"));
    }
    // Then the link heals and changes go on: the gap shows, the history cannot fill it, and
    // the viewers get the whole venue once, followed only by what is newer.
    backend.link().cut.store(false, Ordering::Relaxed);
    steady_changes(&backend, 20, 20).await;
    assert_all_converge(&backend, &viewers, Duration::from_secs(5)).await;
    for (i, viewer) in viewers.iter().enumerate() {
        assert_eq!(
            viewer.venue_states(),
            2,
            "viewer {i}: the first and one resync"
        );
    }
    assert!(backend.edge_metric(0, "edge_history_gone_total").await >= 1.0);
    assert_eq!(
        backend.edge_metric(0, "edge_venue_resyncs_total").await,
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_redis_loses_everything_every_viewer_shows_the_new_epoch_within_3_s() {
    let backend = Backend::start(2, &[]).await;
    let viewers = join_all((0..6).map(|i| Viewer::ready_owned(backend.ws_url(i % 2)))).await;
    let token = testkit::token();
    for seat in ["A1", "A2", "B1"] {
        assert_eq!(backend.api.seat("select", seat, &token).await.code(), "OK");
    }
    assert_eq!(backend.api.seat("book", "A2", &token).await.code(), "OK");
    assert_all_converge(&backend, &viewers, Duration::from_secs(2)).await;
    let (old_epoch, old_seq, _) = backend.truth_with_epoch().await;
    assert_eq!(old_seq, 4);

    backend.redis.cli(&["FLUSHALL"]);
    let wiped = Instant::now();
    // Nothing else happens: the edges find out by themselves, and every viewer is shown the
    // new truth (an empty venue at seq 0 of a new epoch) within 3 s.
    let ok = testkit::eventually(Duration::from_secs(3), || {
        viewers.iter().all(|v| v.epoch() != Some(old_epoch))
    })
    .await;
    assert!(ok, "every viewer got the new epoch within 3 s");
    println!("viewers had the new epoch after {:?}", wiped.elapsed());
    assert_all_converge(&backend, &viewers, Duration::from_secs(1)).await;
    let (epoch, seq, seats) = backend.truth_with_epoch().await;
    assert!(epoch != old_epoch && seq == 0, "a new epoch, seq restarted");
    assert!(seats.values().all(|(status, _)| *status == 0));
    // Changes in the new epoch flow as usual.
    assert_eq!(backend.api.seat("select", "C3", &token).await.code(), "OK");
    assert_all_converge(&backend, &viewers, Duration::from_secs(2)).await;
    for viewer in &viewers {
        let last_state = viewer.last(|m| match m {
            ServerMessage::VenueState(s) => Some((s.epoch, s.seq)),
            _ => None,
        });
        assert_eq!(last_state, Some((epoch, 0)));
        assert_eq!(viewer.seq(), Some(1));
    }
}
