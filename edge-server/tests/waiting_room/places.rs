//! A place belongs to the identity: a waiting client is refused seats on the WebSocket and over
//! HTTP, keeps its place when it reconnects to the other edge (also when its edge is killed),
//! holds one place however many sockets it has, and takes on another identity's place with
//! `CONNECT`. With the room off, clients hear nothing of a queue.

use std::time::Duration;

use serde_json::json;
use shared::ws::{QueuePlace, ServerMessage};

use super::support::{Backend, Viewer, ViewerStanding};
use super::{assert_admitted_in_join_order, MACHINE};

/// The last `QUEUE` a client received.
fn last_queue(client: &Viewer) -> Option<QueuePlace> {
    client.last(|m| match m {
        ServerMessage::Queue(q) => Some(q.clone()),
        _ => None,
    })
}

/// Opens one socket per token, one after another over both edges (starting with `first_edge`),
/// each waiting for its first standing.
async fn join_in_order(backend: &Backend, tokens: &[String], first_edge: usize) -> Vec<Viewer> {
    let mut clients = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let client = Viewer::connect_as(&backend.ws_url((first_edge + i) % 2), token).await;
        client.first_standing(Duration::from_secs(5)).await;
        clients.push(client);
    }
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_identity_is_refused_seats_and_keeps_one_place_across_edges_and_sockets() {
    let _machine = MACHINE.read().await;
    let backend = Backend::start_with(
        2,
        &[],
        &[("MAX_SHOPPERS", "1"), ("SHOPPING_SECONDS", "300")],
    )
    .await;
    let tokens: Vec<String> = (0..4).map(|_| testkit::token()).collect();
    let mut clients = join_in_order(&backend, &tokens, 0).await;
    let firsts: Vec<ViewerStanding> = clients.iter().map(|c| c.standings()[0]).collect();
    assert!(
        matches!(firsts[0], ViewerStanding::Admitted(_)),
        "{firsts:?}"
    );
    assert_eq!(
        firsts[1..],
        [
            ViewerStanding::Queue(1),
            ViewerStanding::Queue(2),
            ViewerStanding::Queue(3)
        ]
    );
    assert_eq!(last_queue(&clients[3]).unwrap().size, 3);

    // Waiting: no seat, on the WebSocket or over HTTP. The shopper may.
    assert_eq!(
        clients[1].command("SELECT_SEAT", "A1").await,
        "NOT_ADMITTED"
    );
    let http = backend.api.seat("select", "A1", &tokens[1]).await;
    assert_eq!((http.status, http.code().as_str()), (403, "NOT_ADMITTED"));
    assert_eq!(clients[0].command("SELECT_SEAT", "A1").await, "OK");

    // Back on the other edge with its token: the same place.
    clients[1].close();
    let again = Viewer::connect_as(&backend.ws_url(0), &tokens[1]).await;
    assert_eq!(
        again.first_standing(Duration::from_secs(5)).await,
        ViewerStanding::Queue(1)
    );

    // One identity with five sockets over both edges holds one place: the queue does not grow.
    let mut sockets = Vec::new();
    for i in 0..4 {
        let socket = Viewer::connect_as(&backend.ws_url(i % 2), &tokens[2]).await;
        assert_eq!(
            socket.first_standing(Duration::from_secs(5)).await,
            ViewerStanding::Queue(2)
        );
        assert_eq!(last_queue(&socket).unwrap().size, 3);
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(backend.booking_metric("booking_queue_waiting").await, 3.0);
    assert_eq!(
        clients[2].standings(),
        [ViewerStanding::Queue(2)],
        "nothing moved"
    );

    // A socket that takes on another identity with CONNECT (resuming by seq: it stays
    // subscribed) stands where that identity stands.
    let other = Viewer::connect_as(&backend.ws_url(1), &testkit::token()).await;
    assert_eq!(
        other.first_standing(Duration::from_secs(5)).await,
        ViewerStanding::Queue(4)
    );
    let seq = other.seq().expect("a VENUE_STATE");
    other.send(
        "CONNECT",
        json!({"token": tokens[3], "venue": "main", "after_seq": seq}),
    );
    let moved = testkit::eventually(Duration::from_secs(3), || {
        other.standings().last() == Some(&ViewerStanding::Queue(3))
    })
    .await;
    assert!(moved, "{:?}", other.standings());
    clients.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_edge_mid_queue_keeps_every_place_and_the_admission_order() {
    let _machine = MACHINE.read().await;
    let mut backend =
        Backend::start_with(2, &[], &[("MAX_SHOPPERS", "4"), ("SHOPPING_SECONDS", "3")]).await;
    let tokens: Vec<String> = (0..12).map(|_| testkit::token()).collect();
    let clients = join_in_order(&backend, &tokens, 0).await;
    let before: Vec<ViewerStanding> = clients.iter().map(|c| c.standings()[0]).collect();
    let expected: Vec<ViewerStanding> = (1..=8).map(ViewerStanding::Queue).collect();
    assert_eq!(before[4..], expected);

    // kill -9 of the second edge; its clients come back through the first with their tokens.
    backend.edges[1].kill9();
    let dropped = testkit::eventually(Duration::from_secs(5), || {
        clients
            .iter()
            .skip(1)
            .step_by(2)
            .all(|c| c.view.lock().unwrap().closed.is_some())
    })
    .await;
    assert!(dropped, "the killed edge's sockets dropped");
    let mut back = Vec::new();
    for i in (1..12).step_by(2) {
        let client = Viewer::connect_as(&backend.ws_url(0), &tokens[i]).await;
        let first = client.first_standing(Duration::from_secs(5)).await;
        assert_eq!(first, before[i], "client {i} kept its standing");
        back.push((i, client));
    }

    // Every pass ends and the rest are admitted, in the order they first came.
    let first_pass = |i: usize| -> Option<u64> {
        let mut standings = clients[i].standings();
        if let Some((_, client)) = back.iter().find(|(j, _)| *j == i) {
            standings.extend(client.standings());
        }
        standings.into_iter().find_map(|s| match s {
            ViewerStanding::Admitted(until) => Some(until),
            ViewerStanding::Queue(_) => None,
        })
    };
    let all = testkit::eventually(Duration::from_secs(15), || {
        (0..12).all(|i| first_pass(i).is_some())
    })
    .await;
    let passes: Vec<Option<u64>> = (0..12).map(first_pass).collect();
    assert!(all, "everyone admitted: {passes:?}");
    assert_admitted_in_join_order(&passes);
    // Four at a time: the rounds of admission are the join order cut in fours.
    let rounds: Vec<u64> = passes.iter().map(|p| p.unwrap()).collect();
    for round in rounds.chunks(4) {
        assert!(
            round.iter().max().unwrap() - round.iter().min().unwrap() < 1_000,
            "one round: {round:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_room_off_clients_hear_nothing_of_a_queue() {
    let _machine = MACHINE.read().await;
    let backend = Backend::start(2, &[]).await;
    let mut clients = Vec::new();
    for i in 0..4 {
        let client = Viewer::connect_as(&backend.ws_url(i % 2), &testkit::token()).await;
        client
            .wait_for("VENUE_STATE", |m| matches!(m, ServerMessage::VenueState(_)))
            .await;
        clients.push(client);
    }
    assert_eq!(clients[3].command("SELECT_SEAT", "B2").await, "OK");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for client in &clients {
        assert_eq!(client.standings(), []);
    }
    // Learning the room is off took one report per edge; newcomers cost none.
    for edge in 0..2 {
        let reports = backend.edge_metric(edge, "edge_queue_reports_total").await;
        assert!(reports <= 2.0, "edge {edge} sent {reports} reports");
    }
}
