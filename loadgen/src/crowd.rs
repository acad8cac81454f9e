//! A crowd for demos: simulated fans at human pace on the edges' WebSocket, each from a loopback
//! address of its own. A fan looks for a while, holds a seat it sees free (or a few at once:
//! `SELECT_SEATS`, or the best available block: `HOLD_BEST`), and then books each, releases it or
//! lets the hold lapse; it waits its turn when the waiting room is on. Progress
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
    /// Commands that held several seats at once (`SELECT_SEATS`) or the best block (`HOLD_BEST`).
    pub groups: AtomicU64,
    pub bests: AtomicU64,
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
            "{} fans connected; {} holds ({} groups, {} best available), {} booked, {} released, {} left to lapse, {} refused; {} updates seen; {} faults",
            n(&self.connected),
            n(&self.holds),
            n(&self.groups),
            n(&self.bests),
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
    "NO_SEATS_TOGETHER",
];

/// A fan's move: the frame it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Move {
    Select(String),
    /// Several seats near each other, all or none.
    Group(Vec<String>),
    /// The best `count` seats side by side, chosen by the booking service.
    Best(u64),
    Book(String),
    Release(String),
}

impl Move {
    fn frame(&self, req: &str) -> Value {
        let (kind, data) = match self {
            Move::Select(seat) => ("SELECT_SEAT", json!({"seat_id": seat})),
            Move::Group(seats) => ("SELECT_SEATS", json!({"seat_ids": seats})),
            Move::Best(count) => ("HOLD_BEST", json!({"count": count})),
            Move::Book(seat) => ("BOOK_SEAT", json!({"seat_id": seat})),
            Move::Release(seat) => ("RELEASE_SEAT", json!({"seat_id": seat})),
        };
        let mut data = data;
        data["req_id"] = Value::String(req.to_owned());
        json!({"type": kind, "data": data})
    }
}

/// An answer to a fan's command: its `req_id` (as JSON text), `OK` or the error code, and the
/// seats an `OK` names.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    req: String,
    code: String,
    seats: Vec<String>,
}

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
    /// Applies one server message; returns it when it answers a command.
    fn see(&mut self, message: &Value, venue: &str, tally: &Tally) -> Option<Answer> {
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
            Some("OK") => {
                let seats = match data["seat_ids"].as_array() {
                    Some(ids) => ids
                        .iter()
                        .filter_map(|id| id.as_str())
                        .map(String::from)
                        .collect(),
                    None => data["seat_id"]
                        .as_str()
                        .map(String::from)
                        .into_iter()
                        .collect(),
                };
                Some(Answer {
                    req: data["req_id"].to_string(),
                    code: "OK".into(),
                    seats,
                })
            }
            Some("ERROR") => Some(Answer {
                req: data["req_id"].to_string(),
                code: data["code"].as_str().unwrap_or("?").to_owned(),
                seats: Vec::new(),
            }),
            _ => None,
        }
    }

    fn random_free(&self, dice: &mut Dice) -> Option<String> {
        self.free_near(dice, 1).pop()
    }

    /// Up to `n` free seats near one spot of the venue, as a person scanning the map finds them.
    fn free_near(&self, dice: &mut Dice, n: usize) -> Vec<String> {
        if self.order.is_empty() {
            return Vec::new();
        }
        let start = dice.below(self.order.len() as u64) as usize;
        (0..self.order.len().min(200))
            .map(|k| &self.order[(start + k) % self.order.len()])
            .filter(|id| self.seats.get(*id) == Some(&0))
            .take(n)
            .cloned()
            .collect()
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
    let mut pending: Option<(String, Move)> = None;
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
                if let Some(answer) = sight.see(&message, &spec.venue, tally) {
                    if let Some((_, sent)) = pending.take_if(|(want, _)| *want == answer.req) {
                        settle(sent, &answer, &mut holds, tally);
                    }
                }
            }
            _ = &mut timer => {
                timer.as_mut().reset(tokio::time::Instant::now() + pause(&mut dice));
                if pending.is_some() || sight.seq.is_none() {
                    continue; // still waiting for an answer or for the venue
                }
                let Some(chosen) = choose(&mut sight, &mut holds, &mut dice, tally) else {
                    continue;
                };
                next_req += 1;
                let req = format!("f{i}-{next_req}");
                ws.send(Message::text(chosen.frame(&req).to_string())).await?;
                pending = Some((Value::String(req).to_string(), chosen));
            }
        }
    }
}

