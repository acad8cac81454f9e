//! Clients of a real edge while changes stream in as fast as the booking service takes them: a
//! reader that falls behind is resynchronised (and closed with 1008 only when it keeps falling
//! behind), nothing follows the close frame of a client that closes, and nothing of the old
//! venue follows a switch to another. Each race is run hundreds of times, on raw sockets.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};
use shared::{SeqTracker, StateCheck, UpdateCheck};
use support::raw::{self, Frame, RawWs};
use support::Backend;

/// Select and release, over and over, by `workers` users on a seat each of the default venue,
/// until stopped: a steady stream of updates for every viewer.
struct Changes {
    stop: Arc<AtomicBool>,
    made: Arc<AtomicU64>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Changes {
    fn start(backend: &Backend, workers: usize) -> Changes {
        let stop = Arc::new(AtomicBool::new(false));
        let made = Arc::new(AtomicU64::new(0));
        let workers = (0..workers)
            .map(|i| {
                let (api, stop, made) = (backend.api.clone(), stop.clone(), made.clone());
                let seat = format!("{}{}", (b'A' + (i / 10) as u8) as char, 1 + i % 10);
                tokio::spawn(async move {
                    let token = testkit::token();
                    while !stop.load(Ordering::Relaxed) {
                        for verb in ["select", "release"] {
                            assert_eq!(api.seat(verb, &seat, &token).await.code(), "OK");
                            made.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        Changes {
            stop,
            made,
            workers,
        }
    }

    /// Stops the stream and returns how many changes it made.
    async fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for worker in std::mem::take(&mut self.workers) {
            worker.await.expect("a change failed");
        }
        self.made.load(Ordering::Relaxed)
    }
}

impl Drop for Changes {
    /// A test that failed halfway stops its stream too.
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.abort();
        }
    }
}

/// What a raw client has applied, checked as each frame arrives: updates one by one from the
/// last `VENUE_STATE`, which never goes back within its epoch.
#[derive(Default)]
struct View {
    position: SeqTracker,
    seats: HashMap<String, (u64, Value)>,
    states: usize,
    updates: usize,
}

impl View {
    fn seq(&self) -> u64 {
        self.position.seq().unwrap_or(0)
    }

    fn apply(&mut self, frame: &Frame) {
        match frame.kind() {
            "VENUE_STATE" => {
                let epoch = frame.data()["epoch"].as_u64().expect("an epoch");
                let check = self.position.state(epoch, frame.seq());
                assert!(
                    !matches!(check, StateCheck::WentBack { .. }),
                    "VENUE_STATE went back: {check:?} to {}",
                    frame.seq()
                );
                self.seats = support::seats_of(&frame.data()["seats"]);
                self.states += 1;
            }
            "SEAT_UPDATE" => {
                assert!(self.states > 0, "an update before any VENUE_STATE");
                let check = self.position.update(frame.seq());
                assert_eq!(
                    check,
                    UpdateCheck::Next,
                    "updates one by one, in order: {}",
                    frame.seq()
                );
                let data = frame.data();
                let seat = data["seat_id"].as_str().unwrap().to_owned();
                let status = data["status"].as_u64().unwrap();
                self.seats.insert(seat, (status, data["held_by"].clone()));
                self.updates += 1;
            }
            _ => {}
        }
    }
}

/// Reads and applies frames until `pred` matches one (returned); a close frame fails the test.
async fn read_until(ws: &mut RawWs, view: &mut View, pred: impl Fn(&Frame) -> bool) -> Frame {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = ws
            .reader
            .next_within(left.max(Duration::from_millis(1)))
            .await
            .expect("the connection stays open");
        assert!(
            !matches!(frame, Frame::Close(..)),
            "closed while it should be resynchronised: {frame:?}"
        );
        view.apply(&frame);
        if pred(&frame) {
            return frame;
        }
    }
}

/// Waits, reading nothing, until the edge has found its `lags`-th client too far behind.
async fn until_lagged(backend: &Backend, lags: f64) {
    let deadline = Instant::now() + Duration::from_secs(9);
    while backend
        .edge_metric(0, "edge_slow_client_resyncs_total")
        .await
        < lags
    {
        assert!(
            Instant::now() < deadline,
            "the edge never found the stalled reader too far behind (lag {lags})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_falls_behind_is_resynchronised_and_the_fourth_time_closed_with_1008() {
    let backend = Backend::start_without_fsync(1, &[]).await;
    // A small receive buffer, so what the reader does not read backs up at the edge soon.
    let mut ws = RawWs::connect(backend.edges[0].port, Some(4096), &[]).await;
    ws.send(&raw::text("CONNECT", json!({}))).await;
    let mut view = View::default();
    read_until(&mut ws, &mut view, |f| f.kind() == "VENUE_STATE").await;

    let changes = Changes::start(&backend, 6);
    // It stops reading while the updates flow, until the edge finds its backlog full; then it
    // reads on: what was queued, one fresh VENUE_STATE, and the updates after it.
    until_lagged(&backend, 1.0).await;
    read_until(&mut ws, &mut view, |f| f.kind() == "VENUE_STATE").await;
    let resynced_at = view.seq();
    read_until(&mut ws, &mut view, |f| {
        f.kind() == "SEAT_UPDATE" && f.seq() >= resynced_at + 20
    })
    .await;
    let made = changes.stop().await;
    let (truth_seq, truth) = backend.truth().await;
    while view.seq() < truth_seq {
        read_until(&mut ws, &mut view, |f| f.kind() == "SEAT_UPDATE").await;
    }
    assert_eq!(
        (view.seq(), &view.seats),
        (truth_seq, &truth),
        "it shows the truth"
    );
    assert_eq!(view.states, 2, "the first VENUE_STATE and one resync");
    println!(
        "{made} changes; the reader got {} updates and was resynchronised at seq {resynced_at}",
        view.updates
    );

    // Falling behind again twice more within the minute is resynchronised the same way; the
    // fourth time, it gets what was queued, then close 1008, and nothing after that.
    let changes = Changes::start(&backend, 6);
    for lag in 2..=3 {
        until_lagged(&backend, lag as f64).await;
        read_until(&mut ws, &mut view, |f| f.kind() == "VENUE_STATE").await;
        assert_eq!(view.states, lag + 1);
    }
    until_lagged(&backend, 4.0).await;
    let mut frames = Vec::new();
    while let Some(frame) = ws.reader.next_within(Duration::from_secs(10)).await {
        frames.push(frame);
    }
    changes.stop().await;
    let Some((last, before)) = frames.split_last() else {
        panic!("nothing arrived after the fourth lag")
    };
    assert_eq!(
        last,
        &Frame::Close(1008, "too slow to keep up".into()),
        "the close frame, last"
    );
    for frame in before {
        view.apply(frame);
        assert!(!matches!(frame, Frame::Close(..)), "{frame:?}");
    }
    assert_eq!(view.states, 4, "no VENUE_STATE after the fourth lag");
    assert_eq!(
        backend
            .edge_metric(0, "edge_slow_clients_dropped_total")
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_client_closes_during_a_stream_of_updates_nothing_follows_the_answering_close() {
    let backend = Backend::start_without_fsync(1, &[]).await;
    let port = backend.edges[0].port;
    let changes = Changes::start(&backend, 6);
    // 12 clients at a time, 250 closes each, every one right after an update arrived while more
    // are on their way. (An update slipping in between the answering close and the end of the
    // socket is a window of microseconds: this many closes are needed to see it at all.)
    let within = Duration::from_secs(10);
    let outcomes = join_all((0..12).map(|_| async move {
        let mut bad = Vec::new();
        for _ in 0..250 {
            let mut ws = RawWs::connect(port, None, &[]).await;
            ws.send(&raw::text("CONNECT", json!({}))).await;
            ws.reader.until(within, |f| f.kind() == "VENUE_STATE").await;
            ws.reader.until(within, |f| f.kind() == "SEAT_UPDATE").await;
            ws.send(&raw::close(1000)).await;
            let mut after = Vec::new();
            while let Some(frame) = ws.reader.next_within(within).await {
                after.push(frame);
            }
            // Updates already on their way, then the close with the client's code, then the end.
            let closes = after
                .iter()
                .filter(|f| matches!(f, Frame::Close(..)))
                .count();
            if closes != 1 || after.last() != Some(&Frame::Close(1000, String::new())) {
                bad.push(after);
            }
        }
        bad
    }))
    .await;
    let made = changes.stop().await;
    let bad: Vec<Vec<Frame>> = outcomes.into_iter().flatten().collect();
    let summary = |frames: &Vec<Frame>| -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Close(code, _) => format!("close {code}"),
                f => format!("{} {}", f.kind(), f.data()["seq"]),
            })
            .collect()
    };
    assert!(
        bad.is_empty(),
        "{} of 3000 closes were not answered by a close frame, last; the first had {:?}",
        bad.len(),
        summary(&bad[0])
    );
    println!("3000 closes during {made} changes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_switch_to_another_venue_no_update_of_the_old_one_arrives() {
    let venues = [("VENUES", "main:10x10,other:10x10")];
    let backend = Backend::start_without_fsync(1, &venues).await;
    let port = backend.edges[0].port;
    let changes = Changes::start(&backend, 6);
    // 20 clients at a time, 15 switches each from `main` (where the changes are) to `other`
    // and back, each switch while main's updates arrive.
    let within = Duration::from_secs(10);
    let leaks = join_all((0..20).map(|_| async move {
        let mut leaks = Vec::new();
        let mut ws = RawWs::connect(port, None, &[]).await;
        ws.send(&raw::text("CONNECT", json!({}))).await;
        let mut view = View::default();
        for _ in 0..15 {
            // Two frames per switch: paced under the limit of 20 a second.
            let paced = tokio::time::sleep(Duration::from_millis(120));
            for frame in ws.reader.until(within, |f| f.kind() == "SEAT_UPDATE").await {
                view.apply(&frame);
            }
            ws.send(&raw::text("CONNECT", json!({"venue": "other"})))
                .await;
            let switching = ws
                .reader
                .until(within, |f| {
                    f.kind() == "VENUE_STATE" && f.venue() == "other"
                })
                .await;
            ws.send(&raw::text("CONNECT", json!({"venue": "main"})))
                .await;
            let back = ws
                .reader
                .until(within, |f| f.kind() == "VENUE_STATE" && f.venue() == "main")
                .await;
            // From the WELCOME for `other` until the one for `main`, nothing of main.
            let mut on_other = false;
            for frame in switching.iter().chain(&back) {
                match (frame.kind(), frame.venue()) {
                    ("WELCOME", venue) => on_other = venue == "other",
                    ("SEAT_UPDATE", "main") if on_other => leaks.push(frame.seq()),
                    ("SEAT_UPDATE", "main") => view.apply(frame),
                    ("ERROR", _) => panic!("{frame:?}"),
                    _ => {}
                }
            }
            view.apply(back.last().unwrap());
            paced.await;
        }
        leaks
    }))
    .await;
    let made = changes.stop().await;
    let leaked: Vec<u64> = leaks.iter().flatten().copied().collect();
    assert!(
        leaked.is_empty(),
        "{} of 300 switches had updates of main after the WELCOME for other: seqs {leaked:?}",
        leaks.iter().filter(|l| !l.is_empty()).count()
    );
    println!("300 switches during {made} changes");
}
