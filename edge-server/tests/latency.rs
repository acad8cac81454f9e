//! The edge's latency histograms after real traffic: each seat command's wait (by action and
//! result) and each event's way from NATS to the sockets, in buckets from 1 ms to 10 s.

mod support;

use std::time::Duration;

use shared::ws::ServerMessage;
use support::{Backend, Viewer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_durations_and_event_delivery_are_measured() {
    let backend = Backend::start(1, &[]).await;
    let mut buyer = Viewer::ready(&backend.ws_url(0)).await;
    let watcher = Viewer::ready(&backend.ws_url(0)).await;
    assert_eq!(buyer.command("SELECT_SEAT", "A1").await, "OK");
    assert_eq!(buyer.command("BOOK_SEAT", "B1").await, "NOT_HOLDER");
    watcher
        .wait_for(
            "the update for A1",
            |m| matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == "A1"),
        )
        .await;

    let base = backend.edges[0].base_url();
    assert_eq!(support::metric(&base, "edge_nats_up").await, 1.0);
    let select_ok = "edge_command_duration_seconds_count{action=\"select\",result=\"OK\"}";
    let book_refused = "edge_command_duration_seconds_count{action=\"book\",result=\"NOT_HOLDER\"}";
    assert_eq!(support::metric(&base, select_ok).await, 1.0);
    assert_eq!(support::metric(&base, book_refused).await, 1.0);
    // Cumulative buckets: the answer took under 10 s, and some took longer than 1 ms or not.
    for le in ["0.5", "10.0", "+Inf"] {
        let bucket = format!(
            "edge_command_duration_seconds_bucket{{le=\"{le}\",action=\"select\",result=\"OK\"}}"
        );
        assert_eq!(support::metric(&base, &bucket).await, 1.0, "bucket le={le}");
    }
    let fastest =
        "edge_command_duration_seconds_bucket{le=\"0.001\",action=\"select\",result=\"OK\"}";
    assert!(support::try_metric(&base, fastest).await.is_some());

    // The hub records a delivery right after writing the update the watcher has read: wait
    // for that record to be made rather than assume it is.
    let count = "edge_event_delivery_seconds_count";
    let mut delivered = 0.0;
    for _ in 0..40 {
        delivered = support::metric(&base, count).await;
        if delivered >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        delivered, 1.0,
        "one event (A1 held) reached the edge's sockets"
    );
    let within_10s = "edge_event_delivery_seconds_bucket{le=\"10.0\"}";
    assert_eq!(
        support::metric(&base, within_10s).await,
        1.0,
        "delivered within 10 s"
    );
}
