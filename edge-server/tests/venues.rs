//! Venues beyond the 10x10 grid through the edges: a grid with rows past Z, its ids whole in
//! every answer and update.

use serde_json::json;
use shared::ws::ServerMessage;

mod support;
use support::{Backend, Viewer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_by_hundred_grid_serves_cv100_over_websocket() {
    let backend = Backend::start_with(1, &[], &[("VENUES", "main:100x100")]).await;
    let watcher = Viewer::ready(&backend.ws_url(0)).await;
    let mut actor = Viewer::ready(&backend.ws_url(0)).await;
    let state = watcher
        .last(|m| match m {
            ServerMessage::VenueState(state) => Some(state.clone()),
            _ => None,
        })
        .expect("a VENUE_STATE");
    assert_eq!(state.seats.len(), 10_000);
    assert_eq!(state.seats.last().unwrap().id, "CV100");

    assert_eq!(actor.command("SELECT_SEAT", "cv100").await, "OK");
    let ok = actor
        .last(|m| match m {
            ServerMessage::Ok(ok) => Some(ok.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(ok.seat_id, "CV100");
    watcher
        .wait_for("CV100 held", |m| {
            matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == "CV100" && u.status == shared::SeatStatus::Held)
        })
        .await;
    assert_eq!(actor.command("BOOK_SEAT", "CV100").await, "OK");
    assert_eq!(actor.command("SELECT_SEAT", "AZ7").await, "OK");
    assert_eq!(actor.command("RELEASE_SEAT", "AZ7").await, "OK");
    watcher
        .wait_for("AZ7 released", |m| {
            matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == "AZ7" && u.status == shared::SeatStatus::Available)
        })
        .await;

    // An id the venue does not have is echoed whole (up to the longest id there can be).
    let long = "abcd12345678";
    assert_eq!(actor.command("SELECT_SEAT", long).await, "UNKNOWN_SEAT");
    let error = actor
        .last(|m| match m {
            ServerMessage::Error(e) => Some(e.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(error.seat_id.as_deref(), Some(long.to_uppercase().as_str()));
    assert!(
        watcher.violations().is_empty(),
        "{:?}",
        watcher.violations()
    );
    let snapshot = backend.api.get("/api/venues/main").await;
    let cv100 = &snapshot.body["seats"][9_999];
    assert_eq!(
        (&cv100["id"], &cv100["status"]),
        (&json!("CV100"), &json!(2))
    );
}
