//! Live resharding under load: the hash slots of two venues moved to other Redis Cluster
//! masters, one after the other, by the procedure the Redis docs give for `CLUSTER SETSLOT`,
//! while a booking burst (with a ledger) and seat changes watched by viewers go on.

use std::process::Command;
use std::time::{Duration, Instant};

use super::{failed, Row, Stack};
use crate::ledger::{audit, BookingLoad};
use crate::parts::cluster_master_of;
use testkit::Reading;

/// How long the keys of one slot may take to move before the scenario gives up on them.
const MOVE_PATIENCE: Duration = Duration::from_secs(30);

/// One slot moved: which, from where to where, how many keys and how long it took.
struct Move {
    venue: String,
    slot: String,
    source: u16,
    target: u16,
    keys: usize,
    took: Duration,
}

/// Moves the slot of the rush venue (16 clients booking, with a ledger) and then the slot of
/// `main` (~20 changes/s watched by viewers through NGINX) to another master each. Longer than
/// most functions here: one scenario read top to bottom, and half of it is the text of its row.
pub async fn reshard(stack: &Stack, venue: &str, rows: u16, cols: u16) -> Row {
    if !stack.cluster {
        return failed("reshard", "needs the cluster topology");
    }
    stack.reset().await;
    let viewers = stack.viewers(stack.viewers.min(200), Reading::Normal);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (churn, stop_churn) = stack.churn(20);
    let load = BookingLoad::start(&stack.bookings, venue, rows, cols, 16, || stack.mint());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let mut moves = Vec::new();
    for moved_venue in [venue, "main"] {
        println!("[faults] reshard: moving the slot of `{moved_venue}`");
        match move_venue(stack.redis_port, moved_venue) {
            Ok(step) => moves.push(step),
            Err(why) => {
                load.stop().await;
                *stop_churn.lock().unwrap() = true;
                let _ = churn.await;
                return failed("reshard", &format!("moving `{moved_venue}`: {why}"));
            }
        }
    }
    let moved_at = Instant::now();
    // Keep selling for 3 s after the last move: sales must go on on the new masters.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ledger = load.stop().await;
    *stop_churn.lock().unwrap() = true;
    let changes = churn.await.unwrap_or(0);
    let converged = stack.converge(&viewers, Duration::from_secs(15)).await;
    let owners_agree = moves
        .iter()
        .all(|m| every_master_says(stack.redis_port, &m.venue, m.target));
    let Some(truth) = stack.truth(venue).await else {
        return failed("reshard", "the venue was unreadable after the move");
    };
    let ledger = ledger.lock().unwrap();
    let result = audit(&ledger, &truth);
    let during = |t: &&Instant| **t >= started && **t <= moved_at;
    let refused = ledger.failures.iter().filter(during).count();
    let oks_during = ledger.oks.iter().filter(during).count();
    let oks_after = ledger.oks.iter().filter(|t| **t > moved_at).count();
    let refused_after = ledger.failures.iter().filter(|t| **t > moved_at).count();
    let before = |t: &&Instant| **t < started && **t + Duration::from_secs(2) >= started;
    let rate_before = ledger.oks.iter().filter(before).count() as f64 / 2.0;
    let rate_after = oks_after as f64 / 3.0;
    let violations: usize = viewers
        .iter()
        .map(|v| v.view.lock().unwrap().violations.len())
        .sum();
    let described: Vec<String> = moves
        .iter()
        .map(|m| {
            format!(
                "`{}` (slot {}, {} keys) :{} → :{} in {:.2} s",
                m.venue,
                m.slot,
                m.keys,
                m.source,
                m.target,
                m.took.as_secs_f64()
            )
        })
        .collect();
    let converged_text = converged
        .map(|d| format!("{:.2} s", d.as_secs_f64()))
        .unwrap_or_else(|| "NOT within 15 s".into());
    Row {
        scenario: "Moving a venue's slot to another master under load (live resharding)".into(),
        done: format!(
            "16 clients select+book seats of `{venue}` through {} booking services; ~20 changes/s on `main` watched by {} viewers through NGINX; each venue's slot moved by the Redis docs' procedure (SETSLOT IMPORTING on the new master, MIGRATING on the old, MIGRATE … KEYS 100 at a time, SETSLOT NODE on the new, the old and every other master)",
            stack.bookings.len(),
            viewers.len()
        ),
        observed: format!(
            "moved {}; every master names the new owners: {owners_agree}; {} bookings answered OK ({oks_during} during the moves, {oks_after} in the 3 s after: {rate_after:.0}/s, {rate_before:.0}/s in the 2 s before), {refused} refused or unanswered during the moves and {refused_after} after, {}; {changes} changes on `main`; viewers converged {converged_text} after the last change; {violations} seq violations",
            described.join(", "),
            result.acknowledged,
            result.tally(ledger.in_doubt.len())
        ),
        figures: format!(
            "lost {}; phantom {}; refused during the moves {refused}, after {refused_after}; OK/s {rate_before:.0} before, {rate_after:.0} after; converge {converged_text}",
            result.lost.len(),
            result.phantom.len()
        ),
        passed: owners_agree
            && result.lost.is_empty()
            && result.phantom.is_empty()
            && oks_after > 0
            && refused_after == 0
            && converged.is_some()
            && violations == 0,
    }
}

