//! A crowd for demos: simulated fans at human pace on the edges' WebSocket, each from a loopback
//! address of its own. A fan looks for a while, holds a seat it sees free, and then books it,
//! releases it or lets the hold lapse; it waits its turn when the waiting room is on. Progress
//! goes to stdout every few seconds; anything a real fan would never see (a seq gap, an answer
//! with an unexpected error code, a dropped socket) is counted and fails the run.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

/// What the crowd does.
#[derive(Debug, Clone)]
pub struct CrowdSpec {
    pub urls: Vec<String>,
    pub venue: String,
    pub fans: usize,
    /// Stop after this long (`None`: until Ctrl+C).
    pub seconds: Option<f64>,
    /// A fan's pause between two actions is drawn from this range (ms).
    pub pace_ms: (u64, u64),
}

/// What the crowd did, counted across fans.
#[derive(Debug, Default)]
pub struct Tally {
    pub connected: AtomicU64,
    pub holds: AtomicU64,
    pub books: AtomicU64,
    pub releases: AtomicU64,
    pub lapses: AtomicU64,
    /// Fair refusals: someone was quicker, the fan holds its most, the waiting room, limits.
    pub refused: AtomicU64,
    pub updates: AtomicU64,
    /// Things no fan should ever see.
    pub faults: Mutex<Vec<String>>,
}

impl Tally {
    fn fault(&self, what: String) {
        let mut faults = self.faults.lock().unwrap();
        if faults.len() < 20 {
            faults.push(what);
        }
    }

    pub fn line(&self) -> String {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "{} fans connected; {} holds, {} booked, {} released, {} left to lapse, {} refused; {} updates seen; {} faults",
            n(&self.connected),
            n(&self.holds),
            n(&self.books),
            n(&self.releases),
            n(&self.lapses),
            n(&self.refused),
            n(&self.updates),
            self.faults.lock().unwrap().len()
        )
    }
}

/// Error codes a fan may meet in a fair sale.
const FAIR_REFUSALS: &[&str] = &[
    "SEAT_UNAVAILABLE",
    "SEAT_BOOKED",
    "MAX_HOLDS_EXCEEDED",
    "NOT_ADMITTED",
    "RATE_LIMITED",
    "NOT_HOLDER",
    "SEAT_NOT_FOR_SALE",
];

