//! `seatbench api` and `seatbench best-rush`: their options, the runs, and the figures printed
//! and appended as results rows.

use std::collections::BTreeMap;
use std::time::Duration;

use loadgen::api::{ApiLoad, ApiMode};
use loadgen::loopback_only;
use loadgen::redis_stats::{self, ScriptTime};
use loadgen::rows::{self, ApiCpu, ApiRow, BestRushRow};
use loadgen::usage::{CpuMeter, Server};

use crate::Common;

#[derive(clap::Args)]
pub(crate) struct ApiArgs {
    /// Booking service (or NGINX) base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    booking: String,
    #[arg(long, default_value = "main")]
    venue: String,
    /// What each worker holds and releases.
    #[arg(long, value_enum, default_value_t = ApiMode::Seat)]
    mode: ApiMode,
    /// Seats per group with `--mode group`.
    #[arg(long, default_value_t = 4)]
    group_size: usize,
    /// Connections, each a worker (with `seat` and `group`, owning its seats: at most the
    /// venue's seat count in all).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Unmeasured seconds first.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// A label for the results row.
    #[arg(long, default_value = "api")]
    label: String,
    /// The stack's Redis (redis://host:port): report Redis's own time running the scripts
    /// (its statistics are reset when the measurement starts).
    #[arg(long)]
    redis: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct BestRushArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    booking: String,
    #[arg(long, default_value = "arena")]
    venue: String,
    /// Identities, each asking once (for 2, 3 or 4 seats by turn).
    #[arg(long, default_value_t = 1000)]
    asks: usize,
    /// Connections asking at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value = "best-rush")]
    label: String,
    /// The stack's Redis (redis://host:port), as for `api`.
    #[arg(long)]
    redis: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// `seatbench api`: the load, its figures, and the CPU it cost each process.
pub(crate) async fn api(args: ApiArgs) -> anyhow::Result<()> {
    let ApiArgs {
        booking,
        venue,
        mode,
        group_size,
        concurrency,
        seconds,
        warmup,
        label,
        redis,
        common,
    } = args;
    loopback_only(&booking)?;
    loadgen::driver::signer();
    let mut measured = vec![Server::me("seatbench")];
    measured.extend(common.servers()?);
    let cpu_meter = CpuMeter::start(&measured);
    let load = ApiLoad {
        booking: booking.clone(),
        venue,
        mode,
        group_size,
        concurrency,
        warmup: Duration::from_secs_f64(warmup),
        seconds: Duration::from_secs_f64(seconds),
    };
    println!(
        "[{label}] {concurrency} connections ({mode:?}) against {booking} for {:?} + {:?}",
        load.warmup, load.seconds
    );
    let redis_window = redis.map(|url| {
        // Redis's statistics cover the measured seconds only.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
            redis_stats::reset(&url).await?;
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            redis_stats::read(&url).await
        })
    });
    let report = loadgen::api::run(&load).await?;
    let redis = match redis_window {
        Some(window) => Some(window.await??),
        None => None,
    };
    // CPU over the whole run (warm-up included), per measured-rate request.
    let total = (load.warmup + load.seconds).as_secs_f64();
    let cpu: BTreeMap<String, ApiCpu> = cpu_meter
        .used_ms()
        .into_iter()
        .map(|(name, ms)| {
            let figures = ApiCpu {
                ms,
                us_per_request: ms as f64 * 1000.0 / (report.per_second * total),
                cores: ms as f64 / 1000.0 / total,
            };
            (name.to_owned(), figures)
        })
        .collect();
    let row = ApiRow {
        kind: "api",
        label,
        mode: format!("{mode:?}").to_lowercase(),
        concurrency,
        requests: report.requests,
        seconds: report.seconds,
        per_second: report.per_second,
        errors: report.errors,
        latency: report.latency.summary(),
        select: report.select.summary(),
        release: report.release.summary(),
        cpu,
        redis,
    };
    print_api(&row);
    rows::append(common.results.as_deref(), &[row])
}

fn print_api(row: &ApiRow) {
    let label = &row.label;
    println!(
        "[{label}] {} requests in {:.1} s = {:.0} req/s; {}; errors {:?}",
        row.requests, row.seconds, row.per_second, row.latency, row.errors
    );
    println!("[{label}]   hold {}", row.select);
    println!("[{label}]   release {}", row.release);
    if let Some(redis) = &row.redis {
        println!("[{label}]   {redis}");
    }
    for (name, c) in &row.cpu {
        println!(
            "[{label}]   {name}: {:.2} cores, {:.1} µs CPU per request",
            c.cores, c.us_per_request
        );
    }
}

/// `seatbench best-rush`: the rush, its figures and its checks.
pub(crate) async fn best_rush(args: BestRushArgs) -> anyhow::Result<()> {
    loopback_only(&args.booking)?;
    loadgen::driver::signer();
    println!(
        "[{}] {} identities ask best available for 2-4 seats of {} over {} connections",
        args.label, args.asks, args.venue, args.concurrency
    );
    if let Some(url) = &args.redis {
        redis_stats::reset(url).await?;
    }
    let report =
        loadgen::best_rush::run(&args.booking, &args.venue, args.concurrency, args.asks).await?;
    let redis: Option<ScriptTime> = match &args.redis {
        Some(url) => Some(redis_stats::read(url).await?),
        None => None,
    };
    let row = BestRushRow {
        kind: "best_rush",
        label: args.label.clone(),
        venue: args.venue.clone(),
        concurrency: args.concurrency,
        asks: report.asks,
        seconds: report.seconds,
        per_second: report.per_second,
        latency: report.latency.summary(),
        codes: report.codes.clone(),
        seats_held: report.seats_held,
        violations: report.violations.len(),
        redis,
    };
    let label = row.label.clone();
    println!(
        "[{label}] {} asks in {:.1} s = {:.0} req/s; {}",
        row.asks, row.seconds, row.per_second, row.latency
    );
    println!(
        "[{label}]   answers {:?}; {} seats held, none twice",
        row.codes, row.seats_held
    );
    if let Some(redis) = &row.redis {
        println!("[{label}]   {redis}");
    }
    rows::append(args.common.results.as_deref(), &[row])?;
    if !report.violations.is_empty() {
        for violation in report.violations.iter().take(20) {
            eprintln!("[{label}] WRONG: {violation}");
        }
        anyhow::bail!("{} answers or seats were wrong", report.violations.len());
    }
    Ok(())
}
