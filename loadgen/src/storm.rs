//! A reconnect storm on a large venue: `steady` viewers stay connected throughout while `storm`
//! others, connected too, all drop their sockets at once and reconnect spread over `within`,
//! each wanting the venue's state again. Changes run at a steady rate before the storm (calm)
//! and during it, so the steady viewers' latency can be compared in one run, and the edges'
//! memory is sampled through the storm for its peak.

use std::time::Duration;

use serde::Serialize;

use crate::driver::{ChangeDriver, Sent};
use crate::fanout::{drain, ViewerProcesses};
use crate::stats::Summary;
use crate::sys::now_ns;
use crate::usage::{self, Server};
use crate::viewers::{GroupSpec, Report};

/// Everything one storm run needs.
pub struct StormRun<'a> {
    pub label: &'a str,
    pub booking: &'a str,
    pub venue: &'a str,
    /// The viewers' group: its count and spread are set per part.
    pub spec: GroupSpec,
    pub steady: usize,
    pub storm: usize,
    /// The storm's viewers reconnect spread over this long.
    pub within: Duration,
    /// Changes a second, before and during the storm.
    pub rate: f64,
    /// Changes before the storm (calm), and during it.
    pub changes: usize,
    pub per_process: usize,
    /// The edges: their memory is sampled.
    pub servers: &'a [Server],
    pub drain_limit: Duration,
}

/// Deliveries to one group over one window of changes.
#[derive(Debug, Serialize)]
pub struct Deliveries {
    pub latency: Summary,
    /// Changes a viewer's first state already had (it joined after them).
    pub before_join: u64,
    pub expected: u64,
    pub delivered: u64,
    pub missing: u64,
    pub resynced: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub closed: u64,
    pub drained: bool,
}

impl Deliveries {
    fn of(report: &Report, drained: bool) -> Deliveries {
        Deliveries {
            latency: report.latency.summary(),
            before_join: report.before_join,
            expected: report.expected,
            delivered: report.delivered,
            missing: report.missing,
            resynced: report.resynced,
            duplicates: report.duplicates,
            out_of_order: report.out_of_order,
            closed: report.closed,
            drained,
        }
    }
}

/// One storm run (`kind: "storm"`).
#[derive(Debug, Serialize)]
pub struct StormRow {
    pub kind: &'static str,
    pub label: String,
    pub venue: String,
    pub compact: bool,
    pub steady: usize,
    pub storm: usize,
    pub within_s: f64,
    pub rate: f64,
    /// Bytes of a `VENUE_STATE` the storm's viewers got.
    pub state_bytes: u64,
    /// The steady viewers before the storm, and during it.
    pub calm: Deliveries,
    pub during: Deliveries,
    /// The storm's viewers: how many had the state again, how long each took from its own
    /// reconnect, and the seconds from the storm's start until the last had it.
    pub rejoined: u64,
    pub rejoin_failed: u64,
    pub rejoin: Summary,
    pub all_rejoined_s: f64,
    pub rejoin_error: Option<String>,
    /// The storm's viewers' updates after their new state.
    pub storm_updates: Deliveries,
    /// The edges' resident memory (all edges together): before any viewer, with every viewer
    /// connected, and the peak sampled every 50 ms through the storm.
    pub rss_empty_kib: u64,
    pub rss_joined_kib: u64,
    pub rss_peak_kib: u64,
    /// (peak − empty) ÷ (steady + storm).
    pub peak_kib_per_connection: f64,
}

fn edges_rss(servers: &[Server]) -> u64 {
    usage::rss_kib(servers).iter().sum()
}

