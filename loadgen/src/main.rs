//! `seatbench`: measures what the seat map promises. Prints its figures; asserts nothing.
//!
//! * `api`: booking-service latency and throughput for select+release pairs.
//! * `fanout`: time from a booking call to each WebSocket viewer's SEAT_UPDATE, across edges,
//!   and the edges' memory per connection.

mod stats;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use serde_json::json;
use stats::Summary;

#[derive(Parser)]
#[command(
    name = "seatbench",
    version,
    about = "Measures the seat map: API latency and throughput, fan-out latency, memory per connection"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Select+release pairs against the booking service from many concurrent workers.
    Api {
        /// Booking service base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        booking: String,
        /// Concurrent workers; each owns one seat (at most the venue's seat count).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Total requests (each pair is two).
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Stop early after this many seconds.
        #[arg(long, default_value_t = 60)]
        max_seconds: u64,
    },
    /// WebSocket viewers spread over the edges; measures delivery of every change to every viewer.
    Fanout {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        booking: String,
        /// Comma-separated edge WebSocket URLs, e.g. ws://127.0.0.1:3000/ws,ws://127.0.0.1:3001/ws
        #[arg(long, default_value = "ws://127.0.0.1:3000/ws,ws://127.0.0.1:3001/ws")]
        edges: String,
        /// Viewers to connect (spread round-robin over the edges).
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Seat changes to make (holds with fresh users, one every --interval-ms).
        #[arg(long, default_value_t = 300)]
        changes: usize,
        #[arg(long, default_value_t = 10)]
        interval_ms: u64,
        /// PIDs of the edge processes, comma-separated, to report their memory (VmRSS).
        #[arg(long)]
        edge_pids: Option<String>,
        /// Admin token, to reset the venue between rounds of 100 holds.
        #[arg(long, env = "ADMIN_TOKEN")]
        admin_token: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Err(e) = shared::TokenSigner::from_setting(std::env::var("TOKEN_SECRET").ok().as_deref())
    {
        bail!("{e}");
    }
    match cli.command {
        Command::Api {
            booking,
            concurrency,
            requests,
            max_seconds,
        } => {
            loopback_only(&booking)?;
            api(
                &booking,
                concurrency,
                requests,
                Duration::from_secs(max_seconds),
            )
            .await
        }
        Command::Fanout {
            booking,
            edges,
            clients,
            changes,
            interval_ms,
            edge_pids,
            admin_token,
        } => {
            loopback_only(&booking)?;
            let edges: Vec<String> = edges.split(',').map(str::to_owned).collect();
            for edge in &edges {
                loopback_only(edge)?;
            }
            let pids: Vec<u32> = edge_pids
                .unwrap_or_default()
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| p.trim().parse().context("edge pid"))
                .collect::<Result<_, _>>()?;
            fanout(
                &booking,
                &edges,
                clients,
                changes,
                Duration::from_millis(interval_ms),
                &pids,
                &admin_token,
            )
            .await
        }
    }
}

/// Load goes only to this machine.
fn loopback_only(url: &str) -> anyhow::Result<()> {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if !matches!(host, "127.0.0.1" | "localhost" | "[") && !host.starts_with("127.") {
        bail!("{url}: seatbench only sends load to loopback addresses");
    }
    Ok(())
}

/// Mints tokens the services accept, with the `TOKEN_SECRET` the stack was started with.
static SIGNER: std::sync::OnceLock<shared::TokenSigner> = std::sync::OnceLock::new();

fn signer() -> &'static shared::TokenSigner {
    SIGNER.get_or_init(|| {
        shared::TokenSigner::from_setting(std::env::var("TOKEN_SECRET").ok().as_deref())
            .unwrap_or_else(|e| panic!("seatbench needs the stack's secret: {e}"))
    })
}

fn token(_worker: usize, _n: usize) -> String {
    signer().issue().as_str().to_owned()
}

fn seat_name(index: usize) -> String {
    format!("{}{}", (b'A' + (index / 10) as u8) as char, index % 10 + 1)
}

async fn api(
    booking: &str,
    concurrency: usize,
    requests: usize,
    max_time: Duration,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let concurrency = concurrency.clamp(1, 100);
    let pairs_per_worker = requests / 2 / concurrency;
    println!(
        "api: {concurrency} workers x {pairs_per_worker} select+release pairs against {booking}"
    );
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + max_time;
    let workers = (0..concurrency).map(|worker| {
        let http = http.clone();
        let errors = errors.clone();
        let url = booking.to_owned();
        tokio::spawn(async move {
            let seat = seat_name(worker);
            let mut latencies = Vec::with_capacity(pairs_per_worker * 2);
            for n in 0..pairs_per_worker {
                if Instant::now() > deadline {
                    break;
                }
                // A fresh user per pair keeps every user far below the per-user rate limit.
                let body = json!({"seat_id": seat, "token": token(worker, n)});
                for verb in ["select", "release"] {
                    let sent = Instant::now();
                    let ok = http
                        .post(format!("{url}/api/seats/{verb}"))
                        .json(&body)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    latencies.push(sent.elapsed());
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        })
    });
    let mut latencies = Vec::new();
    for worker in futures_util::future::join_all(workers).await {
        latencies.extend(worker?);
    }
    let elapsed = started.elapsed();
    let summary = Summary::of(&mut latencies);
    println!(
        "api: {} requests in {:.2} s = {:.0} req/s, {} errors",
        summary.count,
        elapsed.as_secs_f64(),
        summary.count as f64 / elapsed.as_secs_f64(),
        errors.load(Ordering::Relaxed)
    );
    println!("api: latency {summary}");
    Ok(())
}

/// The parts of a server frame the viewers look at.
#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow, default)]
    data: FrameData<'a>,
}

#[derive(serde::Deserialize, Default)]
struct FrameData<'a> {
    #[serde(borrow, default)]
    seat_id: Option<&'a str>,
    #[serde(borrow, default)]
    held_by: Option<&'a str>,
}

