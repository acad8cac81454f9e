//! Telling clients how current their edge is: `STATUS` live:false within 5 s of the edge
//! losing NATS (and right after the state of a client that joins meanwhile), live:true once
//! NATS is back and the edge has caught up, with every change made meanwhile in every view.
//! And `PING`, answered `PONG` whenever it comes.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use shared::ws::{NotLiveReason, ServerMessage, Status};

use crate::support::{assert_all_converge, Backend, Viewer};

/// How soon the edge must tell its clients it lost NATS (docs/protocol.md).
const NOTICED_WITHIN: Duration = Duration::from_secs(5);

fn is_status(message: &ServerMessage, live: bool) -> bool {
    matches!(message, ServerMessage::Status(Status { live: l, .. }) if *l == live)
}

/// Where the first message `pick` takes is in what `viewer` received.
fn position(viewer: &Viewer, pick: impl Fn(&ServerMessage) -> bool) -> Option<usize> {
    viewer.view.lock().unwrap().messages.iter().position(pick)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_hear_when_their_edge_loses_nats_and_when_it_has_caught_up() {
    let mut backend = Backend::start(1, &[]).await;
    let url = backend.ws_url(0);
    let mut clients = join_all((0..3).map(|_| Viewer::ready_owned(url.clone()))).await;
    assert_eq!(clients[0].command("SELECT_SEAT", "A1").await, "OK");
    for client in &clients {
        assert_eq!(
            client.view.lock().unwrap().live,
            None,
            "a live edge says nothing"
        );
    }

    backend.nats.stop();
    let killed = Instant::now();
    for client in &clients {
        let status = client
            .wait_for_within(NOTICED_WITHIN, "STATUS live:false", |m| is_status(m, false))
            .await;
        let ServerMessage::Status(status) = status else {
            unreachable!()
        };
        assert_eq!(status.venue, "main");
        assert_eq!(status.reason, Some(NotLiveReason::NatsLost));
    }
    println!("clients told {:?} after NATS was killed", killed.elapsed());

    // Changes while NATS is gone: the booking service keeps them in its outbox.
    let token = testkit::token();
    for seat in ["B2", "B3"] {
        assert_eq!(backend.api.seat("select", seat, &token).await.code(), "OK");
    }
    // A client that joins now gets its state, then the STATUS.
    let late = Viewer::ready(&url).await;
    late.wait_for("STATUS live:false", |m| is_status(m, false))
        .await;
    let state_at = position(&late, |m| matches!(m, ServerMessage::VenueState(_)));
    let status_at = position(&late, |m| is_status(m, false));
    assert!(
        state_at < status_at,
        "the STATUS comes after the state: {state_at:?} < {status_at:?}"
    );

    backend.nats.restart();
    clients.push(late);
    for client in &clients {
        client
            .wait_for_within(Duration::from_secs(10), "STATUS live:true", |m| {
                is_status(m, true)
            })
            .await;
        assert_eq!(client.view.lock().unwrap().live, Some(true));
    }
    assert_eq!(
        backend.api.seat("select", "B4", &token).await.code(),
        "OK",
        "a change after NATS came back"
    );
    assert_all_converge(&backend, &clients, Duration::from_secs(5)).await;
    for (i, client) in clients.iter().enumerate() {
        assert!(
            client.violations().is_empty(),
            "viewer {i}: {:?}",
            client.violations()
        );
    }
}

/// A NATS that answers nothing (frozen, as behind a cut link: no FIN) is noticed by the edge's
/// NATS pings within the same 5 s, and the clients hear it is live again after it thaws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_nats_is_noticed_within_5_s_too() {
    let backend = Backend::start(1, &[]).await;
    let client = Viewer::ready(&backend.ws_url(0)).await;
    backend.nats.freeze();
    let frozen = Instant::now();
    client
        .wait_for_within(NOTICED_WITHIN, "STATUS live:false", |m| is_status(m, false))
        .await;
    println!("told {:?} after NATS froze", frozen.elapsed());
    backend.nats.thaw();
    client
        .wait_for_within(Duration::from_secs(10), "STATUS live:true", |m| {
            is_status(m, true)
        })
        .await;
    assert_all_converge(
        &backend,
        std::slice::from_ref(&client),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_pong_before_and_after_connect() {
    let backend = Backend::start(1, &[]).await;
    let client = Viewer::connect(&backend.ws_url(0)).await;
    client.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"PING"}"#,
    ));
    client
        .wait_for("PONG", |m| matches!(m, ServerMessage::Pong(_)))
        .await;
    client.send("CONNECT", json!({"venue": "main"}));
    client
        .wait_for("VENUE_STATE", |m| matches!(m, ServerMessage::VenueState(_)))
        .await;
    client.send("PING", json!({}));
    let answered = testkit::eventually(Duration::from_secs(5), || {
        client.view.lock().unwrap().pongs == 2
    })
    .await;
    assert!(answered, "the second PING was answered");
    let ServerMessage::Pong(pong) = client
        .last(|m| matches!(m, ServerMessage::Pong(_)).then(|| m.clone()))
        .unwrap()
    else {
        unreachable!()
    };
    let now = shared::now_ms();
    assert!(
        pong.server_time_ms <= now && now - pong.server_time_ms < 5_000,
        "PONG carries the edge's clock"
    );
}
