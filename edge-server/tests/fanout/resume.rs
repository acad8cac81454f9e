//! Resuming by seq: a client that reconnects with `after_seq` and its epoch gets exactly the
//! updates it missed when the edge still has them, and a `VENUE_STATE` otherwise.

use std::time::Duration;

use serde_json::json;
use shared::ws::ServerMessage;

use crate::support::{assert_all_converge, Backend, Viewer};
use testkit::Reading;

/// Five changes by someone else, seen by `observer` (so its edge has them).
async fn changes_meanwhile(backend: &Backend, observer: &Viewer) {
    let token = testkit::token();
    for seat in ["B1", "B2", "B3", "B4"] {
        assert_eq!(backend.api.seat("select", seat, &token).await.code(), "OK");
    }
    assert_eq!(backend.api.seat("release", "B2", &token).await.code(), "OK");
    assert_all_converge(
        backend,
        std::slice::from_ref(observer),
        Duration::from_secs(2),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_resumes_inside_the_history_gets_exactly_the_missed_updates() {
    let backend = Backend::start(2, &[]).await;
    let mut clients = vec![
        Viewer::ready(&backend.ws_url(0)).await,
        Viewer::ready(&backend.ws_url(1)).await,
    ];
    assert_eq!(clients[0].command("SELECT_SEAT", "A1").await, "OK");
    assert_all_converge(&backend, &clients, Duration::from_secs(2)).await;
    let first = clients.remove(0);
    let observer = clients.remove(0);
    let (epoch, left_at) = (first.epoch(), first.seq().unwrap());
    first.close();
    changes_meanwhile(&backend, &observer).await;

    // Back on the other edge, with the seq and epoch it had.
    let again = Viewer::resume(&backend.ws_url(1), &first, epoch).await;
    let welcome = again
        .wait_for(
            "the resumed WELCOME",
            |m| matches!(m, ServerMessage::Welcome(w) if w.user_id == first.welcome().user_id),
        )
        .await;
    assert!(matches!(welcome, ServerMessage::Welcome(_)));
    let now_at = backend.truth().await.0;
    assert_eq!(now_at, left_at + 5);
    let clients = vec![again, observer];
    assert_all_converge(&backend, &clients, Duration::from_secs(2)).await;
    let mut again = clients.into_iter().next().unwrap();
    assert_eq!(again.venue_states(), 0, "no VENUE_STATE");
    assert_eq!(
        again.update_seqs(),
        (left_at + 1..=now_at).collect::<Vec<_>>(),
        "exactly the missed updates"
    );
    // Live updates follow, and the identity (with its hold) is the same.
    assert_eq!(again.command("BOOK_SEAT", "A1").await, "OK");
    assert_all_converge(
        &backend,
        std::slice::from_ref(&again),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(again.update_seqs().last(), Some(&(now_at + 1)));
    assert_eq!(again.venue_states(), 0);

    // Resuming with nothing missed sends nothing but the WELCOMEs.
    let idle = Viewer::resume(&backend.ws_url(0), &again, epoch).await;
    idle.wait_for(
        "the resumed WELCOME",
        |m| matches!(m, ServerMessage::Welcome(w) if w.user_id == first.welcome().user_id),
    )
    .await;
    assert_eq!(
        backend
            .api
            .seat("select", "J1", &testkit::token())
            .await
            .code(),
        "OK"
    );
    assert_all_converge(
        &backend,
        std::slice::from_ref(&idle),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(idle.update_seqs(), vec![now_at + 2]);
    assert_eq!(idle.venue_states(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_resumes_outside_the_history_or_from_another_epoch_gets_a_venue_state() {
    let mut backend = Backend::start(2, &[]).await;
    let mut first = Viewer::ready(&backend.ws_url(1)).await;
    assert_eq!(first.command("SELECT_SEAT", "A1").await, "OK");
    assert_all_converge(
        &backend,
        std::slice::from_ref(&first),
        Duration::from_secs(2),
    )
    .await;
    let epoch = first.epoch();
    first.close();
    let observer = Viewer::ready(&backend.ws_url(0)).await;
    changes_meanwhile(&backend, &observer).await;

    // An edge that started after the client left does not have what it missed.
    backend.edges[1].restart().await;
    support_wait_healthy(&backend, 1).await;
    let outside = Viewer::resume(&backend.ws_url(1), &first, epoch).await;
    // A client from another epoch (its seq means nothing now), on an edge that has every update.
    let other_epoch = Viewer::resume(&backend.ws_url(0), &first, epoch.map(|e| e + 1)).await;
    let clients = vec![outside, other_epoch, observer];
    assert_all_converge(&backend, &clients, Duration::from_secs(3)).await;
    for (i, client) in clients[..2].iter().enumerate() {
        assert_eq!(client.venue_states(), 1, "client {i} got the whole venue");
        assert!(client.update_seqs().is_empty());
    }

    // A client claiming a seq the venue never reached gets the whole venue too.
    let truth_seq = backend.truth().await.0;
    let confused = Viewer::connect(&backend.ws_url(0)).await;
    confused.send(
        "CONNECT",
        json!({"venue": "main", "after_seq": truth_seq + 100, "epoch": epoch}),
    );
    let state = confused
        .wait_for("a VENUE_STATE", |m| {
            matches!(m, ServerMessage::VenueState(_))
        })
        .await;
    let ServerMessage::VenueState(state) = state else {
        unreachable!()
    };
    assert_eq!(state.seq, truth_seq);
    for metric in [
        "edge_client_resumes_total",
        "edge_client_resume_misses_total",
    ] {
        let counted = backend.edge_metric(0, metric).await + backend.edge_metric(1, metric).await;
        println!("{metric} {counted}");
    }
    let misses = backend
        .edge_metric(0, "edge_client_resume_misses_total")
        .await
        + backend
            .edge_metric(1, "edge_client_resume_misses_total")
            .await;
    assert!(misses >= 2.0, "{misses}");
}

async fn support_wait_healthy(backend: &Backend, edge: usize) {
    testkit::Api::new(backend.edges[edge].base_url())
        .wait_healthy(crate::support::HEALTHY_WITHIN)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_like_viewer_comes_back_after_its_edge_dies_with_its_identity_and_the_truth() {
    let mut backend = Backend::start(1, &[]).await;
    let viewer = Viewer::spawn(&backend.ws_url(0), Reading::Normal);
    let token = testkit::token();
    assert_eq!(backend.api.seat("select", "C1", &token).await.code(), "OK");
    assert_all_converge(
        &backend,
        std::slice::from_ref(&viewer),
        Duration::from_secs(5),
    )
    .await;
    let identity = viewer.view.lock().unwrap().identity.clone();
    assert!(identity.user_id.is_some(), "a WELCOME: {identity:?}");

    backend.edges[0].kill9();
    // A change it cannot hear of while its edge is down.
    assert_eq!(backend.api.seat("select", "C2", &token).await.code(), "OK");
    backend.edges[0].restart().await;

    assert_all_converge(
        &backend,
        std::slice::from_ref(&viewer),
        Duration::from_secs(10),
    )
    .await;
    let view = viewer.view.lock().unwrap();
    assert!(view.reconnects >= 1, "it reconnected");
    assert_eq!(
        view.identity.user_id, identity.user_id,
        "it kept its identity"
    );
    assert_eq!(view.identity.first_user_id, identity.user_id);
}
