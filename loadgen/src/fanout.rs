//! Fan-out at scale: viewers in child processes (each process has at most a few thousand sockets,
//! well under the file-descriptor limit; see [`processes`]), a change driver in this one, and the
//! servers' CPU and memory read from `/proc` around each phase.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::Child;

use crate::driver::{ChangeDriver, Sent};
use crate::rows::{FanoutRow, PhaseCpu, PhaseMemory};
use crate::stats::Histogram;
use crate::sys::now_ns;
use crate::usage::{self, CpuMeter, Server};
use crate::viewers::{GroupSpec, Report};

pub mod processes;

pub use processes::{serve_viewer_process, ViewerCommand, ViewerProcesses};

/// One rate: `changes` changes at `rate` a second.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub rate: f64,
    pub changes: usize,
}

/// Everything one fan-out target run needs.
pub struct TargetRun<'a> {
    pub label: &'a str,
    pub spec: GroupSpec,
    pub per_process: usize,
    pub booking: &'a str,
    pub venue: &'a str,
    pub phases: &'a [Phase],
    pub servers: &'a [Server],
    /// The longest a phase waits for deliveries after its last change.
    pub drain_limit: Duration,
    /// A plain NATS subscriber notes when each change reaches NATS subscribers: the latency up
    /// to there is shared by every target, the rest is the fan-out hop.
    pub probe_nats: Option<&'a str>,
}

/// When each seq of a venue reached a plain NATS (TCP) subscriber.
#[derive(Clone, Default)]
pub struct NatsProbe {
    seen: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<u64, u64>>>,
}

impl NatsProbe {
    /// Subscribes to the venue's changes at `nats_url`. On a `SECURE=1` stack: a `tls://` URL,
    /// the read-only user from `NATS_USER` and `NATS_PASSWORD` (its `secure/watcher.env`), and
    /// its CA trusted through `SSL_CERT_FILE`; the password never on a command line.
    pub async fn start(nats_url: &str, venue: &str) -> anyhow::Result<NatsProbe> {
        use futures_util::StreamExt;
        let mut options = async_nats::ConnectOptions::new();
        if let (Ok(user), Ok(password)) =
            (std::env::var("NATS_USER"), std::env::var("NATS_PASSWORD"))
        {
            options = options.user_and_password(user, password);
        }
        if nats_url.starts_with("tls://") {
            options = options.require_tls(true);
        }
        let client = options.connect(nats_url).await?;
        let mut sub = client.subscribe(format!("seats.{venue}.>")).await?;
        client.flush().await?;
        let probe = NatsProbe::default();
        let seen = probe.seen.clone();
        tokio::spawn(async move {
            let _client = client;
            while let Some(message) = sub.next().await {
                let at = now_ns();
                if let Some(seq) = crate::viewers::number_after(&message.payload, b"\"seq\":") {
                    seen.lock().unwrap().entry(seq).or_insert(at);
                }
            }
        });
        Ok(probe)
    }

    /// Arrival times of `sent`'s seqs (0 = not seen).
    pub fn times(&self, sent: &Sent) -> Vec<u64> {
        let seen = self.seen.lock().unwrap();
        (0..sent.sent_ns.len() as u64)
            .map(|i| seen.get(&(sent.first_seq + i)).copied().unwrap_or(0))
            .collect()
    }
}

