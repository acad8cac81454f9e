//! Losing a node of a cluster under load: a Redis master and a NATS server.

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
            .first_ok_after(killed_at + Duration::from_millis(50));
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
