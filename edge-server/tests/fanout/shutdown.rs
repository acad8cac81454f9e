//! Shutting an edge down: every socket gets close 1001 promptly, whatever its commands wait for.

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
