//! `BOOKING_URL` and `NATS_URL` as lists: with the first of each dead (a port nothing listens
//! on), the edge loads the venue, answers commands, reports presence and fans changes out through
//! the second.

use std::time::Duration;

use shared::ws::ServerMessage;

use super::support::{Backend, Viewer, ViewerStanding};
use super::MACHINE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_first_booking_and_nats_urls_dead_everything_goes_through_the_second() {
    let _machine = MACHINE.read().await;
    let mut backend = Backend::start_with(
        0,
        &[],
        &[("MAX_SHOPPERS", "1"), ("SHOPPING_SECONDS", "300")],
    )
    .await;
    let booking = format!(
        "http://127.0.0.1:{},{}",
        testkit::free_port(),
        backend.booking_url
    );
    let nats = format!(
        "nats://127.0.0.1:{},{}",
        testkit::free_port(),
        backend.nats.url()
    );
    let edge = backend
        .start_edge(&[("BOOKING_URL", &booking), ("NATS_URL", &nats)])
        .await;
    backend.edges.push(edge);

    // The snapshot (VENUE_STATE) and the presence report (ADMITTED, QUEUE) came through.
    // One after the other: two sockets opened back to back may join in either order.
    let mut shopper = Viewer::connect_as(&backend.ws_url(0), &testkit::token()).await;
    assert!(matches!(
        shopper.first_standing(Duration::from_secs(5)).await,
        ViewerStanding::Admitted(_)
    ));
    let mut waiting = Viewer::connect_as(&backend.ws_url(0), &testkit::token()).await;
    assert_eq!(
        waiting.first_standing(Duration::from_secs(5)).await,
        ViewerStanding::Queue(1)
    );
    for client in [&shopper, &waiting] {
        client
            .wait_for("VENUE_STATE", |m| matches!(m, ServerMessage::VenueState(_)))
            .await;
    }

    // Commands are answered by the second booking service; the change reaches the other
    // client over the second NATS server.
    assert_eq!(shopper.command("SELECT_SEAT", "C3").await, "OK");
    waiting
        .wait_for(
            "the update",
            |m| matches!(m, ServerMessage::SeatUpdate(u) if u.seat_id == "C3"),
        )
        .await;
    assert_eq!(waiting.command("SELECT_SEAT", "C4").await, "NOT_ADMITTED");
    assert_eq!(shopper.command("BOOK_SEAT", "C3").await, "OK");
    assert_eq!(backend.truth().await.1["C3"].0, 2);
    for client in [&shopper, &waiting] {
        assert_eq!(client.violations(), Vec::<String>::new());
    }
    let logs = backend.edges[0].logs();
    assert!(
        logs.contains("booking service failed; passing it over"),
        "the dead booking URL was tried and passed over"
    );
}
