//! The fault scenarios. Each one runs under live load, kills one part with `kill -9`, and
//! reports what a user would check: acknowledged bookings kept, every seq delivered, every
//! viewer back on the true state, and how long it took.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::TokenSigner;

use crate::parts::Parts;
use testkit::{seats_of, taken, Reading, Seats, Viewer};

mod cluster;
mod disk;
mod reshard;
mod services;
mod viewers;

pub use cluster::{nats_node, redis_master};
pub use disk::disk_full;
pub use reshard::reshard;
pub use services::{booking_service, edge};
pub use viewers::{queue, slow_viewers};

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
    /// The venues the scenarios book and watch (`main` and the rush venue): what a reset frees.
    pub venues: Vec<String>,
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

    /// The seats of the venue's true state; none when no booking service answers.
    async fn truth_seats(&self, venue: &str) -> Seats {
        let truth = self.truth(venue).await;
        truth.map(|t| seats_of(&t["seats"])).unwrap_or_default()
    }

    /// Frees every seat of the venues the scenarios use, and only those: a load judged beside
    /// the scenarios (seatjudge, on a venue of its own) keeps its history whole.
    async fn reset(&self) {
        for venue in &self.venues {
            for base in &self.bookings {
                let answer = self
                    .http()
                    .post(format!("{base}/api/admin/reset?venue={venue}"))
                    .bearer_auth(&self.admin_token)
                    .send()
                    .await;
                if answer.is_ok_and(|a| a.status().is_success()) {
                    break;
                }
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
            .map(|_| Viewer::spawn(&self.ws, reading))
            .collect()
    }

    /// Waits until every viewer shows the truth of `main`; returns how long it took, or None.
    async fn converge(&self, viewers: &[Viewer], within: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(truth) = self.truth("main").await {
                let seq = truth["seq"].as_u64().unwrap_or(0);
                let seats: Seats = taken(&seats_of(&truth["seats"]));
                if viewers.iter().all(|v| {
                    let view = v.view.lock().unwrap();
                    view.position.seq() == Some(seq) && taken(&view.seats) == seats
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

fn failed(scenario: &str, why: &str) -> Row {
    Row {
        scenario: scenario.into(),
        done: "—".into(),
        observed: format!("could not run: {why}"),
        figures: "—".into(),
        passed: false,
    }
}
