//! `seatjudge`: runs a booking load against booking services, records the history of every
//! command and every event on `seats.>`, and after a drain judges the run against the end state:
//! no acknowledged booking lost, no phantom, never two holders of a seat, every seq on NATS.
//! Prints one verdict line ("judge: verdict pass|FAIL: …") and exits 1 on FAIL.

mod history;
mod judge;
mod load;
mod report;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::{json, Value};
use testkit::EventLog;

use history::{Arrival, Command, History, Outcome, Snapshot};

#[derive(Parser)]
#[command(
    name = "seatjudge",
    version,
    about = "Books under load, records the history of every command and every seats.> event, and judges it",
    long_about = "Books under load through one or more booking services and records the history of every \
command (select, book, release: when it was sent, when it ended, and whether it was answered OK, refused \
with a code, answered with a code that may hide a change (UNAVAILABLE, INTERNAL), or not answered), and every \
event on seats.> for the whole run. Workers race for the same few seats, so refusals and hand-overs are part \
of every run. After the load and a drain it reads the end state and judges:\n\
  - lost: every booking answered OK is booked by its user in the end state;\n\
  - phantom: every seat taken in the end state was asked for by its taker;\n\
  - double holders: never two holders of one seat at once, from the stream (replayed in seq order) and \
from OK'd holds that overlap in the history;\n\
  - seq gaps: every seq of every venue on NATS (the judged venue's from the start's seq to the end's), and \
no seq with two payloads;\n\
  - stream vs state: the start state with every event applied is the end state;\n\
  - indeterminate: commands without a definite answer, each with how it ended (booked, held, not taken).\n\
Prints one line \"judge: verdict pass|FAIL: …; ok N, refused N (by code), indeterminate N (…), lost N, \
phantom N, double holders N, seq gaps N, …\", writes the details to --out (JSON) and exits 1 on FAIL \
(2 when it could not run)."
)]
struct Cli {
    /// Booking services, comma-separated base URLs; worker i uses service i mod n.
    #[arg(long)]
    booking: String,
    /// NATS servers to watch seats.> on, comma-separated (one cluster).
    #[arg(long)]
    nats: String,
    /// The venue to book (its free seats at the start are raced for).
    #[arg(long, default_value = "main")]
    venue: String,
    /// Concurrent clients, each its own user.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// How long the load runs.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// After the load, how long to wait for an end state and every seq up to it on NATS.
    #[arg(long, default_value_t = 15)]
    drain_seconds: u64,
    /// Of the holds a worker gets, the share (%) it books; it releases the rest.
    #[arg(long, default_value_t = 50)]
    book_percent: u64,
    /// A command not answered within this counts as no answer.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// A worker's pause between two seats.
    #[arg(long, default_value_t = 20)]
    pace_ms: u64,
    /// The secret the services sign tokens with (to mint the workers' identities).
    #[arg(long, env = "TOKEN_SECRET", hide_env_values = true)]
    token_secret: String,
    /// Write every finding and the whole history here (JSON).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("seatjudge: {error:#}");
            println!("judge: verdict FAIL: could not judge: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<bool> {
    let bookings: Vec<String> = cli.booking.split(',').map(str::to_owned).collect();
    let signer = shared::TokenSigner::new(&cli.token_secret).map_err(anyhow::Error::msg)?;
    let stream = EventLog::try_subscribe(&cli.nats)
        .await
        .map_err(|e| anyhow::anyhow!("subscribing to seats.> on {}: {e}", cli.nats))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?;
    let (initial, hold_seconds) = venue_state(&http, &bookings, &cli.venue)
        .await
        .context("no booking service answered the venue's state at the start")?;
    let free: Vec<String> = initial
        .order
        .iter()
        .filter(|id| initial.seat(id).status == 0)
        .cloned()
        .collect();
    anyhow::ensure!(!free.is_empty(), "venue {} has no free seat", cli.venue);
    println!(
        "[judge] venue {} at seq {}, {} free seats; {} workers on {} booking services for {} s",
        cli.venue,
        initial.seq,
        free.len(),
        cli.workers,
        bookings.len(),
        cli.seconds
    );
    let settings = load::LoadSettings {
        bookings: bookings.clone(),
        venue: cli.venue.clone(),
        workers: cli.workers,
        seconds: cli.seconds,
        book_percent: cli.book_percent,
        timeout: Duration::from_millis(cli.timeout_ms),
        pace: Duration::from_millis(cli.pace_ms),
    };
    let started = Instant::now();
    let commands = load::run(&settings, free, || {
        let token = signer.issue();
        (token.as_str().to_owned(), token.user_id())
    })
    .await;
    let loaded_for = started.elapsed();
    println!(
        "[judge] load stopped: {} commands in {:.1} s; draining up to {} s",
        commands.len(),
        loaded_for.as_secs_f64(),
        cli.drain_seconds
    );
    let last = drain(cli, &http, &bookings, &stream, initial.seq).await?;
    let history = History {
        venue: cli.venue.clone(),
        hold_seconds,
        initial,
        commands,
        arrivals: arrivals(&stream),
        last,
    };
    let judgement = judge::judge(&history);
    let figures = figures(&history.commands, loaded_for);
    println!("[judge] {}", figures["line"].as_str().unwrap_or(""));
    println!("{}", judgement.verdict_line());
    if let Some(out) = &cli.out {
        let details = judgement.to_json(&history, figures);
        std::fs::write(out, serde_json::to_string_pretty(&details)?)
            .with_context(|| out.display().to_string())?;
    }
    Ok(judgement.passed())
}

/// The venue's state and HOLD_SECONDS from the first booking service that answers.
async fn venue_state(
    http: &reqwest::Client,
    bookings: &[String],
    venue: &str,
) -> Option<(Snapshot, u64)> {
    for base in bookings {
        let Ok(response) = http.get(format!("{base}/api/venues/{venue}")).send().await else {
            continue;
        };
        if !response.status().is_success() {
            continue;
        }
        let Ok(body) = response.json::<Value>().await else {
            continue;
        };
        if let Some(snapshot) = Snapshot::parse(&body) {
            return Some((snapshot, body["hold_seconds"].as_u64().unwrap_or(30)));
        }
    }
    None
}

/// Waits until a booking service gives the end state and the stream has every seq of the venue
/// up to it (or the drain time is up) and returns that end state.
async fn drain(
    cli: &Cli,
    http: &reqwest::Client,
    bookings: &[String],
    stream: &EventLog,
    initial_seq: u64,
) -> anyhow::Result<Snapshot> {
    let until = Instant::now() + Duration::from_secs(cli.drain_seconds);
    let mut last = None;
    loop {
        if let Some((snapshot, _)) = venue_state(http, bookings, &cli.venue).await {
            let seen: BTreeSet<u64> = stream
                .all()
                .iter()
                .filter(|e| e.venue == cli.venue && e.seq > initial_seq)
                .map(|e| e.seq)
                .collect();
            let complete = seen.len() as u64 >= snapshot.seq.saturating_sub(initial_seq)
                && (initial_seq + 1..=snapshot.seq).all(|s| seen.contains(&s));
            last = Some(snapshot);
            if complete {
                break;
            }
        }
        if Instant::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last.context("no booking service answered the venue's state after the load")
}

fn arrivals(stream: &EventLog) -> Vec<Arrival> {
    let events = stream.all();
    let payloads = stream.payloads();
    let times = stream.arrivals().into_iter().map(|(_, _, at)| at);
    events
        .into_iter()
        .zip(payloads)
        .zip(times)
        .map(|((event, payload), arrived_ms)| Arrival {
            event,
            payload,
            arrived_ms,
        })
        .collect()
}

/// The load's rate and answer times, per service too.
fn figures(commands: &[Command], loaded_for: Duration) -> Value {
    let answered_ms = |filter: &dyn Fn(&Command) -> bool| {
        let mut times: Vec<u64> = commands
            .iter()
            .filter(|c| !matches!(c.outcome, Outcome::NoAnswer(_)) && filter(c))
            .map(|c| c.ended_ms.saturating_sub(c.sent_ms))
            .collect();
        times.sort_unstable();
        let at = |q: f64| times.get(((times.len() as f64 - 1.0) * q).round() as usize);
        json!({"answered": times.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": times.last()})
    };
    let services: BTreeSet<&str> = commands.iter().map(|c| c.service.as_str()).collect();
    let per_service: Value = services
        .iter()
        .map(|s| (s.to_string(), answered_ms(&|c| c.service == *s)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let all = answered_ms(&|_| true);
    let rate = commands.len() as f64 / loaded_for.as_secs_f64().max(0.001);
    let line = format!(
        "{} commands in {:.0} s ({rate:.0}/s) on {} services; answered in p50 {} ms, p99 {} ms, max {} ms",
        commands.len(),
        loaded_for.as_secs_f64(),
        services.len(),
        all["p50_ms"],
        all["p99_ms"],
        all["max_ms"]
    );
    json!({"line": line, "commands": commands.len(), "seconds": loaded_for.as_secs_f64(),
           "per_second": rate, "answer_times": all, "per_service": per_service})
}
