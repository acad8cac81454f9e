//! Killing a service process under load: the booking service while holds run out, and an edge
//! under its viewers.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::{failed, missing, Row, Stack};
use testkit::{eventually, EventLog, Reading, Viewer};

/// `kill -9` of the booking service that runs the relay, with holds about to expire.
pub async fn booking_service(stack: &Stack, hold_seconds: u64) -> Row {
    stack.reset().await;
    let seen = match EventLog::try_subscribe(&stack.nats[stack.nats.len() - 1]).await {
        Ok(log) => log,
        Err(e) => return failed("booking service", &format!("subscriber: {e}")),
    };
    let names = stack.parts.named("booking");
    let Some(victim) = names.first().cloned() else {
        return failed("booking service", "no booking service pid file");
    };
    let survivors: Vec<String> = if names.len() > 1 {
        stack.bookings[1..].to_vec()
    } else {
        stack.bookings.clone()
    };
    let expiries = make_holds(stack).await;
    tokio::time::sleep(Duration::from_millis(
        (hold_seconds * 1000).saturating_sub(2500),
    ))
    .await;
    let killed = Instant::now();
    let old = match stack.parts.kill9(&victim) {
        Ok(pid) => pid,
        Err(e) => return failed("booking service", &e.to_string()),
    };
    let served_after = served_after(stack, &survivors[0], killed).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restarted = stack
        .parts
        .wait_restarted(&victim, old, Duration::from_secs(10))
        .await;
    let seen = seen.arrivals();
    let truth = stack.truth_seats("main").await;
    let still_held = expiries
        .keys()
        .filter(|s| truth.get(*s).is_some_and(|(st, _)| *st == 1))
        .count();
    let worst = worst_expiry_lateness(&seen, &expiries);
    let (_, _, gaps) = missing(&seen, "main");
    Row {
        scenario: "`kill -9` one booking service".into(),
        done: format!(
            "20 holds of {hold_seconds} s made through {} service(s), `{victim}` killed 2.5 s before the first ends",
            stack.bookings.len()
        ),
        observed: format!(
            "{} served a command {} after the kill; {} holds still held afterwards; expiries announced at most {} ms after their end; seqs missing on NATS: {}; killed service restarted: {restarted}",
            if names.len() > 1 { "the other service" } else { "the restarted service" },
            served_after.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or_else(|| "never".into()),
            still_held, worst, gaps.len()
        ),
        figures: format!("worst expiry {worst} ms late; missing {}", gaps.len()),
        passed: served_after.is_some() && still_held == 0 && worst <= 1000 && gaps.is_empty(),
    }
}

