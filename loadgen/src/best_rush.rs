//! A best-available rush: a number of identities, each asking once for the best 2, 3 or 4 seats
//! (by its number), from many keep-alive connections at once, with nothing released. Reports
//! requests a second, latency and how many got seats, and checks every answer: no seat in two
//! OKs, every OK'd seat held by its asker in the final snapshot, and refusals only
//! `NO_SEATS_TOGETHER` or `MAX_HOLDS_EXCEEDED`. (Whether each block was the best one is judged by
//! the booking service's tests, which replay the events.)

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::driver::signer;
use crate::http::{HttpConnection, Target};
use crate::stats::Histogram;
use crate::sys::now_ns;

/// What the rush measured and found.
#[derive(Debug, Default)]
pub struct BestRushReport {
    pub asks: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub latency: Histogram,
    /// Answer code (`OK` or the error's) → count.
    pub codes: BTreeMap<String, u64>,
    pub seats_held: usize,
    /// What an answer or the final state got wrong; empty when every check passed.
    pub violations: Vec<String>,
}

struct Granted {
    user_id: String,
    seat_ids: Vec<String>,
}

/// Sends `asks` best-available requests from `concurrency` connections.
pub async fn run(
    booking: &str,
    venue: &str,
    concurrency: usize,
    asks: usize,
) -> anyhow::Result<BestRushReport> {
    let target = Target::parse(booking)?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = now_ns();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, next, venue) = (target.clone(), next.clone(), venue.to_owned());
            tokio::spawn(async move {
                let mut conn = HttpConnection::new(target);
                let mut latency = Histogram::default();
                let mut answers = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= asks {
                        break;
                    }
                    let token = signer().issue();
                    let body = json!({"count": 2 + n % 3, "token": token.as_str(), "venue": venue})
                        .to_string();
                    let sent = now_ns();
                    let answer = conn.post_json("/api/seats/best", &body).await;
                    latency.record(now_ns() - sent);
                    answers.push((token.user_id(), answer.map(|r| r.body)));
                }
                (latency, answers)
            })
        })
        .collect();
    let mut report = BestRushReport {
        asks,
        ..BestRushReport::default()
    };
    let mut granted = Vec::new();
    for worker in workers {
        let (latency, answers) = worker.await?;
        report.latency.merge(&latency);
        for (user_id, answer) in answers {
            let body: Value = match answer {
                Ok(body) => serde_json::from_slice(&body).unwrap_or(Value::Null),
                Err(error) => {
                    report.violations.push(format!("a request failed: {error}"));
                    continue;
                }
            };
            let code = if body["ok"] == true {
                "OK".to_owned()
            } else {
                body["error"]["code"].as_str().unwrap_or("?").to_owned()
            };
            *report.codes.entry(code.clone()).or_default() += 1;
            match code.as_str() {
                "OK" => granted.push(Granted {
                    user_id,
                    seat_ids: serde_json::from_value(body["seat_ids"].clone()).unwrap_or_default(),
                }),
                "NO_SEATS_TOGETHER" | "MAX_HOLDS_EXCEEDED" => {}
                other => report.violations.push(format!("answered {other}: {body}")),
            }
        }
    }
    report.seconds = (now_ns() - started) as f64 / 1e9;
    report.per_second = asks as f64 / report.seconds;
    check(&target, venue, &granted, &mut report).await?;
    Ok(report)
}

/// No seat in two OKs; every OK'd seat held by its asker in the final snapshot.
async fn check(
    target: &Target,
    venue: &str,
    granted: &[Granted],
    report: &mut BestRushReport,
) -> anyhow::Result<()> {
    let mut conn = HttpConnection::new(target.clone());
    let snapshot = conn.get(&format!("/api/venues/{venue}")).await?;
    let snapshot: Value = serde_json::from_slice(&snapshot.body)?;
    let holders: HashMap<&str, &Value> = snapshot["seats"]
        .as_array()
        .map(|seats| {
            seats
                .iter()
                .filter_map(|s| Some((s["id"].as_str()?, &s["held_by"])))
                .collect()
        })
        .unwrap_or_default();
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for grant in granted {
        for seat in &grant.seat_ids {
            if let Some(other) = owner.insert(seat, &grant.user_id) {
                report.violations.push(format!(
                    "{seat} was given to {other} and to {}",
                    grant.user_id
                ));
            }
            if holders.get(seat.as_str()) != Some(&&json!(grant.user_id)) {
                report.violations.push(format!(
                    "{seat} was given to {} but the snapshot shows {:?}",
                    grant.user_id,
                    holders.get(seat.as_str())
                ));
            }
        }
    }
    report.seats_held = owner.len();
    Ok(())
}
