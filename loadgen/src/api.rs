//! Booking API throughput and latency: each worker owns one seat and one keep-alive connection,
//! and alternately selects it (with a fresh identity) and releases it, for a fixed time.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use serde_json::json;

use crate::driver::{signer, venue_seat_ids};
use crate::http::{HttpConnection, Target};
use crate::stats::Histogram;
use crate::sys::now_ns;

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

/// One seat per worker, from the venue's seats in order.
async fn worker_seats(target: &Target, venue: &str, workers: usize) -> anyhow::Result<Vec<String>> {
    let mut probe = HttpConnection::new(target.clone());
    let mut seats = venue_seat_ids(&mut probe, venue).await?;
    if workers > seats.len() {
        bail!(
            "{workers} workers need as many seats; venue {venue} has {}",
            seats.len()
        );
    }
    seats.truncate(workers);
    Ok(seats)
}

/// When requests count (CLOCK_MONOTONIC ns): sent from `measure_from`, answered by `stop_at`.
#[derive(Clone, Copy)]
struct Window {
    measure_from: u64,
    stop_at: u64,
}

/// One worker: select and release `seat` over and over on its own connection until the
/// window ends, recording the requests inside it.
async fn worker(
    mut conn: HttpConnection,
    seat: String,
    venue: String,
    window: Window,
) -> WorkerResult {
    let mut result = WorkerResult {
        select: Histogram::default(),
        release: Histogram::default(),
        errors: BTreeMap::new(),
    };
    // Whole pairs only: a worker never stops between its select and its release.
    while now_ns() < window.stop_at {
        let token = signer().issue();
        let body = json!({"seat_id": seat, "token": token.as_str(), "venue": venue}).to_string();
        for verb in ["select", "release"] {
            let sent = now_ns();
            let status = match conn.post_json(&format!("/api/seats/{verb}"), &body).await {
                Ok(r) => r.status,
                Err(_) => 0,
            };
            let done = now_ns();
            if sent >= window.measure_from && done <= window.stop_at {
                let h = if verb == "select" {
                    &mut result.select
                } else {
                    &mut result.release
                };
                h.record(done - sent);
                if status != 200 {
                    *result.errors.entry(status).or_default() += 1;
                }
            }
            if status == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    result
}

struct WorkerResult {
    select: Histogram,
    release: Histogram,
    errors: BTreeMap<u16, u64>,
}

/// Runs `concurrency` workers for `warmup + seconds`; only the last `seconds` are measured.
pub async fn run(
    booking: &str,
    venue: &str,
    concurrency: usize,
    warmup: Duration,
    seconds: Duration,
) -> anyhow::Result<ApiReport> {
    let target = Target::parse(booking)?;
    let seats = worker_seats(&target, venue, concurrency).await?;
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