/// The fan's next move, if any: hold a free seat (or a few, or the best block), or decide about
/// one it holds.
fn choose(
    sight: &mut Sight,
    holds: &mut Vec<String>,
    dice: &mut Dice,
    tally: &Tally,
) -> Option<Move> {
    if !holds.is_empty() && dice.below(100) < 60 {
        let seat = holds.remove(0);
        return match dice.below(100) {
            0..=44 => Some(Move::Book(seat)),
            45..=74 => Some(Move::Release(seat)),
            _ => {
                tally.lapses.fetch_add(1, Ordering::Relaxed);
                None // forgotten: the hold runs out by itself
            }
        };
    }
    if holds.len() >= 2 || dice.below(100) < 30 {
        return None; // just looking
    }
    // Someone holding nothing yet may come as two or three: a few seats near each other, or
    // the best block the venue has left.
    if holds.is_empty() {
        match dice.below(100) {
            0..=19 => {
                let size = 2 + dice.below(2) as usize;
                let seats = sight.free_near(dice, size);
                if seats.len() > 1 {
                    return Some(Move::Group(seats));
                }
            }
            20..=34 => return Some(Move::Best(2 + dice.below(2))),
            _ => {}
        }
    }
    sight.random_free(dice).map(Move::Select)
}

/// Counts an answer to `sent`.
fn settle(sent: Move, answer: &Answer, holds: &mut Vec<String>, tally: &Tally) {
    let code = answer.code.as_str();
    match (&sent, code) {
        (Move::Select(seat), "OK") => {
            tally.holds.fetch_add(1, Ordering::Relaxed);
            holds.push(seat.clone());
        }
        (Move::Group(_) | Move::Best(_), "OK") => {
            let counter = if matches!(sent, Move::Group(_)) {
                &tally.groups
            } else {
                &tally.bests
            };
            counter.fetch_add(1, Ordering::Relaxed);
            tally
                .holds
                .fetch_add(answer.seats.len() as u64, Ordering::Relaxed);
            holds.extend(answer.seats.iter().cloned());
        }
        (Move::Book(_), "OK") => {
            tally.books.fetch_add(1, Ordering::Relaxed);
        }
        (Move::Release(_), "OK") => {
            tally.releases.fetch_add(1, Ordering::Relaxed);
        }
        (_, code) if FAIR_REFUSALS.contains(&code) => {
            tally.refused.fetch_add(1, Ordering::Relaxed);
        }
        (sent, code) => tally.fault(format!("{sent:?} answered {code}")),
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
        let ok = json!({"type": "OK", "data": {"req_id": "f1-1", "seat_id": "A1"}});
        let answer = |seats: &[&str]| Answer {
            req: "\"f1-1\"".into(),
            code: "OK".into(),
            seats: seats.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(sight.see(&ok, "main", &tally), Some(answer(&["A1"])));
        let best = json!({"type": "OK", "data": {"req_id": "f1-1", "seat_ids": ["B1", "B2"]}});
        assert_eq!(
            sight.see(&best, "main", &tally),
            Some(answer(&["B1", "B2"]))
        );
        assert_eq!(sight.random_free(&mut Dice(1)), None, "no seat is free");
    }

    #[test]
    fn unexpected_answers_are_faults_and_fair_refusals_are_not() {
        let tally = Tally::default();
        let mut holds = Vec::new();
        let answer = |code: &str, seats: &[&str]| Answer {
            req: String::new(),
            code: code.into(),
            seats: seats.iter().map(|s| s.to_string()).collect(),
        };
        settle(
            Move::Select("A1".into()),
            &answer("OK", &["A1"]),
            &mut holds,
            &tally,
        );
        let taken = answer("SEAT_UNAVAILABLE", &[]);
        settle(Move::Select("A2".into()), &taken, &mut holds, &tally);
        settle(
            Move::Best(2),
            &answer("OK", &["C4", "C5"]),
            &mut holds,
            &tally,
        );
        settle(
            Move::Best(3),
            &answer("NO_SEATS_TOGETHER", &[]),
            &mut holds,
            &tally,
        );
        settle(
            Move::Book("A1".into()),
            &answer("INTERNAL", &[]),
            &mut holds,
            &tally,
        );
        assert_eq!(holds, ["A1", "C4", "C5"]);
        assert_eq!(tally.holds.load(Ordering::Relaxed), 3);
        assert_eq!(tally.bests.load(Ordering::Relaxed), 1);
        assert_eq!(tally.refused.load(Ordering::Relaxed), 2);
        assert_eq!(tally.faults.lock().unwrap().len(), 1);
    }

    #[test]
    fn moves_are_the_protocol_s_frames() {
        let group = Move::Group(vec!["A1".into(), "A2".into()]).frame("r1");
        assert_eq!(
            group,
            json!({"type": "SELECT_SEATS", "data": {"seat_ids": ["A1", "A2"], "req_id": "r1"}})
        );
        assert_eq!(
            Move::Best(3).frame("r2"),
            json!({"type": "HOLD_BEST", "data": {"count": 3, "req_id": "r2"}})
        );
        assert_eq!(Move::Book("A1".into()).frame("r3")["type"], "BOOK_SEAT");
    }
}
