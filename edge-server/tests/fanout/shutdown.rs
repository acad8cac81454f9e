//! Shutting an edge down: every socket gets close 1001 promptly, whatever its commands wait for
//! and whatever the edge cannot reach.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use shared::ws::ServerMessage;

use crate::support::{Backend, Stall, Viewer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_waiting_on_a_hung_booking_service_does_not_hold_up_the_edges_shutdown() {
    let mut backend = Backend::start(0, &[]).await;
    let stall = Stall::start(&backend.booking_url).await;
    let edge = backend.start_edge(&[("BOOKING_URL", &stall.url)]).await;
    backend.edges.push(edge);
    let idle = Viewer::ready(&backend.ws_url(0)).await;
    let busy = Viewer::ready(&backend.ws_url(0)).await;

    // The booking service stops answering (without closing anything) while a command is on
    // its way: the edge would wait up to its 5 s booking timeout for the answer.
    stall.stalled.store(true, Ordering::Relaxed);
    busy.send("SELECT_SEAT", json!({"seat_id": "A1", "req_id": "stuck"}));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let asked = Instant::now();
    assert!(
        backend.edges[0].terminate(),
        "SIGTERM ends the edge with status 0"
    );
    let took = asked.elapsed();
    for (who, client) in [("idle", &idle), ("busy", &busy)] {
        testkit::eventually(Duration::from_secs(5), || {
            client.view.lock().unwrap().closed.is_some()
        })
        .await;
        let closed = client.view.lock().unwrap().closed.clone();
        assert_eq!(closed.map(|c| c.0), Some(1001), "{who} client");
    }
    assert!(
        busy.last(|m| match m {
            ServerMessage::Ok(ok) => Some(ok.req_id.clone()),
            _ => None,
        })
        .is_none(),
        "the stuck command was never answered"
    );
    println!("the edge stopped {took:?} after SIGTERM, with a command still waiting");
    assert!(
        took < Duration::from_millis(3_500),
        "the edge stopped within 3.5 s of SIGTERM, not after the command's 5 s timeout: {took:?}"
    );
}

/// The bound docs/reliability.md promises for a stop after SIGTERM, whatever is down.
const STOP_BOUND: Duration = service_runner::stop::STOP_BOUND;

/// Waits for `client`'s socket to be closed and returns its close code.
async fn close_code(client: &Viewer) -> Option<u16> {
    testkit::eventually(Duration::from_secs(5), || {
        client.view.lock().unwrap().closed.is_some()
    })
    .await;
    client.view.lock().unwrap().closed.clone().map(|c| c.0)
}

/// Kills NATS under an edge with a client, then stops the edge with `signal`.
async fn stop_an_edge_whose_nats_is_gone(signal: &str) {
    let mut backend = Backend::start(1, &[]).await;
    let client = Viewer::ready(&backend.ws_url(0)).await;
    backend.nats.stop();
    // Long enough for the edge to have lost its NATS connection.
    let lost = testkit::eventually(Duration::from_secs(10), || {
        backend.edges[0].logs().contains("NATS disconnected")
    })
    .await;
    assert!(lost, "the edge never noticed NATS was gone");
    let (clean, took) = backend.edges[0].stop_timed(signal);
    assert!(clean, "SIG{signal} ends the edge with status 0");
    assert!(
        took < STOP_BOUND,
        "the edge took {took:?} to stop on SIG{signal} without NATS"
    );
    assert_eq!(close_code(&client).await, Some(1001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_whose_nats_is_gone_stops_within_the_bound_closing_its_sockets_with_1001() {
    stop_an_edge_whose_nats_is_gone("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_an_edge_whose_nats_is_gone_within_the_bound() {
    stop_an_edge_whose_nats_is_gone("INT").await;
}

/// The booking service the edge was talking to dies (`kill -9` as the wire sees it: every
/// connection reset, the port refusing) while a client watches and after commands went through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_whose_booking_service_was_killed_stops_within_the_bound() {
    let mut backend = Backend::start(0, &[]).await;
    let service = Stall::start(&backend.booking_url).await;
    let edge = backend.start_edge(&[("BOOKING_URL", &service.url)]).await;
    backend.edges.push(edge);
    let client = Viewer::ready(&backend.ws_url(0)).await;
    client.send("SELECT_SEAT", json!({"seat_id": "A1", "req_id": "before"}));
    client
        .wait_for(
            "the select answered",
            |m| matches!(m, ServerMessage::Ok(ok) if ok.req_id == json!("before")),
        )
        .await;
    service.kill();
    client.send("SELECT_SEAT", json!({"seat_id": "A2", "req_id": "after"}));
    client
        .wait_for(
            "the select refused",
            |m| matches!(m, ServerMessage::Error(e) if e.req_id == json!("after")),
        )
        .await;
    let (clean, took) = backend.edges[0].terminate_timed();
    assert!(clean, "SIGTERM ends the edge with status 0");
    assert!(
        took < STOP_BOUND,
        "the edge took {took:?} to stop without its booking service"
    );
    assert_eq!(close_code(&client).await, Some(1001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_that_cannot_reach_the_booking_service_stops_within_the_bound() {
    let backend = Backend::start(0, &[]).await;
    let nowhere = format!("http://127.0.0.1:{}", testkit::process::free_port());
    let mut edge = testkit::process::ServiceProcess::start(
        crate::support::EDGE_BINARY,
        &[("BOOKING_URL", nowhere), ("NATS_URL", backend.nats.url())],
    )
    .await;
    let client = Viewer::connect(&format!("ws://127.0.0.1:{}/ws", edge.port)).await;
    client
        .wait_for("WELCOME", |m| matches!(m, ServerMessage::Welcome(_)))
        .await;
    let (clean, took) = edge.terminate_timed();
    assert!(clean, "SIGTERM ends the edge with status 0");
    assert!(
        took < STOP_BOUND,
        "the edge took {took:?} to stop without its booking service"
    );
    assert_eq!(close_code(&client).await, Some(1001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_whose_nats_is_silent_stops_within_the_bound() {
    let mut backend = Backend::start(1, &[]).await;
    let client = Viewer::ready(&backend.ws_url(0)).await;
    // Frozen, as behind a cut link: no FIN, no answer.
    backend.nats.freeze();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (clean, took) = backend.edges[0].terminate_timed();
    backend.nats.thaw();
    assert!(clean, "SIGTERM ends the edge with status 0");
    assert!(
        took < STOP_BOUND,
        "the edge took {took:?} to stop with NATS silent"
    );
    assert_eq!(close_code(&client).await, Some(1001));
}
