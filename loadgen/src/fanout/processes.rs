//! Viewer processes: `seatbench viewers …` connects its share of the viewers, prints one JSON
//! line when they are ready, then answers JSON-line commands on stdin (`count`, `report`,
//! `quit`); the fan-out driver starts them and asks them.

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::driver::Sent;
use crate::sys::now_ns;
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
