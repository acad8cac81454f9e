//! Losing a node of a cluster under load: a Redis master, a NATS server, and a venue's slot
//! moved between Redis masters.

use std::time::{Duration, Instant};

use super::{failed, missing, Row, Stack};
use crate::ledger::{audit, BookingLoad};
use crate::parts::cluster_master_of;
use testkit::{EventLog, Reading};

/// `kill -9` of the Redis (master) holding the rush venue during a booking burst.
pub async fn redis_master(stack: &Stack, venue: &str, rows: u16, cols: u16) -> Row {
    stack.reset().await;
    let part = if stack.cluster {
        match cluster_master_of(stack.redis_port, &format!("seq:{{{venue}}}")) {
            Ok(port) => format!("redis-{port}"),
            Err(e) => return failed("redis master", &format!("no master found: {e}")),
        }
    } else {
        stack
            .parts
            .named("redis")
            .first()
            .cloned()
            .unwrap_or_else(|| "redis".into())
    };
    let load = BookingLoad::start(&stack.bookings, venue, rows, cols, 16, || stack.mint());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_at = Instant::now();
    let old = match stack.parts.kill9(&part) {
        Ok(pid) => pid,
        Err(e) => return failed("redis master", &e.to_string()),
    };
    // Keep booking until writes have been accepted again for 2 s.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut back_at = None;
    while Instant::now() < deadline {
        let first_ok = load
            .ledger
            .lock()
            .unwrap()
            .oks
            .iter()
            .find(|t| **t > killed_at + Duration::from_millis(50))
            .copied();
        if let Some(at) = first_ok {
            back_at = Some(at);
            if at.elapsed() > Duration::from_secs(2) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ledger = load.stop().await;
    let restarted = stack
        .parts
        .wait_restarted(&part, old, Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let Some(truth) = stack.truth(venue).await else {
        return failed("redis master", "no booking service answered afterwards");
    };
    let ledger = ledger.lock().unwrap();
    let result = audit(&ledger, &truth);
    let window = back_at.map(|at| at.duration_since(killed_at));
    Row {
        scenario: format!("`kill -9` the Redis {} during a booking burst", if stack.cluster { "master of the venue (its replica is promoted)" } else { "server (start.sh restarts it; AOF)" }),
        done: format!("16 clients select+book seats of `{venue}` through {} booking service(s); `{part}` killed after 2 s", stack.bookings.len()),
        observed: format!(
            "writes accepted again after {}; {} bookings answered OK, {} lost, {} that were never acknowledged (phantom), {} in doubt (no answer or 503) of which booked: {}; killed part restarted: {restarted}",
            window.map(|w| format!("{:.1} s", w.as_secs_f64())).unwrap_or_else(|| "never".into()),
            result.acknowledged, result.lost.len(), result.phantom.len(), ledger.in_doubt.len(), result.in_doubt_booked
        ),
        figures: format!(
            "unavailable {}; lost {}; phantom {}",
            window.map(|w| format!("{:.1} s", w.as_secs_f64())).unwrap_or_else(|| "∞".into()),
            result.lost.len(),
            result.phantom.len()
        ),
        passed: window.is_some() && result.lost.is_empty() && result.phantom.is_empty() && result.acknowledged > 0,
    }
}

/// `kill -9` of one NATS node (or the NATS server) under steady changes.
pub async fn nats_node(stack: &Stack) -> Row {
    stack.reset().await;
    let names = stack.parts.named("nats");
    let (victim, watch_url) = if stack.cluster && names.len() > 1 {
        (names[0].clone(), stack.nats[1].clone())
    } else {
        (
            names.first().cloned().unwrap_or_else(|| "nats".into()),
            stack.nats[0].clone(),
        )
    };
    let seen = match EventLog::try_subscribe(&watch_url).await {
        Ok(log) => log,
        Err(e) => return failed("nats node", &format!("subscriber: {e}")),
    };
    let viewers = stack.viewers(stack.viewers.min(200), Reading::Normal);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (churn, stop) = stack.churn(20);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let old = match stack.parts.kill9(&victim) {
        Ok(pid) => pid,
        Err(e) => return failed("nats node", &e.to_string()),
    };
    tokio::time::sleep(Duration::from_secs(6)).await;
    *stop.lock().unwrap() = true;
    let changes = churn.await.unwrap_or(0);
    let stopped = Instant::now();
    let converged = stack.converge(&viewers, Duration::from_secs(15)).await;
    let restarted = stack
        .parts
        .wait_restarted(&victim, old, Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = seen.arrivals();
    let (first, last, gaps) = missing(&seen, "main");
    let violations: usize = viewers
        .iter()
        .map(|v| v.view.lock().unwrap().violations.len())
        .sum();
    Row {
        scenario: "`kill -9` one NATS node".into(),
        done: format!(
            "{} viewers through NGINX, a `seats.>` subscriber on {}, ~20 changes/s; `{victim}` killed after 2 s",
            viewers.len(),
            if stack.cluster { "another node" } else { "the same server" }
        ),
        observed: format!(
            "{changes} changes made; subscriber saw seqs {first}..={last} with {} missing; viewers converged {} after the last change; {violations} seq violations; NATS restarted: {restarted}",
            gaps.len(),
            converged.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or_else(|| "NOT within 15 s".into()),
        ),
        figures: format!(
            "missing {}; converge {}",
            gaps.len(),
            converged.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or_else(|| "∞".into())
        ),
        passed: gaps.is_empty() && converged.is_some() && violations == 0 && stopped.elapsed() < Duration::from_secs(60),
    }
}

/// Moves the hash slot of the rush venue to another master while bookings go on (a live
/// resharding step, as `redis-cli --cluster reshard` does it, for one slot).
pub async fn reshard(stack: &Stack, venue: &str, rows: u16, cols: u16) -> Row {
    if !stack.cluster {
        return failed("reshard", "needs the cluster topology");
    }
    stack.reset().await;
    let key = format!("seq:{{{venue}}}");
    let cli = redis_cli;
    let Ok(source) = cluster_master_of(stack.redis_port, &key) else {
        return failed("reshard", "no master for the venue");
    };
    let slot = cli(source, &["CLUSTER", "KEYSLOT", &key]);
    let source_id = cli(source, &["CLUSTER", "MYID"]);
    let Some((target_id, target)) = other_master(source, &source_id) else {
        return failed("reshard", "no other master");
    };
    let load = BookingLoad::start(&stack.bookings, venue, rows, cols, 16, || stack.mint());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let moved = move_slot(&slot, (source, &source_id), (target, &target_id), started);
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ledger = load.stop().await;
    let now_master = cluster_master_of(stack.redis_port, &key).unwrap_or(0);
    let Some(truth) = stack.truth(venue).await else {
        return failed("reshard", "no booking service answered afterwards");
    };
    let ledger = ledger.lock().unwrap();
    let result = audit(&ledger, &truth);
    let oks_after = ledger.oks.iter().filter(|t| **t > started + took).count();
    Row {
        scenario: "Moving the venue's slot to another master under load (resharding)".into(),
        done: format!("16 clients select+book seats of `{venue}`; slot {slot} ({moved} keys) migrated from :{source} to :{target} with SETSLOT/MIGRATE"),
        observed: format!(
            "migration took {:.1} s; the venue's master is now :{now_master}; {} bookings answered OK ({oks_after} after the move), {} lost, {} phantom, {} in doubt",
            took.as_secs_f64(), result.acknowledged, result.lost.len(), result.phantom.len(), ledger.in_doubt.len()
        ),
        figures: format!("lost {}; phantom {}", result.lost.len(), result.phantom.len()),
        passed: now_master == target && result.lost.is_empty() && result.phantom.is_empty() && oks_after > 0,
    }
}

/// `redis-cli -p port args…`, its output trimmed ("" when it could not run).
fn redis_cli(port: u16, args: &[&str]) -> String {
    std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A healthy master other than `source_id`, asked of the node on `source`: its id and port.
fn other_master(source: u16, source_id: &str) -> Option<(String, u16)> {
    let nodes = redis_cli(source, &["CLUSTER", "NODES"]);
    nodes.lines().find_map(|line| {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() <= 8 || !f[2].contains("master") || f[2].contains("fail") || f[0] == source_id {
            return None;
        }
        let port = f[1].split(['@', ':']).nth(1)?.parse::<u16>().ok()?;
        Some((f[0].to_owned(), port))
    })
}

/// Moves `slot` from `source` to `target` (port, node id) as `redis-cli --cluster reshard`
/// does: IMPORTING/MIGRATING, MIGRATE its keys 200 at a time (for at most 30 s after
/// `started`), then NODE on both. Returns how many keys moved.
fn move_slot(slot: &str, source: (u16, &str), target: (u16, &str), started: Instant) -> usize {
    let ((source, source_id), (target, target_id)) = (source, target);
    redis_cli(
        target,
        &["CLUSTER", "SETSLOT", slot, "IMPORTING", source_id],
    );
    redis_cli(
        source,
        &["CLUSTER", "SETSLOT", slot, "MIGRATING", target_id],
    );
    let mut moved = 0usize;
    let target_port = target.to_string();
    loop {
        let keys = redis_cli(source, &["CLUSTER", "GETKEYSINSLOT", slot, "200"]);
        let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
        if keys.is_empty() {
            break;
        }
        let mut args = vec!["MIGRATE", "127.0.0.1", &target_port, "0", "5000", "KEYS"];
        args.extend(keys.iter().copied());
        redis_cli(source, &args);
        moved += keys.len();
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    for port in [target, source] {
        redis_cli(port, &["CLUSTER", "SETSLOT", slot, "NODE", target_id]);
    }
    moved
}