/// Runs the storm and returns its row.
pub async fn run(run: &StormRun<'_>) -> anyhow::Result<StormRow> {
    let mut driver = ChangeDriver::new(run.booking, run.venue).await?;
    let rss_empty = edges_rss(run.servers);
    let group = |count: usize, offset: usize, spread: Duration| GroupSpec {
        count,
        offset,
        spread_ms: spread.as_millis() as u64,
        ..run.spec.clone()
    };
    let connect_limit = Duration::from_secs(120);
    let label = run.label;
    println!("[{label}] {} steady viewers connect", run.steady);
    let steady_spec = group(run.steady, 0, Duration::ZERO);
    let mut steady = ViewerProcesses::start(&steady_spec, run.per_process, connect_limit).await?;
    println!("[{label}] {} storm viewers connect", run.storm);
    let storm_spec = group(run.storm, run.steady, Duration::ZERO);
    let first_storm = ViewerProcesses::start(&storm_spec, run.per_process, connect_limit).await?;
    println!(
        "[{label}] ready: {} steady, {} storm",
        steady.joins.ready, first_storm.joins.ready
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_joined = edges_rss(run.servers);

    println!("[{label}] calm: {} changes at {}/s", run.changes, run.rate);
    let calm_sent = driver.run(run.rate, run.changes).await?;
    let (_, calm_drained) = drain(&mut steady, &calm_sent, run.drain_limit).await?;
    let calm = steady.report(&calm_sent, &[]).await?;

    println!(
        "[{label}] storm: {} viewers drop their sockets and reconnect within {:?}, {} changes at {}/s",
        run.storm, run.within, run.changes, run.rate
    );
    let sampling = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(sample_peak(run.servers.to_vec(), sampling.1));
    let storm_started = now_ns();
    first_storm.quit().await;
    let rejoin_spec = group(run.storm, run.steady, run.within);
    let rejoin = async {
        let started = ViewerProcesses::start(&rejoin_spec, run.per_process, connect_limit).await;
        (started, (now_ns() - storm_started) as f64 / 1e9)
    };
    let (storm_sent, (second_storm, all_rejoined_s)) =
        tokio::join!(driver.run(run.rate, run.changes), rejoin);
    let (storm_sent, mut second_storm) = (storm_sent?, second_storm?);
    let (_, during_drained) = drain(&mut steady, &storm_sent, run.drain_limit).await?;
    let during = steady.report(&storm_sent, &[]).await?;
    let (_, storm_drained) = drain(&mut second_storm, &storm_sent, run.drain_limit).await?;
    let storm_updates = second_storm.report(&storm_sent, &[]).await?;
    let _ = sampling.0.send(true);
    let rss_peak = sampler.await?;
    driver.release_all().await?;
    let joins = second_storm.joins.clone();
    steady.quit().await;
    second_storm.quit().await;
    let connections = (run.steady + run.storm).max(1) as f64;
    let row = StormRow {
        kind: "storm",
        label: label.to_owned(),
        venue: run.venue.to_owned(),
        compact: run.spec.compact,
        steady: run.steady,
        storm: run.storm,
        within_s: run.within.as_secs_f64(),
        rate: run.rate,
        state_bytes: joins.state_bytes,
        calm: Deliveries::of(&calm, calm_drained),
        during: Deliveries::of(&during, during_drained),
        rejoined: joins.ready,
        rejoin_failed: joins.failed,
        rejoin: joins.join.summary(),
        all_rejoined_s,
        rejoin_error: joins.first_error,
        storm_updates: Deliveries::of(&storm_updates, storm_drained),
        rss_empty_kib: rss_empty,
        rss_joined_kib: rss_joined,
        rss_peak_kib: rss_peak,
        peak_kib_per_connection: rss_peak.saturating_sub(rss_empty) as f64 / connections,
    };
    print_row(&row, &calm_sent, &storm_sent);
    Ok(row)
}

/// The highest resident memory of the servers together, sampled every 50 ms until told to stop.
async fn sample_peak(servers: Vec<Server>, mut stop: tokio::sync::watch::Receiver<bool>) -> u64 {
    let mut peak = edges_rss(&servers);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tick.tick() => peak = peak.max(edges_rss(&servers)),
            _ = stop.changed() => return peak.max(edges_rss(&servers)),
        }
    }
}

fn print_row(row: &StormRow, calm: &Sent, during: &Sent) {
    let label = &row.label;
    let show = |what: &str, d: &Deliveries, sent: &Sent| {
        println!(
            "[{label}] {what}: {} changes, {}; delivered {} of {} ({} had by joining), missing {}, resynced {}, duplicates {}, out of order {}, closed {}",
            sent.sent_ns.len(), d.latency, d.delivered, d.expected, d.before_join, d.missing, d.resynced, d.duplicates, d.out_of_order, d.closed
        )
    };
    show("steady viewers, calm", &row.calm, calm);
    show("steady viewers, during the storm", &row.during, during);
    println!(
        "[{label}] storm: {} of {} had the state again ({} failed), each {}; the last {:.1} s after the storm began; state {} bytes{}",
        row.rejoined,
        row.storm,
        row.rejoin_failed,
        row.rejoin,
        row.all_rejoined_s,
        row.state_bytes,
        row.rejoin_error
            .as_deref()
            .map(|e| format!(" (first error: {e})"))
            .unwrap_or_default()
    );
    show("storm viewers' updates", &row.storm_updates, during);
    println!(
        "[{label}] edges' memory: {} KiB empty, {} KiB with every viewer, peak {} KiB in the storm = {:.1} KiB per connection",
        row.rss_empty_kib, row.rss_joined_kib, row.rss_peak_kib, row.peak_kib_per_connection
    );
}
