//! A full disk under Redis's append-only file: the disk fills during a booking burst, Redis
//! (`appendfsync always`) stops at the AOF write it cannot make, and once the space is freed
//! start.sh (`RESTART=1`) brings it back and sales resume.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{failed, Row, Stack};
use crate::ledger::{audit, BookingLoad};

/// start.sh's name for the one-machine Redis.
const REDIS: &str = "redis-server";
/// How long the disk stays full after Redis stopped: start.sh restarts it meanwhile, and each
/// restarted Redis stops again at its first write.
const FULL_FOR: Duration = Duration::from_secs(5);

/// A file that takes every free byte of a file system, removed when dropped (also when the
/// scenario fails half-way).
struct Filler {
    path: PathBuf,
}

impl Filler {
    /// Writes zeros to `path` until the file system is full; returns it and its size.
    fn fill(path: PathBuf) -> std::io::Result<(Filler, u64)> {
        let mut file = std::fs::File::create(&path)?;
        let filler = Filler { path };
        let mut written = 0u64;
        // Large chunks first, then small ones for the last pages.
        for chunk in [1 << 20, 4096] {
            let zeros = vec![0u8; chunk];
            loop {
                match file.write(&zeros) {
                    Ok(n) if n > 0 => written += n as u64,
                    Ok(_) => break,
                    Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((filler, written))
    }
}

impl Drop for Filler {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The disk under Redis's AOF fills during a booking burst on `venue`, stays full for a while,
/// and is freed. Longer than most functions here: one scenario read top to bottom, and half of
/// it is the text of its row.
pub async fn disk_full(stack: &Stack, venue: &str, rows: u16, cols: u16) -> Row {
    let dir = stack.parts.redis_dir();
    if !is_tmpfs(&dir) {
        return failed(
            "disk",
            &format!(
                "{} is not a tmpfs of its own (scripts/faults.sh --disk mounts one)",
                dir.display()
            ),
        );
    }
    stack.reset().await;
    let load = BookingLoad::start(&stack.bookings, venue, rows, cols, 16, || stack.mint());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first_pid = stack.parts.pid(REDIS);
    let filled_at = Instant::now();
    let (filler, filled) = match Filler::fill(dir.join("filler")) {
        Ok(filled) => filled,
        Err(e) => {
            load.stop().await;
            return failed("disk", &format!("filling {}: {e}", dir.display()));
        }
    };
    println!(
        "[faults] disk: {} MiB written to {}; waiting for Redis to stop",
        filled >> 20,
        dir.display()
    );
    let Some(stopped_at) = wait_stopped(stack).await else {
        drop(filler);
        load.stop().await;
        return failed("disk", "Redis did not stop within 20 s of the disk filling");
    };
    let mut pids = pids_while_full(stack).await;
    pids.retain(|pid| Some(*pid) != first_pid);
    drop(filler);
    let freed_at = Instant::now();
    println!("[faults] disk: space freed; waiting for sales to resume");
    let resumed_at = wait_first_ok_after(&load, freed_at, Duration::from_secs(30)).await;
    // Keep selling 2 s more, so the restarted Redis takes a steady load.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ledger = load.stop().await;
    let running = stack.parts.running(REDIS);
    let Some(truth) = stack.truth(venue).await else {
        return failed("disk", "no booking service answered afterwards");
    };
    let ledger = ledger.lock().unwrap();
    let result = audit(&ledger, &truth);
    let healed_by = resumed_at.unwrap_or_else(Instant::now);
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, code) in ledger
        .refusals
        .iter()
        .filter(|(t, _)| *t >= filled_at && *t <= healed_by)
    {
        *codes.entry(code.as_str()).or_default() += 1;
    }
    let uncoded: usize = codes
        .iter()
        .filter(|(code, _)| **code != "UNAVAILABLE")
        .map(|(_, n)| n)
        .sum();
    let last_ok_before = ledger.oks.iter().filter(|t| **t <= stopped_at).max();
    let oks_while_full = ledger
        .oks
        .iter()
        .filter(|t| **t > stopped_at && **t < freed_at)
        .count();
    let oks_after = ledger.oks.iter().filter(|t| **t >= freed_at).count();
    let seconds = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    let down = match (last_ok_before, resumed_at) {
        (Some(last), Some(first)) => seconds(first.duration_since(*last)),
        _ => "—".into(),
    };
    let resumed = resumed_at
        .map(|at| seconds(at.duration_since(freed_at)))
        .unwrap_or_else(|| "never (within 30 s)".into());
    let codes_text: Vec<String> = codes.iter().map(|(c, n)| format!("{n} {c}")).collect();
    Row {
        scenario: "The disk under Redis's AOF fills (a tmpfs), then space is freed".into(),
        done: format!(
            "16 clients select+book seats of `{venue}` through {} booking service; Redis (`appendonly yes`, `appendfsync always`) keeps its AOF on a tmpfs of its own; after 2 s a file fills it ({} MiB), stays {} s after Redis stopped, and is removed",
            stack.bookings.len(),
            filled >> 20,
            FULL_FOR.as_secs()
        ),
        observed: format!(
            "Redis had stopped {} ms after the filling began, at its first AOF write that did not fit; start.sh started it again {} times while the disk was full; {oks_while_full} bookings answered OK while full; refusals from the fill until sales resumed: {}; sales resumed {resumed} after the space was freed (sales down {down} from the last OK to the first, {} s of it with the disk full); {} bookings answered OK ({oks_after} after the heal), {}; Redis running at the end: {running}",
            stopped_at.duration_since(filled_at).as_millis(),
            pids.len(),
            if codes_text.is_empty() { "none".into() } else { codes_text.join(", ") },
            FULL_FOR.as_secs(),
            result.acknowledged,
            result.tally(ledger.in_doubt.len())
        ),
        figures: format!(
            "sales down {down}; resumed {resumed} after the heal; lost {}; phantom {}; refusals not UNAVAILABLE {uncoded}",
            result.lost.len(),
            result.phantom.len()
        ),
        passed: resumed_at.is_some()
            && oks_while_full == 0
            && uncoded == 0
            && result.lost.is_empty()
            && result.phantom.is_empty()
            && running,
    }
}

/// `dir` is the mount point of a tmpfs (so filling it fills nothing else).
fn is_tmpfs(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    std::fs::read_to_string("/proc/mounts").is_ok_and(|mounts| {
        mounts.lines().any(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            fields.len() > 2 && fields[2] == "tmpfs" && Path::new(fields[1]) == dir
        })
    })
}

/// When Redis's process exited, within 20 s.
async fn wait_stopped(stack: &Stack) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if !stack.parts.running(REDIS) {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Watches Redis's pid for `FULL_FOR`: the processes start.sh started meanwhile.
async fn pids_while_full(stack: &Stack) -> BTreeSet<u32> {
    let until = Instant::now() + FULL_FOR;
    let mut pids = BTreeSet::new();
    while Instant::now() < until {
        if let Some(pid) = stack.parts.pid(REDIS) {
            pids.insert(pid);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pids
}

/// When the first booking after `after` was answered OK, within `within`.
async fn wait_first_ok_after(
    load: &BookingLoad,
    after: Instant,
    within: Duration,
) -> Option<Instant> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let first = load.ledger.lock().unwrap().first_ok_after(after);
        if first.is_some() {
            return first;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