/// Connects the viewers, runs every phase, and returns one row per phase.
pub async fn run_target(run: &TargetRun<'_>) -> anyhow::Result<Vec<FanoutRow>> {
    let mut driver = ChangeDriver::new(run.booking, run.venue).await?;
    let probe = match run.probe_nats {
        Some(url) => Some(NatsProbe::start(url, run.venue).await?),
        None => None,
    };
    let rss_before = usage::rss_kib(run.servers);
    let mut viewers = connect_viewers(run).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = usage::rss_kib(run.servers);
    // The viewer processes and this one (the driver): what the measuring itself costs.
    let clients = [Server {
        name: "clients".into(),
        pids: [viewers.pids(), vec![std::process::id()]].concat(),
    }];
    let mut rows = Vec::new();
    for phase in run.phases {
        let server_cpu = CpuMeter::start(run.servers);
        let client_cpu = CpuMeter::start(&clients);
        let sent = driver.run(phase.rate, phase.changes).await?;
        let (drain_s, drained) = drain(&mut viewers, &sent, run.drain_limit).await?;
        let cpu_ms = server_cpu.used_ms();
        let client_cpu_ms = client_cpu.total_ms();
        let probe_ns = probe.as_ref().map(|p| p.times(&sent)).unwrap_or_default();
        let report = viewers.report(&sent, &probe_ns).await?;
        driver.release_all().await?;
        let figures = PhaseFigures {
            phase: *phase,
            upstream: upstream(&sent, &probe_ns),
            sent,
            drain_s,
            drained,
            report,
            cpu_ms,
            client_cpu_ms,
            rss_kib: [&rss_before, &rss_idle, &usage::rss_kib(run.servers)],
        };
        let row = figures.row(run, &viewers);
        print_phase(&row);
        rows.push(row);
    }
    viewers.quit().await;
    Ok(rows)
}

/// Starts the viewer processes and says how many joined.
async fn connect_viewers(run: &TargetRun<'_>) -> anyhow::Result<ViewerProcesses> {
    println!(
        "[{}] connecting {} viewers ({:?}) to {}",
        run.label,
        run.spec.count,
        run.spec.protocol,
        run.spec.urls.join(",")
    );
    let viewers =
        ViewerProcesses::start(&run.spec, run.per_process, Duration::from_secs(90)).await?;
    let joins = &viewers.joins;
    println!(
        "[{}] {} ready, {} failed in {:.1} s{}",
        run.label,
        joins.ready,
        joins.failed,
        viewers.connect_seconds,
        joins
            .first_error
            .as_deref()
            .map(|e| format!(" (first error: {e})"))
            .unwrap_or_default()
    );
    Ok(viewers)
}