/// Runs the crowd until `spec.seconds` pass (or for ever), printing progress.
pub async fn run(spec: CrowdSpec) -> anyhow::Result<Arc<Tally>> {
    let tally = Arc::new(Tally::default());
    let mut fans = Vec::with_capacity(spec.fans);
    for i in 0..spec.fans {
        let (spec, tally) = (spec.clone(), tally.clone());
        fans.push(tokio::spawn(async move {
            // Arrivals spread over the first few seconds, as people come in.
            let arrival = fastrand_below(i as u64 * 7919 + 1, 3000);
            tokio::time::sleep(Duration::from_millis(arrival)).await;
            if let Err(error) = fan(i, &spec, &tally).await {
                tally.fault(format!("fan {i}: {error:#}"));
            }
        }));
    }
    let started = tokio::time::Instant::now();
    let mut progress = tokio::time::interval(Duration::from_secs(5));
    progress.tick().await;
    loop {
        let done = spec
            .seconds
            .is_some_and(|s| started.elapsed() >= Duration::from_secs_f64(s));
        if done {
            break;
        }
        tokio::select! {
            _ = progress.tick() => println!("[crowd {:>4.0}s] {}", started.elapsed().as_secs_f64(), tally.line()),
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    for fan in fans {
        fan.abort();
    }
    println!("[crowd] {}", tally.line());
    Ok(tally)
}

/// A cheap deterministic spread (no generator state shared between fans).
fn fastrand_below(seed: u64, bound: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    x % bound.max(1)
}

/// One fan's random draws.
struct Dice(u64);

impl Dice {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        fastrand_below(self.0, bound)
    }
}

/// What a fan knows of the venue: every seat's status, and the seq it has applied.
#[derive(Default)]
struct Sight {
    seats: HashMap<String, u64>,
    order: Vec<String>,
    seq: Option<u64>,
}

impl Sight {
    /// Applies one server message; returns an error code if it answers `req`.
    fn see(&mut self, message: &Value, venue: &str, tally: &Tally) -> Option<(String, String)> {
        let data = &message["data"];
        match message["type"].as_str() {
            Some("VENUE_STATE") if data["venue"] == venue => {
                self.seats.clear();
                self.order.clear();
                for seat in data["seats"].as_array().into_iter().flatten() {
                    let id = seat["id"].as_str().unwrap_or_default().to_owned();
                    self.seats
                        .insert(id.clone(), seat["status"].as_u64().unwrap_or(0));
                    self.order.push(id);
                }
                self.seq = data["seq"].as_u64();
                None
            }
            Some("SEAT_UPDATE") if data["venue"] == venue => {
                tally.updates.fetch_add(1, Ordering::Relaxed);
                let seq = data["seq"].as_u64();
                if let (Some(seen), Some(seq)) = (self.seq, seq) {
                    if seq != seen + 1 {
                        tally.fault(format!("a SEAT_UPDATE of seq {seq} after {seen}"));
                    }
                }
                self.seq = seq.or(self.seq);
                if let Some(id) = data["seat_id"].as_str() {
                    self.seats
                        .insert(id.to_owned(), data["status"].as_u64().unwrap_or(0));
                }
                None
            }
            Some("OK") => Some((data["req_id"].to_string(), "OK".into())),
            Some("ERROR") => Some((
                data["req_id"].to_string(),
                data["code"].as_str().unwrap_or("?").to_owned(),
            )),
            _ => None,
        }
    }

    fn random_free(&self, dice: &mut Dice) -> Option<String> {
        if self.order.is_empty() {
            return None;
        }
        // Look around one spot of the venue, as a person scanning the map does.
        let start = dice.below(self.order.len() as u64) as usize;
        (0..self.order.len().min(200))
            .map(|k| &self.order[(start + k) % self.order.len()])
            .find(|id| self.seats.get(*id) == Some(&0))
            .cloned()
    }
}

async fn fan(i: usize, spec: &CrowdSpec, tally: &Tally) -> anyhow::Result<()> {
    let url = &spec.urls[i % spec.urls.len()];
    let target: SocketAddr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("{url}: needs ws://ip:port/…"))?;
    let socket = TcpSocket::new_v4()?;
    // Each fan from an address of its own (127.0.0.2 …), as people come from their own.
    socket.bind((Ipv4Addr::new(127, 0, 0, 2 + (i % 250) as u8), 0).into())?;
    let stream = socket.connect(target).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), stream).await?;
    ws.send(Message::text(
        json!({"type": "CONNECT", "data": {"venue": spec.venue}}).to_string(),
    ))
    .await?;
    tally.connected.fetch_add(1, Ordering::Relaxed);
    let mut sight = Sight::default();
    let mut dice = Dice(i as u64 * 104_729 + 17);
    let mut holds: Vec<String> = Vec::new();
    let mut pending: Option<(String, &'static str, String)> = None;
    let mut next_req = 0u64;
    let pause = |dice: &mut Dice| {
        let (lo, hi) = spec.pace_ms;
        Duration::from_millis(lo + dice.below(hi.saturating_sub(lo).max(1)))
    };
    let mut timer = Box::pin(tokio::time::sleep(pause(&mut dice)));
    loop {
        tokio::select! {
            frame = ws.next() => {
                let Some(frame) = frame else { anyhow::bail!("the edge closed the socket") };
                let Message::Text(text) = frame? else { continue };
                let message: Value = serde_json::from_str(&text)?;
                if let Some((req, code)) = sight.see(&message, &spec.venue, tally) {
                    if let Some((want, verb, seat)) = pending.take_if(|(want, _, _)| *want == req) {
                        let _ = want;
                        settle(verb, seat, &code, &mut holds, tally);
                    }
                }
            }
            _ = &mut timer => {
                timer.as_mut().reset(tokio::time::Instant::now() + pause(&mut dice));
                if pending.is_some() || sight.seq.is_none() {
                    continue; // still waiting for an answer or for the venue
                }
                let Some((verb, seat)) = choose(&mut sight, &mut holds, &mut dice, tally) else {
                    continue;
                };
                next_req += 1;
                let req = format!("f{i}-{next_req}");
                let kind = match verb {
                    "select" => "SELECT_SEAT",
                    "book" => "BOOK_SEAT",
                    _ => "RELEASE_SEAT",
                };
                ws.send(Message::text(
                    json!({"type": kind, "data": {"seat_id": seat, "req_id": req}}).to_string(),
                ))
                .await?;
                pending = Some((Value::String(req).to_string(), verb, seat));
            }
        }
    }
}

