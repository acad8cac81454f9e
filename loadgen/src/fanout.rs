//! Fan-out at scale: viewers in child processes (each process has at most a few thousand sockets,
//! well under the file-descriptor limit), a change driver in this one, and the servers' CPU and
//! memory read from `/proc` around each phase.
//!
//! A viewer process is `seatbench viewers …`; it connects its share, prints one JSON line when
//! they are ready, then answers JSON-line commands on stdin (`count`, `report`, `quit`).

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::driver::{ChangeDriver, Sent};
use crate::sys::{cpu_ms_sum, now_ns, rss_kib_sum};
use crate::viewers::{GroupSpec, Joins, Report, ViewerGroup};

/// A command to a viewer process.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum ViewerCommand {
    Count {
        from: u64,
        to: u64,
    },
    Report {
        first_seq: u64,
        sent_ns: Vec<u64>,
        #[serde(default)]
        probe_ns: Vec<u64>,
    },
    Quit,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counted {
    pub delivered: u64,
    pub closed: u64,
}

/// The body of `seatbench viewers`: serves commands on stdin/stdout until `quit` or EOF.
pub async fn serve_viewer_process(spec: GroupSpec, timeout: Duration) -> anyhow::Result<()> {
    let group = ViewerGroup::connect(&spec, timeout).await?;
    let mut out = tokio::io::stdout();
    let mut joins = group.joins().await?;
    joins.join.to_wire();
    out.write_all(format!("{}\n", serde_json::to_string(&joins)?).as_bytes())
        .await?;
    out.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let answer = match serde_json::from_str::<ViewerCommand>(&line)? {
            ViewerCommand::Count { from, to } => {
                let (delivered, closed) = group.count(from, to).await?;
                serde_json::to_string(&Counted { delivered, closed })?
            }
            ViewerCommand::Report {
                first_seq,
                sent_ns,
                probe_ns,
            } => {
                let mut report = group.report(first_seq, sent_ns, probe_ns).await?;
                report.latency.to_wire();
                report.hop.to_wire();
                serde_json::to_string(&report)?
            }
            ViewerCommand::Quit => break,
        };
        out.write_all(format!("{answer}\n").as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}

struct ViewerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl ViewerProcess {
    async fn ask<T: for<'de> Deserialize<'de>>(
        &mut self,
        command: &ViewerCommand,
    ) -> anyhow::Result<T> {
        let line = serde_json::to_string(command)? + "\n";
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let answer = self
            .stdout
            .next_line()
            .await?
            .context("a viewer process exited")?;
        Ok(serde_json::from_str(&answer)?)
    }
}

/// Viewers spread over child processes.
pub struct ViewerProcesses {
    procs: Vec<ViewerProcess>,
    pub joins: Joins,
    pub connect_seconds: f64,
}

impl ViewerProcesses {
    /// Starts `ceil(count / per_process)` viewer processes and waits until every one reports.
    pub async fn start(
        spec: &GroupSpec,
        per_process: usize,
        timeout: Duration,
    ) -> anyhow::Result<ViewerProcesses> {
        let exe = std::env::current_exe()?;
        let n = spec.count.div_ceil(per_process.max(1)).max(1);
        let started = now_ns();
        let mut procs = Vec::with_capacity(n);
        for p in 0..n {
            let first = p * spec.count / n;
            let last = (p + 1) * spec.count / n;
            let mut part = spec.clone();
            part.offset = spec.offset + first;
            part.count = last - first;
            let mut child = tokio::process::Command::new(&exe)
                .arg("viewers")
                .arg("--spec")
                .arg(serde_json::to_string(&part)?)
                .arg("--timeout-secs")
                .arg(timeout.as_secs().to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .context("starting a viewer process")?;
            let stdin = child.stdin.take().context("stdin")?;
            let stdout = BufReader::new(child.stdout.take().context("stdout")?).lines();
            procs.push(ViewerProcess {
                child,
                stdin,
                stdout,
            });
        }
        let mut joins = Joins::default();
        for proc in &mut procs {
            let line = proc
                .stdout
                .next_line()
                .await?
                .context("a viewer process exited before its viewers were ready")?;
            let part: Joins = serde_json::from_str(&line)?;
            joins.merge(&part);
        }
        Ok(ViewerProcesses {
            procs,
            joins,
            connect_seconds: (now_ns() - started) as f64 / 1e9,
        })
    }

    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().filter_map(|p| p.child.id()).collect()
    }

    pub async fn count(&mut self, from: u64, to: u64) -> anyhow::Result<Counted> {
        let mut total = Counted::default();
        for proc in &mut self.procs {
            let c: Counted = proc.ask(&ViewerCommand::Count { from, to }).await?;
            total.delivered += c.delivered;
            total.closed += c.closed;
        }
        Ok(total)
    }

    pub async fn report(&mut self, sent: &Sent, probe_ns: &[u64]) -> anyhow::Result<Report> {
        let mut total = Report::default();
        for proc in &mut self.procs {
            let part: Report = proc
                .ask(&ViewerCommand::Report {
                    first_seq: sent.first_seq,
                    sent_ns: sent.sent_ns.clone(),
                    probe_ns: probe_ns.to_vec(),
                })
                .await?;
            total.merge(&part);
        }
        Ok(total)
    }

    pub async fn quit(mut self) {
        for proc in &mut self.procs {
            let _ = proc.stdin.write_all(b"{\"cmd\":\"quit\"}\n").await;
            let _ = proc.stdin.flush().await;
        }
        for proc in &mut self.procs {
            if tokio::time::timeout(Duration::from_secs(5), proc.child.wait())
                .await
                .is_err()
            {
                let _ = proc.child.kill().await;
            }
        }
    }
}

/// A server whose CPU and memory are reported: a name and its processes.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub pids: Vec<u32>,
}

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
    pub async fn start(nats_url: &str, venue: &str) -> anyhow::Result<NatsProbe> {
        use futures_util::StreamExt;
        let client = async_nats::connect(nats_url).await?;
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

/// Connects the viewers, runs every phase, and returns one JSON row per phase.
pub async fn run_target(run: &TargetRun<'_>) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut driver = ChangeDriver::new(run.booking, run.venue).await?;
    let probe = match run.probe_nats {
        Some(url) => Some(NatsProbe::start(url, run.venue).await?),
        None => None,
    };
    let rss_before: Vec<u64> = run.servers.iter().map(|s| rss_kib_sum(&s.pids)).collect();
    println!(
        "[{}] connecting {} viewers ({:?}) to {}",
        run.label,
        run.spec.count,
        run.spec.protocol,
        run.spec.urls.join(",")
    );
    let mut viewers =
        ViewerProcesses::start(&run.spec, run.per_process, Duration::from_secs(90)).await?;
    let joins = viewers.joins.clone();
    let ready = joins.ready;
    println!(
        "[{}] {ready} ready, {} failed in {:.1} s{}",
        run.label,
        joins.failed,
        viewers.connect_seconds,
        joins
            .first_error
            .as_deref()
            .map(|e| format!(" (first error: {e})"))
            .unwrap_or_default()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle: Vec<u64> = run.servers.iter().map(|s| rss_kib_sum(&s.pids)).collect();
    let client_pids = viewers.pids();
    let mut rows = Vec::new();
    for phase in run.phases {
        let cpu0: Vec<u64> = run.servers.iter().map(|s| cpu_ms_sum(&s.pids)).collect();
        let client0 = cpu_ms_sum(&client_pids) + crate::sys::cpu_ms(std::process::id());
        let sent = driver.run(phase.rate, phase.changes).await?;
        let expected = sent.sent_ns.len() as u64 * ready;
        let drain_started = now_ns();
        let mut last = (0u64, now_ns());
        // Whether every delivery arrived (or its viewer closed) before the drain limit.
        let mut drained = sent.sent_ns.is_empty();
        if !sent.sent_ns.is_empty() {
            loop {
                let counted = viewers.count(sent.first_seq, sent.last_seq()).await?;
                let now = now_ns();
                if counted.delivered + counted.closed * sent.sent_ns.len() as u64 >= expected {
                    drained = true;
                    break;
                }
                if counted.delivered > last.0 {
                    last = (counted.delivered, now);
                }
                if now - last.1 > 3_000_000_000
                    || now - drain_started > run.drain_limit.as_nanos() as u64
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let drain_s = (now_ns() - drain_started) as f64 / 1e9;
        let cpu1: Vec<u64> = run.servers.iter().map(|s| cpu_ms_sum(&s.pids)).collect();
        let client1 = cpu_ms_sum(&client_pids) + crate::sys::cpu_ms(std::process::id());
        let probe_ns = probe.as_ref().map(|p| p.times(&sent)).unwrap_or_default();
        let mut upstream = crate::stats::Histogram::default();
        for (sent_at, seen_at) in sent.sent_ns.iter().zip(&probe_ns) {
            if *seen_at > 0 {
                upstream.record(seen_at.saturating_sub(*sent_at));
            }
        }
        let report = viewers.report(&sent, &probe_ns).await?;
        driver.release_all().await?;
        let s = report.latency.summary();
        let per_thousand = |ms: u64| {
            if report.delivered == 0 {
                0.0
            } else {
                ms as f64 / (report.delivered as f64 / 1000.0)
            }
        };
        let cpu: serde_json::Map<String, serde_json::Value> = run
            .servers
            .iter()
            .enumerate()
            .map(|(i, server)| {
                let ms = cpu1[i].saturating_sub(cpu0[i]);
                (
                    server.name.clone(),
                    json!({"ms": ms, "per_1000_deliveries_ms": per_thousand(ms)}),
                )
            })
            .collect();
        let memory: serde_json::Map<String, serde_json::Value> = run
            .servers
            .iter()
            .enumerate()
            .map(|(i, server)| {
                let per = |kib: u64, base: u64| {
                    if ready == 0 {
                        0.0
                    } else {
                        kib.saturating_sub(base) as f64 / ready as f64
                    }
                };
                let after = rss_kib_sum(&server.pids);
                (
                    server.name.clone(),
                    json!({
                        "rss_before_kib": rss_before[i], "rss_idle_kib": rss_idle[i], "rss_after_kib": after,
                        "idle_kib_per_connection": per(rss_idle[i], rss_before[i]),
                        "after_kib_per_connection": per(after, rss_before[i]),
                    }),
                )
            })
            .collect();
        if upstream.count > 0 {
            println!(
                "[{}]   API call -> NATS subscriber: {}; NATS subscriber -> viewer: {}",
                run.label,
                upstream.summary(),
                report.hop.summary()
            );
        }
        println!(
            "[{}] {} viewers, {} changes at {}/s (achieved {:.1}/s): {s}; missing {}, resynced {}, duplicates {}, out of order {}, closed {}",
            run.label,
            ready,
            sent.sent_ns.len(),
            phase.rate,
            sent.sent_ns.len() as f64 / sent.seconds.max(1e-9),
            report.missing,
            report.resynced,
            report.duplicates,
            report.out_of_order,
            report.closed
        );
        for (name, c) in &cpu {
            println!(
                "[{}]   {name}: {} ms CPU = {:.1} ms per 1,000 deliveries",
                run.label,
                c["ms"],
                c["per_1000_deliveries_ms"].as_f64().unwrap_or(0.0)
            );
        }
        if !report.close_reasons.is_empty() {
            println!(
                "[{}]   close reasons: {:?}",
                run.label, report.close_reasons
            );
        }
        rows.push(json!({
            "kind": "fanout",
            "label": run.label,
            "protocol": run.spec.protocol,
            "viewers": run.spec.count,
            "ready": ready,
            "connect_failed": joins.failed,
            "connect_error": joins.first_error,
            "connect_s": viewers.connect_seconds,
            "join_p50_ms": joins.join.summary().p50_ms,
            "join_p99_ms": joins.join.summary().p99_ms,
            "rate": phase.rate,
            "changes": sent.sent_ns.len(),
            "change_failures": sent.failures,
            "achieved_rate": sent.sent_ns.len() as f64 / sent.seconds.max(1e-9),
            "drain_s": drain_s,
            "drained": drained,
            "latency": s,
            "upstream": upstream.summary(),
            "hop": report.hop.summary(),
            "state_bytes": joins.state_bytes,
            "delivered": report.delivered,
            "expected": report.expected,
            "missing": report.missing,
            "resynced": report.resynced,
            "duplicates": report.duplicates,
            "out_of_order": report.out_of_order,
            "closed": report.closed,
            "close_reasons": report.close_reasons,
            "cpu": cpu,
            "client_cpu_ms": (client1 - client0),
            "memory": memory,
        }));
    }
    viewers.quit().await;
    Ok(rows)
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