/// Waits until every delivery of `sent` arrived (or its viewer closed), until nothing new came
/// for 3 s, or until `limit`; returns the seconds waited and whether all arrived.
pub(crate) async fn drain(
    viewers: &mut ViewerProcesses,
    sent: &Sent,
    limit: Duration,
) -> anyhow::Result<(f64, bool)> {
    let started = now_ns();
    if sent.sent_ns.is_empty() {
        return Ok(((now_ns() - started) as f64 / 1e9, true));
    }
    let changes = sent.sent_ns.len() as u64;
    let expected = changes * viewers.joins.ready;
    let mut last = (0u64, now_ns());
    let drained = loop {
        let counted = viewers.count(sent.first_seq, sent.last_seq()).await?;
        let now = now_ns();
        if counted.delivered + counted.closed * changes >= expected {
            break true;
        }
        if counted.delivered > last.0 {
            last = (counted.delivered, now);
        }
        if now - last.1 > 3_000_000_000 || now - started > limit.as_nanos() as u64 {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    Ok(((now_ns() - started) as f64 / 1e9, drained))
}

/// From each change's API call to the probe's NATS subscriber seeing it (0 = not seen).
fn upstream(sent: &Sent, probe_ns: &[u64]) -> Histogram {
    let mut upstream = Histogram::default();
    for (sent_at, seen_at) in sent.sent_ns.iter().zip(probe_ns) {
        if *seen_at > 0 {
            upstream.record(seen_at.saturating_sub(*sent_at));
        }
    }
    upstream
}

/// What one phase measured.
struct PhaseFigures<'a> {
    phase: Phase,
    sent: Sent,
    drain_s: f64,
    drained: bool,
    report: Report,
    upstream: Histogram,
    /// CPU ms of each server over the phase (its drain included).
    cpu_ms: Vec<(&'a str, u64)>,
    client_cpu_ms: u64,
    /// Resident KiB of each server before the viewers connected, once idle, after the phase.
    rss_kib: [&'a [u64]; 3],
}

impl PhaseFigures<'_> {
    fn row(&self, run: &TargetRun<'_>, viewers: &ViewerProcesses) -> FanoutRow {
        let (joins, report, sent) = (&viewers.joins, &self.report, &self.sent);
        let join = joins.join.summary();
        FanoutRow {
            kind: "fanout",
            label: run.label.to_owned(),
            protocol: run.spec.protocol,
            viewers: run.spec.count,
            ready: joins.ready,
            connect_failed: joins.failed,
            connect_error: joins.first_error.clone(),
            connect_s: viewers.connect_seconds,
            join_p50_ms: join.p50_ms,
            join_p99_ms: join.p99_ms,
            rate: self.phase.rate,
            changes: sent.sent_ns.len(),
            change_failures: sent.failures,
            achieved_rate: sent.sent_ns.len() as f64 / sent.seconds.max(1e-9),
            drain_s: self.drain_s,
            drained: self.drained,
            latency: report.latency.summary(),
            upstream: self.upstream.summary(),
            hop: report.hop.summary(),
            state_bytes: joins.state_bytes,
            delivered: report.delivered,
            expected: report.expected,
            missing: report.missing,
            resynced: report.resynced,
            duplicates: report.duplicates,
            out_of_order: report.out_of_order,
            closed: report.closed,
            close_reasons: report.close_reasons.clone(),
            cpu: self.cpu(),
            client_cpu_ms: self.client_cpu_ms,
            memory: self.memory(run.servers, joins.ready),
        }
    }

    fn cpu(&self) -> BTreeMap<String, PhaseCpu> {
        let delivered = self.report.delivered;
        let per_thousand = |ms: u64| {
            if delivered == 0 {
                0.0
            } else {
                ms as f64 / (delivered as f64 / 1000.0)
            }
        };
        let cpu = self.cpu_ms.iter().map(|(name, ms)| {
            let figures = PhaseCpu {
                ms: *ms,
                per_1000_deliveries_ms: per_thousand(*ms),
            };
            (name.to_string(), figures)
        });
        cpu.collect()
    }

    fn memory(&self, servers: &[Server], ready: u64) -> BTreeMap<String, PhaseMemory> {
        let per = |kib: u64, base: u64| {
            if ready == 0 {
                0.0
            } else {
                kib.saturating_sub(base) as f64 / ready as f64
            }
        };
        let [before, idle, after] = self.rss_kib;
        let memory = servers.iter().enumerate().map(|(i, server)| {
            let figures = PhaseMemory {
                rss_before_kib: before[i],
                rss_idle_kib: idle[i],
                rss_after_kib: after[i],
                idle_kib_per_connection: per(idle[i], before[i]),
                after_kib_per_connection: per(after[i], before[i]),
            };
            (server.name.clone(), figures)
        });
        memory.collect()
    }
}

/// The phase's figures on stdout.
fn print_phase(row: &FanoutRow) {
    let label = &row.label;
    if row.upstream.count > 0 {
        println!(
            "[{label}]   API call -> NATS subscriber: {}; NATS subscriber -> viewer: {}",
            row.upstream, row.hop
        );
    }
    println!(
        "[{label}] {} viewers, {} changes at {}/s (achieved {:.1}/s): {}; missing {}, resynced {}, duplicates {}, out of order {}, closed {}",
        row.ready,
        row.changes,
        row.rate,
        row.achieved_rate,
        row.latency,
        row.missing,
        row.resynced,
        row.duplicates,
        row.out_of_order,
        row.closed
    );
    for (name, c) in &row.cpu {
        println!(
            "[{label}]   {name}: {} ms CPU = {:.1} ms per 1,000 deliveries",
            c.ms, c.per_1000_deliveries_ms
        );
    }
    if !row.close_reasons.is_empty() {
        println!("[{label}]   close reasons: {:?}", row.close_reasons);
    }
}

/// Starts `count` floor broadcasters as child processes on free ports (as many as the stack has
/// edges, so the sockets are held by as many processes); returns them and their URLs.
pub async fn start_floors(
    nats_url: &str,
    count: usize,
) -> anyhow::Result<(Vec<Child>, Vec<String>)> {
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..count.max(1) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new(std::env::current_exe()?)
            .args([
                "floor",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--nats",
                nats_url,
            ])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting the floor broadcaster")?;
        let deadline = now_ns() + 10_000_000_000;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if now_ns() > deadline {
                bail!("the floor broadcaster did not listen on {port}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        children.push(child);
        urls.push(format!("ws://127.0.0.1:{port}/"));
    }
    Ok((children, urls))
}
