//! Booking API throughput and latency: each worker has one keep-alive connection and, for a
//! fixed time, alternately holds (with a fresh identity) and releases: its own seat (`seat`), its
//! own group of seats (`group`), or the best block of 2 to 4 seats (`best`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use serde_json::json;

use crate::driver::{available_seat_ids, signer};
use crate::http::{HttpConnection, Target};
use crate::stats::Histogram;
use crate::sys::now_ns;

/// What each worker holds and releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiMode {
    /// `seat_id`: one seat of its own.
    Seat,
    /// `seat_ids`: a group of `--group-size` seats of its own.
    Group,
    /// `POST /api/seats/best` for 2, 3 or 4 seats (by worker), then a release of what it got.
    Best,
}

/// What one worker holds.
#[derive(Debug, Clone)]
enum Unit {
    Seats(Vec<String>),
    Best(usize),
}

/// What the API run measured.
#[derive(Debug, Clone, Default)]
pub struct ApiReport {
    pub concurrency: usize,
    pub seconds: f64,
    /// Measured requests (after the warm-up).
    pub requests: u64,
    pub per_second: f64,
    /// HTTP status (0 = transport error) → count, for every answer that was not 200.
    pub errors: BTreeMap<u16, u64>,
    pub latency: Histogram,
    pub select: Histogram,
    pub release: Histogram,
}

/// What each worker holds: its own seats (`size` each, from the venue's free seats in order), or
/// a best-available count.
async fn worker_units(
    target: &Target,
    venue: &str,
    workers: usize,
    mode: ApiMode,
    size: usize,
) -> anyhow::Result<Vec<Unit>> {
    if mode == ApiMode::Best {
        return Ok((0..workers).map(|i| Unit::Best(2 + i % 3)).collect());
    }
    let size = if mode == ApiMode::Seat {
        1
    } else {
        size.max(1)
    };
    // Seats free now (a filled venue is measured too): a worker owns only seats it can hold.
    let mut probe = HttpConnection::new(target.clone());
    let snapshot = probe.get(&format!("/api/venues/{venue}")).await?;
    if snapshot.status != 200 {
        bail!("GET /api/venues/{venue} answered {}", snapshot.status);
    }
    let seats = available_seat_ids(&serde_json::from_slice(&snapshot.body)?)?;
    if workers * size > seats.len() {
        bail!(
            "{workers} workers need {} seats; venue {venue} has {}",
            workers * size,
            seats.len()
        );
    }
    Ok(seats
        .chunks(size)
        .take(workers)
        .map(|chunk| Unit::Seats(chunk.to_vec()))
        .collect())
}

/// The body of a hold, and of the release that follows it.
fn hold_body(unit: &Unit, token: &str, venue: &str) -> (&'static str, String) {
    match unit {
        Unit::Seats(seats) if seats.len() == 1 => (
            "select",
            json!({"seat_id": seats[0], "token": token, "venue": venue}).to_string(),
        ),
        Unit::Seats(seats) => (
            "select",
            json!({"seat_ids": seats, "token": token, "venue": venue}).to_string(),
        ),
        Unit::Best(count) => (
            "best",
            json!({"count": count, "token": token, "venue": venue}).to_string(),
        ),
    }
}

/// The release of what a hold answered: the same body for one's own seats, the answer's
/// `seat_ids` after best available (none when it was refused).
fn release_body(
    unit: &Unit,
    hold: &str,
    answer: &[u8],
    token: &str,
    venue: &str,
) -> Option<String> {
    match unit {
        Unit::Seats(_) => Some(hold.to_owned()),
        Unit::Best(_) => {
            let answer: serde_json::Value = serde_json::from_slice(answer).ok()?;
            let seat_ids = answer.get("seat_ids")?;
            Some(json!({"seat_ids": seat_ids, "token": token, "venue": venue}).to_string())
        }
    }
}

/// When requests count (CLOCK_MONOTONIC ns): sent from `measure_from`, answered by `stop_at`.
#[derive(Clone, Copy)]
struct Window {
    measure_from: u64,
    stop_at: u64,
}

/// One worker: hold and release its unit over and over on its own connection until the window
/// ends, recording the requests inside it.
async fn worker(
    mut conn: HttpConnection,
    unit: Unit,
    venue: String,
    window: Window,
) -> WorkerResult {
    let mut result = WorkerResult {
        select: Histogram::default(),
        release: Histogram::default(),
        errors: BTreeMap::new(),
    };
    let record = |result: &mut WorkerResult, first: bool, sent: u64, status: u16| {
        let done = now_ns();
        if sent >= window.measure_from && done <= window.stop_at {
            let h = if first {
                &mut result.select
            } else {
                &mut result.release
            };
            h.record(done - sent);
            if status != 200 {
                *result.errors.entry(status).or_default() += 1;
            }
        }
    };
    // Whole pairs only: a worker never stops between its hold and its release.
    while now_ns() < window.stop_at {
        let token = signer().issue();
        let (verb, body) = hold_body(&unit, token.as_str(), &venue);
        let sent = now_ns();
        let (status, answer) = match conn.post_json(&format!("/api/seats/{verb}"), &body).await {
            Ok(r) => (r.status, r.body),
            Err(_) => (0, Vec::new()),
        };
        record(&mut result, true, sent, status);
        let release = (status == 200)
            .then(|| release_body(&unit, &body, &answer, token.as_str(), &venue))
            .flatten();
        if let Some(release) = release {
            let sent = now_ns();
            let status = match conn.post_json("/api/seats/release", &release).await {
                Ok(r) => r.status,
                Err(_) => 0,
            };
            record(&mut result, false, sent, status);
        }
        if status == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    result
}

struct WorkerResult {
    select: Histogram,
    release: Histogram,
    errors: BTreeMap<u16, u64>,
}

/// How an API run loads the service.
#[derive(Debug, Clone)]
pub struct ApiLoad {
    pub booking: String,
    pub venue: String,
    pub mode: ApiMode,
    /// Seats per group (`group` mode).
    pub group_size: usize,
    pub concurrency: usize,
    pub warmup: Duration,
    pub seconds: Duration,
}

/// Runs `concurrency` workers for `warmup + seconds`; only the last `seconds` are measured.
pub async fn run(load: &ApiLoad) -> anyhow::Result<ApiReport> {
    let ApiLoad {
        booking,
        venue,
        concurrency,
        warmup,
        seconds,
        ..
    } = load;
    let (concurrency, warmup, seconds) = (*concurrency, *warmup, *seconds);
    let target = Target::parse(booking)?;
    let seats = worker_units(&target, venue, concurrency, load.mode, load.group_size).await?;
    let start = now_ns();
    let measure_from = start + warmup.as_nanos() as u64;
    let window = Window {
        measure_from,
        stop_at: measure_from + seconds.as_nanos() as u64,
    };
    let workers: Vec<_> = seats
        .into_iter()
        .map(|seat| {
            let connection = HttpConnection::new(target.clone());
            tokio::spawn(worker(connection, seat, venue.to_owned(), window))
        })
        .collect();
    let mut report = ApiReport {
        concurrency,
        seconds: seconds.as_secs_f64(),
        ..ApiReport::default()
    };
    for worker in workers {
        let result = worker.await?;
        report.select.merge(&result.select);
        report.release.merge(&result.release);
        for (status, n) in result.errors {
            *report.errors.entry(status).or_default() += n;
        }
    }
    report.latency.merge(&report.select);
    report.latency.merge(&report.release);
    report.requests = report.latency.count;
    report.per_second = report.requests as f64 / report.seconds;
    Ok(report)
}