/// Moves the slot of `venue`'s keys from its master to another one.
fn move_venue(any_port: u16, venue: &str) -> Result<Move, String> {
    let key = format!("seq:{{{venue}}}");
    let source = cluster_master_of(any_port, &key).map_err(|e| e.to_string())?;
    let slot = redis(source, &["CLUSTER", "KEYSLOT", &key])?;
    let source_id = redis(source, &["CLUSTER", "MYID"])?;
    let masters = masters(source)?;
    let (target_id, target) = masters
        .iter()
        .find(|(id, _)| *id != source_id)
        .cloned()
        .ok_or("no other master")?;
    let started = Instant::now();
    let keys = move_slot(&slot, (source, &source_id), (target, &target_id), &masters)?;
    Ok(Move {
        venue: venue.to_owned(),
        slot,
        source,
        target,
        keys,
        took: started.elapsed(),
    })
}

/// The live resharding of one slot, step by step as the Redis docs give it
/// (`CLUSTER SETSLOT`, "How to perform live resharding"): the target imports before the
/// source migrates (so the source's ASK redirections find a target ready), every key moves
/// with `MIGRATE … KEYS`, and the new owner is set on the target first (so a client sent
/// there by the source's MOVED is served), then the source, then every other master (so no
/// master keeps sending clients to the old owner). Returns how many keys moved.
fn move_slot(
    slot: &str,
    (source, source_id): (u16, &str),
    (target, target_id): (u16, &str),
    masters: &[(String, u16)],
) -> Result<usize, String> {
    redis(
        target,
        &["CLUSTER", "SETSLOT", slot, "IMPORTING", source_id],
    )?;
    redis(
        source,
        &["CLUSTER", "SETSLOT", slot, "MIGRATING", target_id],
    )?;
    let started = Instant::now();
    let target_port = target.to_string();
    let mut moved = 0;
    loop {
        let keys = redis(source, &["CLUSTER", "GETKEYSINSLOT", slot, "100"])?;
        let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
        if keys.is_empty() {
            break;
        }
        if started.elapsed() > MOVE_PATIENCE {
            return Err(format!("keys still on :{source} after {MOVE_PATIENCE:?}"));
        }
        let mut migrate = vec![
            "MIGRATE",
            "127.0.0.1",
            &target_port,
            "",
            "0",
            "5000",
            "KEYS",
        ];
        migrate.extend(keys.iter().copied());
        let answer = redis(source, &migrate)?;
        if answer != "OK" && answer != "NOKEY" {
            return Err(format!("MIGRATE answered {answer}"));
        }
        moved += keys.len();
    }
    let others = masters
        .iter()
        .map(|(_, port)| *port)
        .filter(|port| *port != target && *port != source);
    for port in [target, source].into_iter().chain(others) {
        redis(port, &["CLUSTER", "SETSLOT", slot, "NODE", target_id])?;
    }
    Ok(moved)
}

/// Every master (asked one by one) says `venue`'s slot is served by `target`.
fn every_master_says(any_port: u16, venue: &str, target: u16) -> bool {
    let key = format!("seq:{{{venue}}}");
    masters(any_port).is_ok_and(|masters| {
        masters
            .iter()
            .all(|(_, port)| cluster_master_of(*port, &key).is_ok_and(|owner| owner == target))
    })
}

/// The healthy masters, as the node on `port` sees them: node id and port.
fn masters(port: u16) -> Result<Vec<(String, u16)>, String> {
    let nodes = redis(port, &["CLUSTER", "NODES"])?;
    Ok(nodes
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() <= 7 || !f[2].contains("master") || f[2].contains("fail") {
                return None;
            }
            let port = f[1].split(['@', ':']).nth(1)?.parse::<u16>().ok()?;
            Some((f[0].to_owned(), port))
        })
        .collect())
}

/// `redis-cli -p port args…`, its output trimmed; an error reply or a failed run is an error.
fn redis(port: u16, args: &[&str]) -> Result<String, String> {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .map_err(|e| format!("redis-cli: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let error_reply = text.starts_with("ERR") || text.starts_with("(error)");
    if !output.status.success() || error_reply {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "redis-cli -p {port} {}: {text}{}",
            args.first().copied().unwrap_or(""),
            stderr.trim()
        ));
    }
    Ok(text)
}
