//! The fault scenarios. Each one runs under live load, kills one part with `kill -9`, and
//! reports what a user would check: acknowledged bookings kept, every seq delivered, every
//! viewer back on the true state, and how long it took.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use shared::TokenSigner;

use crate::ledger::{audit, BookingLoad};
use crate::parts::{cluster_master_of, Parts};
use crate::viewer::{taken, Reading, Seats, Viewer};

/// What a scenario runs against.
pub struct Stack {
    pub ws: String,
    pub bookings: Vec<String>,
    pub nats: Vec<String>,
    pub redis_port: u16,
    pub cluster: bool,
    pub parts: Parts,
    pub admin_token: String,
    pub signer: TokenSigner,
    pub viewers: usize,
}

/// One row of docs/reliability.md.
pub struct Row {
    pub scenario: String,
    pub done: String,
    pub observed: String,
    pub figures: String,
    pub passed: bool,
}

impl Stack {
    fn mint(&self) -> (String, String) {
        let token = self.signer.issue();
        (token.as_str().to_owned(), token.user_id())
    }

    fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .expect("http client")
    }

    /// The venue's true state, from whichever booking service answers.
    async fn truth(&self, venue: &str) -> Option<Value> {
        for base in &self.bookings {
            if let Ok(response) = self
                .http()
                .get(format!("{base}/api/venues/{venue}"))
                .send()
                .await
            {
                if response.status().is_success() {
                    return response.json().await.ok();
                }
            }
        }
        None
    }

    async fn reset(&self) {
        for base in &self.bookings {
            let answer = self
                .http()
                .post(format!("{base}/api/admin/reset"))
                .bearer_auth(&self.admin_token)
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return;
            }
        }
    }

    async fn seat(&self, base: &str, verb: &str, seat: &str, token: &str) -> String {
        let answer = self
            .http()
            .post(format!("{base}/api/seats/{verb}"))
            .json(&json!({"seat_id": seat, "token": token}))
            .send()
            .await;
        match answer {
            Ok(a) => {
                let body: Value = a.json().await.unwrap_or_default();
                if body["ok"] == json!(true) {
                    "OK".into()
                } else {
                    body["error"]["code"].as_str().unwrap_or("?").to_owned()
                }
            }
            Err(_) => "NO_ANSWER".into(),
        }
    }

    fn viewers(&self, count: usize, reading: Reading) -> Vec<Viewer> {
        (0..count)
            .map(|_| Viewer::spawn(self.ws.clone(), reading))
            .collect()
    }

    /// Waits until every viewer shows the truth of `main`; returns how long it took, or None.
    async fn converge(&self, viewers: &[Viewer], within: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(truth) = self.truth("main").await {
                let seq = truth["seq"].as_u64().unwrap_or(0);
                let seats: Seats = taken(&seats_of(&truth));
                if viewers.iter().all(|v| {
                    let (_, s, view) = v.view();
                    s == seq && taken(&view) == seats
                }) {
                    return Some(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Steady seat changes on `main` (select, then release) at about `per_second`.
    fn churn(&self, per_second: u64) -> (tokio::task::JoinHandle<u64>, Arc<Mutex<bool>>) {
        let stop = Arc::new(Mutex::new(false));
        let (bookings, signer, flag) = (self.bookings.clone(), self.signer.clone(), stop.clone());
        let http = self.http();
        let task = tokio::spawn(async move {
            let mut ok = 0;
            let mut n = 0usize;
            let token = signer.issue().as_str().to_owned();
            while !*flag.lock().unwrap() {
                let seat = format!("J{}", n % 10 + 1);
                let base = &bookings[n % bookings.len()];
                for verb in ["select", "release"] {
                    let sent = http
                        .post(format!("{base}/api/seats/{verb}"))
                        .json(&json!({"seat_id": seat, "token": token}))
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        ok += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(1000 / per_second.max(1))).await;
                }
                n += 1;
            }
            ok
        });
        (task, stop)
    }
}

fn seats_of(snapshot: &Value) -> Seats {
    snapshot["seats"]
        .as_array()
        .map(|seats| {
            seats
                .iter()
                .map(|s| {
                    let status = s["status"].as_u64().unwrap_or(0);
                    (
                        s["id"].as_str().unwrap_or("").to_owned(),
                        (status, s["held_by"].as_str().map(str::to_owned)),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A `seats.>` subscriber on `url` that reconnects at once; seq per venue as they arrive.
async fn subscriber(url: &str) -> anyhow::Result<Arc<Mutex<Vec<(String, u64, u64)>>>> {
    let client = async_nats::ConnectOptions::new()
        .max_reconnects(None)
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(url)
        .await?;
    let mut subscription = client.subscribe("seats.>").await?;
    client.flush().await?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        let _client = client;
        while let Some(message) = subscription.next().await {
            if let Ok(event) = serde_json::from_slice::<Value>(&message.payload) {
                sink.lock().unwrap().push((
                    event["venue"].as_str().unwrap_or("").to_owned(),
                    event["seq"].as_u64().unwrap_or(0),
                    shared::now_ms(),
                ));
            }
        }
    });
    Ok(seen)
}

/// Seqs of `venue` missing between the first and the last one seen.
fn missing(seen: &[(String, u64, u64)], venue: &str) -> (u64, u64, Vec<u64>) {
    let seqs: std::collections::BTreeSet<u64> = seen
        .iter()
        .filter(|(v, _, _)| v == venue)
        .map(|(_, s, _)| *s)
        .collect();
    let (Some(first), Some(last)) = (seqs.first().copied(), seqs.last().copied()) else {
        return (0, 0, Vec::new());
    };
    let gaps = (first..=last).filter(|s| !seqs.contains(s)).collect();
    (first, last, gaps)
}

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
    let seen = match subscriber(&watch_url).await {
        Ok(seen) => seen,
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
    let seen = seen.lock().unwrap().clone();
    let (first, last, gaps) = missing(&seen, "main");
    let violations: usize = viewers
        .iter()
        .map(|v| v.state.lock().unwrap().violations.len())
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

/// `kill -9` of the booking service that runs the relay, with holds about to expire.
pub async fn booking_service(stack: &Stack, hold_seconds: u64) -> Row {
    stack.reset().await;
    let seen = match subscriber(&stack.nats[stack.nats.len() - 1]).await {
        Ok(seen) => seen,
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
    // Holds made every 100 ms through every service, so several expire after the kill.
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
    tokio::time::sleep(Duration::from_millis(
        (hold_seconds * 1000).saturating_sub(2500),
    ))
    .await;
    let killed = Instant::now();
    let old = match stack.parts.kill9(&victim) {
        Ok(pid) => pid,
        Err(e) => return failed("booking service", &e.to_string()),
    };
    let (token, _) = stack.mint();
    let mut served_after = None;
    while killed.elapsed() < Duration::from_secs(20) {
        if stack.seat(&survivors[0], "select", "J1", &token).await == "OK" {
            served_after = Some(killed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restarted = stack
        .parts
        .wait_restarted(&victim, old, Duration::from_secs(10))
        .await;
    let seen = seen.lock().unwrap().clone();
    // An expiry is on time if its `released` event reached NATS within 1 s of the hold's end.
    let released_at: BTreeMap<u64, u64> = seen
        .iter()
        .filter(|(v, _, _)| v == "main")
        .map(|(_, s, at)| (*s, *at))
        .collect();
    let truth = stack.truth("main").await.unwrap_or_default();
    let still_held = expiries
        .keys()
        .filter(|s| seats_of(&truth).get(*s).is_some_and(|(st, _)| *st == 1))
        .count();
    let mut lateness: Vec<i64> = Vec::new();
    for due in expiries.values() {
        // The first event at or after the due time stands for its expiry (holds end in order).
        if let Some(at) = released_at.values().filter(|at| **at + 50 >= *due).min() {
            lateness.push(*at as i64 - *due as i64);
        }
    }
    let worst = lateness.iter().copied().max().unwrap_or(i64::MAX);
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
    let ready = wait_for(Duration::from_secs(60), || {
        viewers
            .iter()
            .all(|v| v.state.lock().unwrap().seats.len() > 1)
    })
    .await;
    if !ready {
        return failed("edge", "viewers did not all get a VENUE_STATE within 60 s");
    }
    // 40 viewers hold a seat each.
    let holders: Vec<(usize, String)> = (0..40.min(viewers.len()))
        .map(|i| {
            (
                i * viewers.len() / 40,
                format!("{}{}", (b'A' + (i / 10) as u8) as char, i % 10 + 1),
            )
        })
        .collect();
    for (i, seat) in &holders {
        viewers[*i].command("SELECT_SEAT", seat, &format!("hold-{seat}"));
    }
    wait_for(Duration::from_secs(10), || {
        holders
            .iter()
            .all(|(i, seat)| viewers[*i].answer(&format!("hold-{seat}")).is_some())
    })
    .await;
    let held: Vec<(usize, String)> = holders
        .into_iter()
        .filter(|(i, seat)| viewers[*i].answer(&format!("hold-{seat}")).as_deref() == Some("OK"))
        .collect();
    let mut per_edge: HashMap<String, usize> = HashMap::new();
    for v in &viewers {
        if let Some(edge) = v.state.lock().unwrap().edge_id.clone() {
            *per_edge.entry(edge).or_default() += 1;
        }
    }
    let Some((victim, on_victim)) = per_edge
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(e, n)| (e.clone(), *n))
    else {
        return failed("edge", "no viewer said which edge it is on");
    };
    let killed = Instant::now();
    if let Err(e) = stack.parts.kill9(&victim) {
        return failed("edge", &e.to_string());
    }
    // Every viewer back on an edge that is up, with its identity, and showing the truth.
    let converged = loop {
        let moved = viewers.iter().all(|v| {
            let s = v.state.lock().unwrap();
            s.connected && s.edge_id.as_deref() != Some(victim.as_str())
        });
        if moved {
            if let Some(rest) = stack.converge(&viewers, Duration::from_millis(200)).await {
                break Some(killed.elapsed() + rest);
            }
        }
        if killed.elapsed() > Duration::from_secs(60) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let same_identity = viewers
        .iter()
        .filter(|v| {
            let s = v.state.lock().unwrap();
            s.user_id.is_some() && s.user_id == s.first_user_id
        })
        .count();
    let truth = seats_of(&stack.truth("main").await.unwrap_or_default());
    let holds_kept = held
        .iter()
        .filter(|(i, seat)| {
            let user = viewers[*i].state.lock().unwrap().user_id.clone();
            truth
                .get(seat)
                .is_some_and(|(st, by)| *st == 1 && *by == user)
        })
        .count();
    let violations: usize = viewers
        .iter()
        .map(|v| v.state.lock().unwrap().violations.len())
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

/// A stalled and a slow-reading viewer next to normal ones: the others' latency is unchanged.
pub async fn slow_viewers(stack: &Stack) -> Row {
    stack.reset().await;
    let normal = stack.viewers(100, Reading::Normal);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = latency_round(stack, &normal, "A").await;
    let _stalled = stack.viewers(1, Reading::Stalled);
    let _slow = stack.viewers(1, Reading::Slow);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with_slow = latency_round(stack, &normal, "B").await;
    let violations: usize = normal
        .iter()
        .map(|v| v.state.lock().unwrap().violations.len())
        .sum();
    let ok = baseline.2 == 0
        && with_slow.2 == 0
        && violations == 0
        && with_slow.1 <= baseline.1 * 2.0 + 5.0;
    Row {
        scenario: "A stalled viewer and a slow-reading viewer".into(),
        done: "100 normal viewers through NGINX; 100 changes at 20/s, then the same with one viewer that never reads and one that reads every 50 ms".into(),
        observed: format!(
            "normal viewers' latency p50/p99 {:.1}/{:.1} ms before and {:.1}/{:.1} ms with the slow ones; {} + {} updates missing; {violations} seq violations",
            baseline.0, baseline.1, with_slow.0, with_slow.1, baseline.2, with_slow.2
        ),
        figures: format!("p99 {:.1} → {:.1} ms", baseline.1, with_slow.1),
        passed: ok,
    }
}

/// 100 changes at 20/s on row `row`; the normal viewers' p50 and p99 (ms) and missing updates.
async fn latency_round(stack: &Stack, viewers: &[Viewer], row: &str) -> (f64, f64, usize) {
    let (token, _) = stack.mint();
    let mut sent: Vec<(String, u64, Instant)> = Vec::new();
    for n in 0..100 {
        let seat = format!("{row}{}", n % 10 + 1);
        let verb = if (n / 10) % 2 == 0 {
            "select"
        } else {
            "release"
        };
        let at = Instant::now();
        if stack.seat(&stack.bookings[0], verb, &seat, &token).await == "OK" {
            sent.push((seat, if verb == "select" { 1 } else { 0 }, at));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::new();
    let mut missing = 0;
    for viewer in viewers {
        let arrivals = viewer.state.lock().unwrap().arrivals.clone();
        for (seat, status, at) in &sent {
            match arrivals
                .iter()
                .find(|(s, st, got)| s == seat && st == status && got >= at)
            {
                Some((_, _, got)) => latencies.push(got.duration_since(*at).as_secs_f64() * 1000.0),
                None => missing += 1,
            }
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (pick(0.5), pick(0.99), missing)
}

async fn wait_for(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

fn failed(scenario: &str, why: &str) -> Row {
    Row {
        scenario: scenario.into(),
        done: "—".into(),
        observed: format!("could not run: {why}"),
        figures: "—".into(),
        passed: false,
    }
}

/// The waiting room under load (the stack runs with MAX_SHOPPERS and a short SHOPPING_SECONDS):
/// viewers join one after another through NGINX; as passes end, the rest must be admitted in
/// join order. Reports the time from a freed slot (a pass ending) to the next admission.
pub async fn queue(stack: &Stack, max_shoppers: usize, viewers: usize) -> Row {
    let mut joined: Vec<Viewer> = Vec::new();
    for _ in 0..viewers {
        let viewer = Viewer::spawn(stack.ws.clone(), Reading::Normal);
        let placed = wait_for(Duration::from_secs(10), || {
            let s = viewer.state.lock().unwrap();
            s.position.is_some() || s.admitted.is_some()
        })
        .await;
        if !placed {
            return failed(
                "queue",
                "a viewer got neither QUEUE nor ADMITTED within 10 s (is MAX_SHOPPERS set?)",
            );
        }
        joined.push(viewer);
    }
    let first_positions: Vec<Option<u64>> = joined
        .iter()
        .map(|v| v.state.lock().unwrap().position)
        .collect();
    let waiting: Vec<u64> = first_positions.iter().flatten().copied().collect();
    // Wait until everyone has been admitted once (passes are short), bounded.
    let all_in = wait_for(Duration::from_secs(120), || {
        joined
            .iter()
            .all(|v| v.state.lock().unwrap().admitted.is_some())
    })
    .await;
    let admissions: Vec<(usize, Instant, u64)> = joined
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.state
                .lock()
                .unwrap()
                .admitted
                .map(|(at, until)| (i, at, until))
        })
        .collect();
    // Ordering errors: someone who joined later admitted before someone who joined earlier.
    let mut order_errors = 0;
    for a in &admissions {
        for b in &admissions {
            if a.0 < b.0 && a.1 > b.1 + Duration::from_millis(5) {
                order_errors += 1;
            }
        }
    }
    // The k-th admission after the first MAX_SHOPPERS takes the slot of the pass that ended
    // k-th: its delay is its arrival minus that pass's end (both on this machine's clock).
    let mut ends: Vec<u64> = admissions.iter().map(|(_, _, until)| *until).collect();
    ends.sort_unstable();
    let epoch_base = Instant::now();
    let now_ms = shared::now_ms();
    let mut by_time: Vec<&(usize, Instant, u64)> = admissions.iter().collect();
    by_time.sort_by_key(|(_, at, _)| *at);
    let mut delays: Vec<f64> = Vec::new();
    for (k, (_, at, _)) in by_time.iter().enumerate().skip(max_shoppers) {
        let freed_ms = ends[k - max_shoppers];
        let at_ms = now_ms as f64 - epoch_base.duration_since(*at).as_secs_f64() * 1000.0;
        delays.push(at_ms - freed_ms as f64);
    }
    delays.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| {
        delays
            .get(((delays.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let mut sorted = waiting.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let positions_ok = sorted.len() == waiting.len();
    Row {
        scenario: "Waiting room under load".into(),
        done: format!("{viewers} viewers join one after another through NGINX (MAX_SHOPPERS={max_shoppers}); passes run out and the rest are admitted"),
        observed: format!(
            "{} admitted of {viewers}; {} waited with distinct positions: {positions_ok}; ordering errors: {order_errors}; from a slot freeing to the next admission p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            admissions.len(), waiting.len(), pick(0.5), pick(0.99), pick(1.0)
        ),
        figures: format!("ordering errors {order_errors}; free slot → admission p99 {:.0} ms", pick(0.99)),
        passed: all_in && order_errors == 0 && positions_ok,
    }
}
