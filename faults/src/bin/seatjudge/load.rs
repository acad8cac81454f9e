//! The booking load: workers, each one user, racing for the same few seats (select, then book
//! or release), every command recorded with when it was sent, when it ended and how.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::history::{Command, Outcome, Verb};

pub struct LoadSettings {
    pub bookings: Vec<String>,
    pub venue: String,
    pub workers: usize,
    pub seconds: u64,
    /// Of the holds made, the share (in %) booked; the rest are released.
    pub book_percent: u64,
    /// How long a command may take before it counts as unanswered.
    pub timeout: Duration,
    /// A worker's pause between two seats.
    pub pace: Duration,
}

/// The seats the workers race for: a window of free seats, refilled as seats are booked, so
/// every seat of the window is wanted by several workers at once.
struct Frontier {
    open: Vec<String>,
    rest: VecDeque<String>,
}

impl Frontier {
    fn pick(&self, rng: &mut Rng) -> Option<String> {
        (!self.open.is_empty()).then(|| self.open[rng.below(self.open.len())].clone())
    }

    /// A seat seen booked leaves the window; the next free seat takes its place.
    fn booked(&mut self, seat: &str) {
        if let Some(at) = self.open.iter().position(|s| s == seat) {
            self.open.swap_remove(at);
            if let Some(next) = self.rest.pop_front() {
                self.open.push(next);
            }
        }
    }
}

/// xorshift64: enough to spread choices; no secret depends on it.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Runs the load for `settings.seconds` over `free_seats` and returns every command.
pub async fn run(
    settings: &LoadSettings,
    free_seats: Vec<String>,
    mut mint: impl FnMut() -> (String, String),
) -> Vec<Command> {
    let window = (settings.workers * 2).max(4).min(free_seats.len());
    let mut rest: VecDeque<String> = free_seats.into();
    let open = rest.drain(..window).collect();
    let frontier = Arc::new(Mutex::new(Frontier { open, rest }));
    let http = reqwest::Client::builder()
        .timeout(settings.timeout)
        .build()
        .expect("http client");
    let until = Instant::now() + Duration::from_secs(settings.seconds);
    let tasks: Vec<_> = (0..settings.workers)
        .map(|w| {
            let worker = Worker {
                http: http.clone(),
                base: settings.bookings[w % settings.bookings.len()].clone(),
                venue: settings.venue.clone(),
                identity: mint(),
                frontier: frontier.clone(),
                book_percent: settings.book_percent,
                pace: settings.pace,
                history: Vec::new(),
            };
            let seed = shared::now_ms() ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            tokio::spawn(worker.run(until, Rng(seed | 1)))
        })
        .collect();
    let mut commands = Vec::new();
    for task in tasks {
        commands.extend(task.await.unwrap_or_default());
    }
    commands.sort_by_key(|c| c.sent_ms);
    commands
}

struct Worker {
    http: reqwest::Client,
    base: String,
    venue: String,
    /// (token, user_id)
    identity: (String, String),
    frontier: Arc<Mutex<Frontier>>,
    book_percent: u64,
    pace: Duration,
    history: Vec<Command>,
}

impl Worker {
    async fn run(mut self, until: Instant, mut rng: Rng) -> Vec<Command> {
        while Instant::now() < until {
            let Some(seat) = self.frontier.lock().unwrap().pick(&mut rng) else {
                break;
            };
            let selected = self.send(Verb::Select, &seat).await;
            match selected {
                Outcome::Ok => {
                    let verb = if (rng.below(100) as u64) < self.book_percent {
                        Verb::Book
                    } else {
                        Verb::Release
                    };
                    if self.send(verb, &seat).await == Outcome::Ok && verb == Verb::Book {
                        self.frontier.lock().unwrap().booked(&seat);
                    }
                }
                Outcome::Refused(code) if code == "SEAT_BOOKED" => {
                    self.frontier.lock().unwrap().booked(&seat);
                }
                // The hold may exist: give it back, as "check the seat before retrying" asks.
                Outcome::Unconfirmed(_) | Outcome::NoAnswer(_) => {
                    self.send(Verb::Release, &seat).await;
                }
                Outcome::Refused(_) => {}
            }
            tokio::time::sleep(self.pace).await;
        }
        self.history
    }

    /// Sends one command and records it.
    async fn send(&mut self, verb: Verb, seat: &str) -> Outcome {
        let body = json!({"seat_id": seat, "token": self.identity.0, "venue": self.venue});
        let url = format!("{}/api/seats/{}", self.base, verb.as_str());
        let sent_ms = shared::now_ms();
        let outcome = post(&self.http, &url, &body).await;
        self.history.push(Command {
            user_id: self.identity.1.clone(),
            verb,
            seat: seat.to_owned(),
            service: self.base.clone(),
            sent_ms,
            ended_ms: shared::now_ms(),
            outcome: outcome.clone(),
        });
        outcome
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Outcome {
    let response = match http.post(url).json(body).send().await {
        Ok(response) => response,
        Err(error) if error.is_timeout() => return Outcome::NoAnswer("timeout".into()),
        Err(_) => return Outcome::NoAnswer("connection failed".into()),
    };
    let status = response.status();
    let body: Value = match response.json().await {
        Ok(body) => body,
        Err(_) => return Outcome::NoAnswer(format!("HTTP {} without the service's JSON", status)),
    };
    if body["ok"] == json!(true) {
        return Outcome::Ok;
    }
    match body["error"]["code"].as_str() {
        Some(code) => Outcome::of_code(code),
        None => Outcome::NoAnswer(format!("HTTP {status} without an error code")),
    }
}