/// 20 holds made every 100 ms through every service, so several expire after a kill: seat ->
/// when its hold ends (unix ms, from Redis).
async fn make_holds(stack: &Stack) -> HashMap<String, u64> {
    let mut expiries: HashMap<String, u64> = HashMap::new();
    for i in 0..20usize {
        let seat = format!("{}{}", (b'A' + (i / 10) as u8) as char, i % 10 + 1);
        let (token, _) = stack.mint();
        let base = &stack.bookings[i % stack.bookings.len()];
        if stack.seat(base, "select", &seat, &token).await == "OK" {
            expiries.insert(seat, 0);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (seat, due) in expiries.iter_mut() {
        *due = redis_cli_score(stack, "holds:{main}", seat).unwrap_or(0);
    }
    expiries
}

/// How long after `killed` the service at `base` first answered a command OK (tried for 20 s).
async fn served_after(stack: &Stack, base: &str, killed: Instant) -> Option<Duration> {
    let (token, _) = stack.mint();
    while killed.elapsed() < Duration::from_secs(20) {
        if stack.seat(base, "select", "J1", &token).await == "OK" {
            return Some(killed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// How late (ms) the latest expiry was announced: an expiry is on time if its `released`
/// event reached NATS within 1 s of the hold's end. `i64::MAX` when none was seen.
fn worst_expiry_lateness(seen: &[(String, u64, u64)], expiries: &HashMap<String, u64>) -> i64 {
    let released_at: BTreeMap<u64, u64> = seen
        .iter()
        .filter(|(v, _, _)| v == "main")
        .map(|(_, s, at)| (*s, *at))
        .collect();
    let mut lateness: Vec<i64> = Vec::new();
    for due in expiries.values() {
        // The first event at or after the due time stands for its expiry (holds end in order).
        if let Some(at) = released_at.values().filter(|at| **at + 50 >= *due).min() {
            lateness.push(*at as i64 - *due as i64);
        }
    }
    lateness.iter().copied().max().unwrap_or(i64::MAX)
}

fn redis_cli_score(stack: &Stack, key: &str, member: &str) -> Option<u64> {
    let mut command = std::process::Command::new("redis-cli");
    if stack.cluster {
        command.arg("-c");
    }
    let output = command
        .args(["-p", &stack.redis_port.to_string(), "ZSCORE", key, member])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<f64>()
        .ok()
        .map(|s| s as u64)
}

/// `kill -9` of the edge that holds the most viewers, through NGINX.
pub async fn edge(stack: &Stack) -> Row {
    stack.reset().await;
    let viewers = stack.viewers(stack.viewers, Reading::Normal);
    let ready = eventually(Duration::from_secs(60), || {
        viewers
            .iter()
            .all(|v| v.view.lock().unwrap().seats.len() > 1)
    })
    .await;
    if !ready {
        return failed("edge", "viewers did not all get a VENUE_STATE within 60 s");
    }
    let held = hold_seats(&viewers).await;
    let Some((victim, on_victim)) = busiest_edge(&viewers) else {
        return failed("edge", "no viewer said which edge it is on");
    };
    let killed = Instant::now();
    if let Err(e) = stack.parts.kill9(&victim) {
        return failed("edge", &e.to_string());
    }
    let converged = back_on_the_truth(stack, &viewers, &victim, killed).await;
    let same_identity = viewers
        .iter()
        .filter(|v| {
            let s = &v.view.lock().unwrap().identity;
            s.user_id.is_some() && s.user_id == s.first_user_id
        })
        .count();
    let truth = stack.truth_seats("main").await;
    let holds_kept = held
        .iter()
        .filter(|(i, seat)| {
            let user = viewers[*i].view.lock().unwrap().identity.user_id.clone();
            truth
                .get(seat)
                .is_some_and(|(st, by)| *st == 1 && by.as_str() == user.as_deref())
        })
        .count();
    let violations: usize = viewers
        .iter()
        .map(|v| v.view.lock().unwrap().violations.len())
        .sum();
    Row {
        scenario: "`kill -9` an edge with viewers connected through NGINX".into(),
        done: format!("{} viewers through NGINX ({on_victim} on `{victim}`), {} of them holding a seat; `{victim}` killed", viewers.len(), held.len()),
        observed: format!(
            "the last viewer showed the true state {} after the kill; {same_identity} of {} kept their identity; {holds_kept} of {} holds kept by their holder; {violations} seq violations",
            converged.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or_else(|| "NOT within 60 s".into()),
            viewers.len(), held.len()
        ),
        figures: format!(
            "converged {}; identities {same_identity}/{}; holds {holds_kept}/{}",
            converged.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or_else(|| "∞".into()),
            viewers.len(), held.len()
        ),
        passed: converged.is_some() && same_identity == viewers.len() && holds_kept == held.len() && violations == 0,
    }
}

/// 40 viewers spread over all select a seat each over their socket; those answered OK.
async fn hold_seats(viewers: &[Viewer]) -> Vec<(usize, String)> {
    let holders: Vec<(usize, String)> = (0..40.min(viewers.len()))
        .map(|i| {
            (
                i * viewers.len() / 40,
                format!("{}{}", (b'A' + (i / 10) as u8) as char, i % 10 + 1),
            )
        })
        .collect();
    for (i, seat) in &holders {
        viewers[*i].send_command("SELECT_SEAT", seat, &format!("hold-{seat}"));
    }
    eventually(Duration::from_secs(10), || {
        holders
            .iter()
            .all(|(i, seat)| viewers[*i].answer(&format!("hold-{seat}")).is_some())
    })
    .await;
    holders
        .into_iter()
        .filter(|(i, seat)| viewers[*i].answer(&format!("hold-{seat}")).as_deref() == Some("OK"))
        .collect()
}

/// The edge most viewers are on, and how many.
fn busiest_edge(viewers: &[Viewer]) -> Option<(String, usize)> {
    let mut per_edge: HashMap<String, usize> = HashMap::new();
    for v in viewers {
        if let Some(edge) = v.view.lock().unwrap().identity.edge_id.clone() {
            *per_edge.entry(edge).or_default() += 1;
        }
    }
    per_edge.into_iter().max_by_key(|(_, n)| *n)
}

/// How long after `killed` every viewer was back on an edge that is up, showing the truth;
/// None after 60 s.
async fn back_on_the_truth(
    stack: &Stack,
    viewers: &[Viewer],
    victim: &str,
    killed: Instant,
) -> Option<Duration> {
    loop {
        let moved = viewers.iter().all(|v| {
            let s = v.view.lock().unwrap();
            s.connected && s.identity.edge_id.as_deref() != Some(victim)
        });
        if moved {
            if let Some(rest) = stack.converge(viewers, Duration::from_millis(200)).await {
                return Some(killed.elapsed() + rest);
            }
        }
        if killed.elapsed() > Duration::from_secs(60) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
