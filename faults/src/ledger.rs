//! Booking load that keeps a ledger: every booking answered OK, every one whose answer never
//! came or was an error that may hide a commit (in doubt), checked afterwards against the truth.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[derive(Default)]
pub struct Ledger {
    /// seat -> user_id, answered OK.
    pub acknowledged: HashMap<String, String>,
    /// seat -> user_id, answered with UNAVAILABLE/INTERNAL or no answer: may or may not be booked.
    pub in_doubt: HashMap<String, String>,
    /// When each OK and each failure arrived.
    pub oks: Vec<Instant>,
    pub failures: Vec<Instant>,
    /// Every answer that may hide a commit or says Redis is unavailable (select or book), with
    /// its code (NO_ANSWER when none came) and when it came.
    pub refusals: Vec<(Instant, String)>,
}

/// What the truth says about the ledger.
pub struct Audit {
    pub acknowledged: usize,
    pub lost: Vec<String>,
    pub phantom: Vec<String>,
    pub in_doubt_booked: usize,
}

impl Audit {
    /// "N lost, N phantom, N in doubt of which booked N", as every row says it.
    pub fn tally(&self, in_doubt: usize) -> String {
        format!(
            "{} lost, {} phantom, {in_doubt} in doubt of which booked {}",
            self.lost.len(),
            self.phantom.len(),
            self.in_doubt_booked
        )
    }
}

pub struct BookingLoad {
    pub ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl BookingLoad {
    /// `workers` clients, each booking its own seats of `venue` (rows × cols) one after the
    /// other (select, then book), spread over the booking services.
    pub fn start(
        bookings: &[String],
        venue: &str,
        rows: u16,
        cols: u16,
        workers: usize,
        mint: impl Fn() -> (String, String),
    ) -> BookingLoad {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .expect("http client");
        let seats: Vec<String> = shared::SeatId::all(rows, cols)
            .map(|id| id.to_string())
            .collect();
        let tasks = (0..workers)
            .map(|w| {
                let (token, user_id) = mint();
                let mine: Vec<String> = seats.iter().skip(w).step_by(workers).cloned().collect();
                let base = bookings[w % bookings.len()].clone();
                let (http, ledger, stop, venue) =
                    (http.clone(), ledger.clone(), stop.clone(), venue.to_owned());
                tokio::spawn(async move {
                    for seat in mine {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let body = json!({"seat_id": seat, "token": token, "venue": venue});
                        let selected =
                            post(&http, &format!("{base}/api/seats/select"), &body).await;
                        if selected.as_deref() != Some("OK") {
                            if is_doubt(selected.as_deref()) {
                                ledger.lock().unwrap().failed(selected.as_deref());
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            continue;
                        }
                        let booked = post(&http, &format!("{base}/api/seats/book"), &body).await;
                        {
                            let mut ledger = ledger.lock().unwrap();
                            match booked.as_deref() {
                                Some("OK") => {
                                    ledger.acknowledged.insert(seat, user_id.clone());
                                    ledger.oks.push(Instant::now());
                                }
                                other if is_doubt(other) => {
                                    ledger.in_doubt.insert(seat, user_id.clone());
                                    ledger.failed(other);
                                }
                                _ => {}
                            }
                        }
                        // A steady burst (about 25 bookings a second per client) rather than
                        // one that sells out before anything is killed.
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                })
            })
            .collect();
        BookingLoad {
            ledger,
            stop,
            tasks,
        }
    }

    pub async fn stop(self) -> Arc<Mutex<Ledger>> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        self.ledger
    }
}

impl Ledger {
    /// When the first booking after `after` was answered OK.
    pub fn first_ok_after(&self, after: Instant) -> Option<Instant> {
        self.oks.iter().find(|t| **t > after).copied()
    }

    fn failed(&mut self, code: Option<&str>) {
        let now = Instant::now();
        self.failures.push(now);
        self.refusals
            .push((now, code.unwrap_or("NO_ANSWER").to_owned()));
    }
}

fn is_doubt(code: Option<&str>) -> bool {
    matches!(code, None | Some("UNAVAILABLE") | Some("INTERNAL"))
}

/// The answer's code, "OK", or None when no answer came.
async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Option<String> {
    let response = http.post(url).json(body).send().await.ok()?;
    let body: Value = response.json().await.ok()?;
    Some(if body["ok"] == json!(true) {
        "OK".into()
    } else {
        body["error"]["code"].as_str().unwrap_or("?").to_owned()
    })
}

/// Compares the ledger with the venue's snapshot.
pub fn audit(ledger: &Ledger, snapshot: &Value) -> Audit {
    let booked: HashMap<String, String> = snapshot["seats"]
        .as_array()
        .map(|seats| {
            seats
                .iter()
                .filter(|s| s["status"] == 2)
                .map(|s| {
                    (
                        s["id"].as_str().unwrap_or("").to_owned(),
                        s["held_by"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let lost = ledger
        .acknowledged
        .iter()
        .filter(|(seat, user)| booked.get(*seat) != Some(user))
        .map(|(seat, _)| seat.clone())
        .collect();
    let phantom = booked
        .iter()
        .filter(|(seat, user)| {
            ledger.acknowledged.get(*seat) != Some(user) && ledger.in_doubt.get(*seat) != Some(user)
        })
        .map(|(seat, _)| seat.clone())
        .collect();
    let in_doubt_booked = ledger
        .in_doubt
        .iter()
        .filter(|(seat, user)| booked.get(*seat) == Some(user))
        .count();
    Audit {
        acknowledged: ledger.acknowledged.len(),
        lost,
        phantom,
        in_doubt_booked,
    }
}
