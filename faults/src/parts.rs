//! The running parts, as start.sh left them: `$RUN_DIR/pids/<part>.pid`. Killing one is a real
//! `kill -9`; start.sh (run with `RESTART=1`) starts it again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The pid files of one run.
pub struct Parts {
    run_dir: PathBuf,
    pids: PathBuf,
}

impl Parts {
    pub fn new(run_dir: &Path) -> Parts {
        Parts {
            run_dir: run_dir.to_owned(),
            pids: run_dir.join("pids"),
        }
    }

    /// Where start.sh keeps the data of a one-machine Redis (`$RUN_DIR/redis`).
    pub fn redis_dir(&self) -> PathBuf {
        self.run_dir.join("redis")
    }

    /// The part's process is running: its pid file names a process that has not exited (an
    /// exited one stays a zombie until start.sh reaps it, within a second).
    pub fn running(&self, part: &str) -> bool {
        self.pid(part).is_some_and(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // pid (comm) STATE …; comm may hold spaces, so read after its last ')'.
                stat.rsplit(')')
                    .next()
                    .map(str::trim_start)
                    .is_some_and(|rest| !rest.starts_with('Z'))
            })
        })
    }

    /// Part names whose name starts with `prefix` (e.g. `edge-`, `nats`, `booking`), sorted.
    pub fn named(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.pids)
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".pid")
                            .map(str::to_owned)
                    })
                    .filter(|n| n.starts_with(prefix))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    pub fn pid(&self, part: &str) -> Option<u32> {
        std::fs::read_to_string(self.pids.join(format!("{part}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// `kill -9` of one part; returns its pid.
    pub fn kill9(&self, part: &str) -> anyhow::Result<u32> {
        let pid = self
            .pid(part)
            .with_context(|| format!("no pid file for {part} in {}", self.pids.display()))?;
        let status = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -9 {pid} ({part}) failed");
        }
        Ok(pid)
    }

    /// Waits until start.sh has started `part` again (a new pid in its file).
    pub async fn wait_restarted(&self, part: &str, old_pid: u32, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.pid(part).is_some_and(|p| p != old_pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

/// The port of the Redis Cluster master serving `key`, asked of the node on `port`.
pub fn cluster_master_of(port: u16, key: &str) -> anyhow::Result<u16> {
    let cli = |args: &[&str]| -> anyhow::Result<String> {
        let output = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .context("redis-cli")?;
        Ok(String::from_utf8_lossy(&output.stdout).to_string())
    };
    let slot: u16 = cli(&["CLUSTER", "KEYSLOT", key])?.trim().parse()?;
    let slots = cli(&["CLUSTER", "SLOTS"])?;
    let lines: Vec<&str> = slots.lines().map(str::trim).collect();
    for i in 0..lines.len().saturating_sub(3) {
        if let (Ok(start), Ok(end)) = (lines[i].parse::<u16>(), lines[i + 1].parse::<u16>()) {
            if (start..=end).contains(&slot) {
                return Ok(lines[i + 3].parse()?);
            }
        }
    }
    bail!("no master for slot {slot}")
}