/// When each viewer saw each hold: (seat, holder) -> receive instants.
type Sightings = Arc<Mutex<HashMap<(String, String), Vec<Instant>>>>;

async fn fanout(
    booking: &str,
    edges: &[String],
    clients: usize,
    changes: usize,
    interval: Duration,
    pids: &[u32],
    admin_token: &str,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    reset(&http, booking, admin_token).await?;
    let rss_before: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();
    let sightings: Sightings = Arc::default();
    let ready = Arc::new(AtomicU64::new(0));
    println!(
        "fanout: connecting {clients} viewers over {} edges",
        edges.len()
    );
    let mut viewers = Vec::with_capacity(clients);
    for i in 0..clients {
        let url = edges[i % edges.len()].clone();
        let (socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .with_context(|| format!("connecting viewer {i} to {url}"))?;
        let (_sink, mut stream) = socket.split();
        let sightings = sightings.clone();
        let ready = ready.clone();
        viewers.push(tokio::spawn(async move {
            let _sink = _sink; // keep the socket open
            while let Some(Ok(frame)) = stream.next().await {
                let seen = Instant::now();
                let Ok(text) = frame.into_text() else {
                    continue;
                };
                // Only the fields needed, borrowed: the viewers share the machine with the edges.
                match serde_json::from_str::<Frame>(text.as_str()) {
                    Ok(Frame {
                        kind: "VENUE_STATE",
                        ..
                    }) => {
                        ready.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Frame {
                        kind: "SEAT_UPDATE",
                        data:
                            FrameData {
                                seat_id: Some(seat),
                                held_by: Some(holder),
                            },
                    }) => {
                        sightings
                            .lock()
                            .unwrap()
                            .entry((seat.to_owned(), holder.to_owned()))
                            .or_default()
                            .push(seen);
                    }
                    _ => {}
                }
            }
        }));
        if (i + 1) % 250 == 0 {
            println!("fanout: {} viewers connected", i + 1);
        }
    }
    let wait_until = Instant::now() + Duration::from_secs(30);
    while (ready.load(Ordering::Relaxed) as usize) < clients && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "fanout: {} of {clients} viewers have the venue state",
        ready.load(Ordering::Relaxed)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();

    println!("fanout: making {changes} seat changes, one every {interval:?}");
    let mut sent: HashMap<(String, String), Instant> = HashMap::new();
    for n in 0..changes {
        if n > 0 && n % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            reset(&http, booking, admin_token).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let seat = seat_name(n % 100);
        let token = token(0, n);
        let user = signer().verify(&token).expect("minted here").user_id();
        let at = Instant::now();
        let response = http
            .post(format!("{booking}/api/seats/select"))
            .json(&json!({"seat_id": seat, "token": token}))
            .send()
            .await?;
        if response.status().is_success() {
            sent.insert((seat, user), at);
        } else {
            println!("fanout: select {seat} answered {}", response.status());
        }
        tokio::time::sleep(interval).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_busy: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();

    for viewer in &viewers {
        viewer.abort();
    }
    let seen = std::mem::take(&mut *sightings.lock().unwrap());
    let mut latencies = Vec::new();
    let mut missing = 0usize;
    for (key, at) in &sent {
        let times = seen.get(key).map(Vec::as_slice).unwrap_or(&[]);
        missing += clients.saturating_sub(times.len());
        latencies.extend(times.iter().map(|t| t.duration_since(*at)));
    }
    let summary = Summary::of(&mut latencies);
    println!(
        "fanout: {} changes x {clients} viewers: {} deliveries, {missing} missing",
        sent.len(),
        summary.count
    );
    println!("fanout: booking call -> viewer receives SEAT_UPDATE {summary}");
    for (i, pid) in pids.iter().enumerate() {
        let per_connection = rss_after[i].saturating_sub(rss_before[i]) as f64
            / (clients as f64 / pids.len() as f64);
        let per_connection_busy =
            rss_busy[i].saturating_sub(rss_before[i]) as f64 / (clients as f64 / pids.len() as f64);
        println!(
            "fanout: edge pid {pid}: RSS {} KiB before, {} KiB with {} viewers = {per_connection:.1} KiB per connection; {} KiB = {per_connection_busy:.1} KiB per connection after the changes",
            rss_before[i],
            rss_after[i],
            clients / pids.len(),
            rss_busy[i]
        );
    }
    reset(&http, booking, admin_token).await?;
    Ok(())
}

async fn reset(http: &reqwest::Client, booking: &str, admin_token: &str) -> anyhow::Result<()> {
    let response = http
        .post(format!("{booking}/api/admin/reset"))
        .bearer_auth(admin_token)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "admin reset answered {} (is ADMIN_TOKEN right?)",
            response.status()
        );
    }
    Ok(())
}

/// Resident memory of a process, from /proc (Linux).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}