/// The fan's next move, if any: hold a free seat, or decide about one it holds.
fn choose(
    sight: &mut Sight,
    holds: &mut Vec<String>,
    dice: &mut Dice,
    tally: &Tally,
) -> Option<(&'static str, String)> {
    if !holds.is_empty() && dice.below(100) < 60 {
        let seat = holds.remove(0);
        return match dice.below(100) {
            0..=44 => Some(("book", seat)),
            45..=74 => Some(("release", seat)),
            _ => {
                tally.lapses.fetch_add(1, Ordering::Relaxed);
                None // forgotten: the hold runs out by itself
            }
        };
    }
    if holds.len() >= 2 || dice.below(100) < 30 {
        return None; // just looking
    }
    sight.random_free(dice).map(|seat| ("select", seat))
}

/// Counts an answer.
fn settle(verb: &str, seat: String, code: &str, holds: &mut Vec<String>, tally: &Tally) {
    match (verb, code) {
        ("select", "OK") => {
            tally.holds.fetch_add(1, Ordering::Relaxed);
            holds.push(seat);
        }
        ("book", "OK") => {
            tally.books.fetch_add(1, Ordering::Relaxed);
        }
        ("release", "OK") => {
            tally.releases.fetch_add(1, Ordering::Relaxed);
        }
        (_, code) if FAIR_REFUSALS.contains(&code) => {
            tally.refused.fetch_add(1, Ordering::Relaxed);
        }
        (verb, code) => tally.fault(format!("{verb} {seat} answered {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fan_sees_states_and_updates_and_notes_a_gap() {
        let tally = Tally::default();
        let mut sight = Sight::default();
        let state = json!({"type": "VENUE_STATE", "data": {"venue": "main", "seq": 3,
            "seats": [{"id": "A1", "status": 0}, {"id": "A2", "status": 2}]}});
        assert_eq!(sight.see(&state, "main", &tally), None);
        let update = |seq: u64| {
            json!({"type": "SEAT_UPDATE", "data": {"venue": "main",
            "seq": seq, "seat_id": "A1", "status": 1}})
        };
        sight.see(&update(4), "main", &tally);
        assert_eq!(sight.seats["A1"], 1);
        assert!(tally.faults.lock().unwrap().is_empty());
        sight.see(&update(6), "main", &tally);
        assert_eq!(tally.faults.lock().unwrap().len(), 1);
        let ok = json!({"type": "OK", "data": {"req_id": "f1-1"}});
        assert_eq!(
            sight.see(&ok, "main", &tally),
            Some(("\"f1-1\"".into(), "OK".into()))
        );
        assert_eq!(sight.random_free(&mut Dice(1)), None, "no seat is free");
    }

    #[test]
    fn unexpected_answers_are_faults_and_fair_refusals_are_not() {
        let tally = Tally::default();
        let mut holds = Vec::new();
        settle("select", "A1".into(), "OK", &mut holds, &tally);
        settle(
            "select",
            "A2".into(),
            "SEAT_UNAVAILABLE",
            &mut holds,
            &tally,
        );
        settle("book", "A1".into(), "INTERNAL", &mut holds, &tally);
        assert_eq!(holds, ["A1"]);
        assert_eq!(tally.refused.load(Ordering::Relaxed), 1);
        assert_eq!(tally.faults.lock().unwrap().len(), 1);
    }
}
