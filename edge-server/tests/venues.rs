//! Venues beyond the 10x10 grid through the edges: a grid with rows past Z, its ids whole in
//! every answer and update.

use futures_util::future::join_all;
use serde_json::json;
use shared::ws::ServerMessage;

mod support;
use support::{Backend, Viewer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_by_hundred_grid_serves_cv100_over_websocket() {
    let backend = Backend::start_with(1, &[], &[("VENUES", "main:100x100")]).await;
    let watcher = Viewer::ready(&backend.ws_url(0)).await;
    let mut actor = Viewer::ready(&backend.ws_url(0)).await;
    let state = watcher.venue_state().expect("a VENUE_STATE");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seat_of_a_chart_for_sale_is_held_and_released_over_websocket() {
    let theatre = testkit::shipped_chart("theatre");
    let venues = format!("main:10x10,theatre:@{}", theatre.path);
    let backend = Backend::start_with(
        2,
        &[("DEFAULT_VENUE", "theatre")],
        &[("VENUES", venues.as_str()), ("MAX_HOLDS_PER_USER", "1000")],
    )
    .await;
    let (for_sale, blocked) = (&theatre.for_sale, &theatre.blocked);
    let watcher = Viewer::ready(&backend.ws_url(1)).await;
    let mut actor = Viewer::ready(&backend.ws_url(0)).await;
    let state = watcher.venue_state().expect("a VENUE_STATE");
    assert_eq!(state.layout, shared::Layout::Chart);
    let ids: Vec<&str> = state.seats.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(&ids, for_sale);
    assert!(state.seats.iter().all(|s| s.row.is_none()));

    assert_eq!(
        actor.command("SELECT_SEAT", blocked).await,
        "SEAT_NOT_FOR_SALE"
    );
    // A socket may send 20 frames a second: the seats are shared among sockets (ten each,
    // across both edges), each paced under that limit. Each books its first seat and
    // releases the rest.
    let actors = join_all(
        (0..for_sale.len().div_ceil(10)).map(|i| Viewer::ready_owned(backend.ws_url(i % 2))),
    )
    .await;
    let runs = actors
        .into_iter()
        .zip(for_sale.chunks(10))
        .map(|(mut actor, seats)| async move {
            let pace = || tokio::time::sleep(std::time::Duration::from_millis(60));
            for id in seats {
                assert_eq!(
                    actor.command("SELECT_SEAT", &id.to_lowercase()).await,
                    "OK",
                    "{id}"
                );
                pace().await;
            }
            for (i, id) in seats.iter().enumerate() {
                let verb = if i == 0 { "BOOK_SEAT" } else { "RELEASE_SEAT" };
                assert_eq!(actor.command(verb, id).await, "OK", "{verb} {id}");
                pace().await;
            }
        });
    join_all(runs).await;
    let last = for_sale.last().unwrap().clone();
    watcher
        .wait_for("the last release", |m| {
            matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == last && u.status == shared::SeatStatus::Available)
        })
        .await;
    assert!(
        watcher.violations().is_empty(),
        "{:?}",
        watcher.violations()
    );
    assert_eq!(watcher.update_seqs().len(), for_sale.len() * 2);
    let seats = watcher.seats();
    assert_eq!(seats.len(), for_sale.len());
}
