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
    let seats = state.full_seats().expect("a full state");
    assert_eq!(seats.len(), 10_000);
    assert_eq!(seats.last().unwrap().id, "CV100");

    assert_eq!(actor.command("SELECT_SEAT", "cv100").await, "OK");
    let ok = actor
        .last(|m| match m {
            ServerMessage::Ok(ok) => Some(ok.clone()),
            _ => None,
        })
        .unwrap();
    let shared::ws::OkSeats::One { seat_id, .. } = ok.seats else {
        panic!("a one-seat OK: {ok:?}")
    };
    assert_eq!(seat_id, "CV100");
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

/// A socket on `url` watching `venue` in the compact form (read in the chart's seat order), once
/// its state and `MINE` are in.
async fn compact_viewer(url: String, venue: &str, order: std::sync::Arc<[String]>) -> Viewer {
    let viewer = Viewer::connect(&url).await;
    viewer.view.lock().unwrap().seat_order = Some(order);
    viewer.send("CONNECT", json!({"venue": venue, "state": "compact"}));
    viewer
        .wait_for_within(
            std::time::Duration::from_secs(20),
            "MINE",
            |m| matches!(m, ServerMessage::Mine(mine) if mine.venue == venue),
        )
        .await;
    viewer
}

/// Every seat a shipped chart sells is held over WebSocket, then booked or released (one in each
/// `per_socket` booked), across both edges; its blocked seat answers `SEAT_NOT_FOR_SALE`; a
/// watcher on the other edge sees every change, in order.
async fn every_seat_of_a_chart_for_sale_over_websocket(name: &str, per_socket: usize) {
    let chart = testkit::shipped_chart(name);
    let venues = format!("main:10x10,{name}:@{}", chart.path);
    let backend = Backend::start_with(
        2,
        &[],
        &[
            ("VENUES", venues.as_str()),
            ("MAX_HOLDS_PER_USER", "1000"),
            // Each actor holds all its seats before booking or releasing them: on a slow run
            // (a cold debug build sharing two cores) that takes longer than the default 30 s
            // hold, and a release would then find its hold expired (NOT_HOLDER).
            ("HOLD_SECONDS", "600"),
        ],
    )
    .await;
    let (for_sale, blocked) = (&chart.for_sale, &chart.blocked);
    let order: std::sync::Arc<[String]> = for_sale.clone().into();
    let full = Viewer::connect(&backend.ws_url(1)).await;
    full.send("CONNECT", json!({"venue": name}));
    let state = match full
        .wait_for_within(std::time::Duration::from_secs(20), "a full state", |m| {
            matches!(m, ServerMessage::VenueState(_))
        })
        .await
    {
        ServerMessage::VenueState(state) => state,
        _ => unreachable!(),
    };
    full.close();
    assert_eq!(state.layout, shared::Layout::Chart);
    let seats = state.full_seats().expect("a full state");
    let ids: Vec<&str> = seats.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(&ids, for_sale);
    assert!(seats.iter().all(|s| s.row.is_none()));
    let watcher = compact_viewer(backend.ws_url(1), name, order.clone()).await;
    let mut actor = compact_viewer(backend.ws_url(0), name, order.clone()).await;
    assert_eq!(
        actor.command("SELECT_SEAT", blocked).await,
        "SEAT_NOT_FOR_SALE"
    );
    // A socket may send 20 frames a second: the seats are shared among sockets (across both
    // edges), each paced under that limit. Each books its first seat and releases the rest.
    let actors = join_all(
        (0..for_sale.len().div_ceil(per_socket))
            .map(|i| compact_viewer(backend.ws_url(i % 2), name, order.clone())),
    )
    .await;
    let runs =
        actors
            .into_iter()
            .zip(for_sale.chunks(per_socket))
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
    let changes = for_sale.len() * 2;
    let all_seen = testkit::eventually(std::time::Duration::from_secs(20), || {
        watcher.update_seqs().len() >= changes
    })
    .await;
    assert!(
        all_seen,
        "{} of {changes} changes seen",
        watcher.update_seqs().len()
    );
    assert!(
        watcher.violations().is_empty(),
        "{:?}",
        watcher.violations()
    );
    let seats = watcher.seats();
    assert_eq!(seats.len(), for_sale.len());
    let booked = seats.values().filter(|(status, _)| *status == 2).count();
    assert_eq!(booked, for_sale.len().div_ceil(per_socket));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seat_of_the_theatre_for_sale_is_held_and_released_over_websocket() {
    every_seat_of_a_chart_for_sale_over_websocket("theatre", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seat_of_the_arena_for_sale_is_held_and_released_over_websocket() {
    every_seat_of_a_chart_for_sale_over_websocket("arena", 120).await;
}

/// A small generator for the random commands (its seed is printed, so a failure can be
/// replayed with `COMPACT_SEED`).
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("COMPACT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(testkit::viewer::random)
            | 1;
        println!("COMPACT_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Random holds, books and releases by a few identities over HTTP, then, on each edge, a full
/// `VENUE_STATE` and each identity's compact `VENUE_STATE` with its `MINE`, all of the
/// venue's seq: every identity must see the same seats in both forms (status, expiry, whether
/// it is its own). Three rounds, so later states carry what earlier rounds left.
async fn full_and_compact_states_agree_after_random_commands(
    venue: &str,
    venues: &str,
    order: Vec<String>,
) {
    let backend = Backend::start_with(
        2,
        &[],
        &[
            ("VENUES", venues),
            ("MAX_HOLDS_PER_USER", "1000"),
            ("HOLD_SECONDS", "600"),
        ],
    )
    .await;
    let mut rng = Rng::seeded();
    let tokens: Vec<String> = (0..4).map(|_| testkit::token()).collect();
    let signer = testkit::signer();
    let user_ids: Vec<String> = tokens
        .iter()
        .map(|t| signer.verify(t).unwrap().user_id())
        .collect();
    let pool: Vec<&String> = (0..40).map(|_| &order[rng.below(order.len())]).collect();
    let order: std::sync::Arc<[String]> = order.clone().into();
    for round in 0..3 {
        for _ in 0..60 {
            let verb = ["select", "select", "book", "release"][rng.below(4)];
            let body = json!({"seat_id": pool[rng.below(pool.len())],
                "token": tokens[rng.below(tokens.len())], "venue": venue});
            let answer = backend
                .api
                .post_json(&format!("/api/seats/{verb}"), body)
                .await;
            assert!(answer.status < 500, "{verb}: {answer:?}");
        }
        let seq = backend.api.get(&format!("/api/venues/{venue}")).await.body["seq"]
            .as_u64()
            .expect("a seq");
        assert!(seq > 0, "round {round} changed nothing");
        for edge in 0..2 {
            let url = backend.ws_url(edge);
            // Once a viewer has been brought to the venue's seq, so has the edge's mirror: the
            // states that follow are of that seq.
            let tracker = Viewer::connect(&url).await;
            tracker.send("CONNECT", json!({"venue": venue}));
            let caught_up = testkit::eventually(std::time::Duration::from_secs(10), || {
                tracker.view.lock().unwrap().position.seq() == Some(seq)
            })
            .await;
            assert!(caught_up, "edge {edge} did not reach seq {seq}");
            let full = Viewer::connect(&url).await;
            full.send("CONNECT", json!({"venue": venue}));
            let full_state = wait_for_state(&full, venue).await;
            assert_eq!(full_state.seq, seq);
            let full_seats = full_state.full_seats().expect("a full state");
            for (token, user_id) in tokens.iter().zip(&user_ids) {
                let compact = Viewer::connect(&url).await;
                compact.view.lock().unwrap().seat_order = Some(order.clone());
                compact.send(
                    "CONNECT",
                    json!({"venue": venue, "token": token, "state": "compact"}),
                );
                let mine = match compact
                    .wait_for("MINE", |m| matches!(m, ServerMessage::Mine(_)))
                    .await
                {
                    ServerMessage::Mine(mine) => mine,
                    _ => unreachable!(),
                };
                let state = wait_for_state(&compact, venue).await;
                let shared::ws::StateSeats::Compact(seats) = &state.seats else {
                    panic!("a full state after CONNECT {{\"state\":\"compact\"}}");
                };
                assert_eq!((state.seq, mine.seq), (seq, seq));
                assert_eq!(
                    shared::state::seen_in_compact(seats, &mine, &order).unwrap(),
                    shared::state::seen_in_full(full_seats, user_id),
                    "round {round}, edge {edge}, {user_id}"
                );
                assert!(
                    compact.violations().is_empty(),
                    "{:?}",
                    compact.violations()
                );
            }
        }
    }
}

/// The last `VENUE_STATE` of `venue` a viewer got, once it has one.
async fn wait_for_state(viewer: &Viewer, venue: &str) -> shared::ws::VenueState {
    match viewer
        .wait_for(
            &format!("a VENUE_STATE of {venue}"),
            |m| matches!(m, ServerMessage::VenueState(s) if s.venue == venue),
        )
        .await
    {
        ServerMessage::VenueState(state) => state,
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_reads_the_same_in_full_and_compact_after_random_commands() {
    let order = shared::SeatId::all(30, 40)
        .map(|id| id.to_string())
        .collect();
    full_and_compact_states_agree_after_random_commands("main", "main:30x40", order).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arena_reads_the_same_in_full_and_compact_after_random_commands() {
    let arena = testkit::shipped_chart("arena");
    let venues = format!("main:10x10,arena:@{}", arena.path);
    full_and_compact_states_agree_after_random_commands("arena", &venues, arena.for_sale).await;
}

/// Many sockets asking at once for a venue the edge has not opened yet: the edge asks the
/// booking service for it once, and every socket gets its state (no `UNAVAILABLE` because a
/// hundred snapshots of a large venue were fetched side by side).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_joining_a_large_venue_the_edge_has_not_opened_all_get_its_state() {
    let arena = testkit::shipped_chart("arena");
    let venues = format!("main:10x10,arena:@{}", arena.path);
    let backend = Backend::start_with(1, &[], &[("VENUES", venues.as_str())]).await;
    let url = backend.ws_url(0);
    let snapshots = || {
        backend.booking_metric(
            r#"booking_http_requests_total{route="/api/venues/{venue}",status="200"}"#,
        )
    };
    let before = snapshots().await;
    let viewers = join_all((0..100).map(|_| Viewer::connect(&url))).await;
    for viewer in &viewers {
        viewer.send("CONNECT", json!({"venue": "arena", "state": "compact"}));
    }
    for viewer in &viewers {
        viewer
            .wait_for_within(
                std::time::Duration::from_secs(20),
                "the arena's VENUE_STATE",
                |m| matches!(m, ServerMessage::VenueState(s) if s.venue == "arena"),
            )
            .await;
        assert!(
            viewer
                .last(|m| match m {
                    ServerMessage::Error(e) => Some(e.clone()),
                    _ => None,
                })
                .is_none(),
            "an ERROR: {:?}",
            viewer.view.lock().unwrap().messages
        );
    }
    assert_eq!(
        snapshots().await - before,
        1.0,
        "snapshots fetched for the crowd"
    );
}
