//! A WebSocket viewer as the page behaves: keeps its identity, applies updates in seq order,
//! and on a lost connection reconnects (through NGINX, to whichever edge takes it) with
//! `CONNECT {token, after_seq, epoch}`. It records what a person would notice: a seq twice or
//! out of order, a changed identity, a view that differs from the truth.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Seat id -> (status, held_by).
pub type Seats = HashMap<String, (u64, Option<String>)>;

#[derive(Default)]
pub struct ViewerState {
    pub token: Option<String>,
    pub user_id: Option<String>,
    pub first_user_id: Option<String>,
    pub edge_id: Option<String>,
    pub epoch: u64,
    pub seq: u64,
    pub seats: Seats,
    pub connected: bool,
    /// A CONNECT with our token is on its way: the greeting with a fresh identity that every
    /// new socket gets first is not ours to keep.
    pub resuming: bool,
    pub reconnects: u64,
    pub violations: Vec<String>,
    /// Arrival time of each SEAT_UPDATE by (seat, status).
    pub arrivals: Vec<(String, u64, Instant)>,
    /// Answers to this viewer's commands: req_id -> code.
    pub answers: HashMap<String, String>,
    /// Waiting room: the last QUEUE position, and when ADMITTED came with which until_ms.
    pub position: Option<u64>,
    pub admitted: Option<(Instant, u64)>,
}

#[derive(Clone)]
pub struct Viewer {
    pub state: Arc<Mutex<ViewerState>>,
    commands: tokio::sync::mpsc::UnboundedSender<String>,
}

/// How a viewer reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Normal,
    /// Never reads after the first messages: its socket and queue fill up.
    Stalled,
    /// Reads one message every 50 ms.
    Slow,
}

impl Viewer {
    pub fn spawn(ws_url: String, reading: Reading) -> Viewer {
        let state = Arc::new(Mutex::new(ViewerState::default()));
        let (commands, queued) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(run(ws_url, state.clone(), queued, reading));
        Viewer { state, commands }
    }

    /// Sends a seat command over the socket; the answer lands in `answers[req_id]`.
    pub fn command(&self, kind: &str, seat: &str, req_id: &str) {
        let frame = json!({"type": kind, "data": {"seat_id": seat, "req_id": req_id}});
        let _ = self.commands.send(frame.to_string());
    }

    pub fn answer(&self, req_id: &str) -> Option<String> {
        self.state.lock().unwrap().answers.get(req_id).cloned()
    }

    pub fn view(&self) -> (u64, u64, Seats) {
        let s = self.state.lock().unwrap();
        (s.epoch, s.seq, s.seats.clone())
    }
}

async fn run(
    ws_url: String,
    state: Arc<Mutex<ViewerState>>,
    mut queued: tokio::sync::mpsc::UnboundedReceiver<String>,
    reading: Reading,
) {
    let cookie = format!("seatmap_cid=fault-{:016x}", random());
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut request = match ws_url.as_str().into_client_request() {
            Ok(request) => request,
            Err(_) => return,
        };
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("ascii cookie"));
        let socket = match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => socket,
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let (mut sink, mut stream) = socket.split();
        let resume = {
            let mut s = state.lock().unwrap();
            s.connected = true;
            s.token.clone().map(|token| {
                s.reconnects += 1;
                s.resuming = true;
                json!({"type": "CONNECT", "data": {"token": token, "after_seq": s.seq, "epoch": s.epoch}})
            })
        };
        if let Some(frame) = resume {
            if sink
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                continue;
            }
        }
        let mut read_count = 0u64;
        loop {
            if reading == Reading::Stalled && read_count >= 3 {
                // Hold the socket open without reading; only commands could leave.
                match queued.recv().await {
                    Some(frame) => {
                        let _ = sink.send(Message::Text(frame.into())).await;
                        continue;
                    }
                    None => return,
                }
            }
            tokio::select! {
                frame = queued.recv() => match frame {
                    Some(frame) => {
                        if sink.send(Message::Text(frame.into())).await.is_err() { break; }
                    }
                    None => return,
                },
                message = stream.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        read_count += 1;
                        if reading == Reading::Slow {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        if let Ok(message) = serde_json::from_str::<Value>(&text) {
                            apply(&state, &message);
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
            }
        }
        state.lock().unwrap().connected = false;
        // Jittered pause before reconnecting, as the page does.
        tokio::time::sleep(Duration::from_millis(50 + random() % 200)).await;
    }
}

fn apply(state: &Mutex<ViewerState>, message: &Value) {
    let data = &message["data"];
    let mut s = state.lock().unwrap();
    match message["type"].as_str() {
        Some("WELCOME") => {
            let token = data["token"].as_str().map(str::to_owned);
            if s.resuming && token != s.token {
                return;
            }
            s.resuming = false;
            let user = data["user_id"].as_str().map(str::to_owned);
            if s.first_user_id.is_none() {
                s.first_user_id = user.clone();
            }
            s.user_id = user;
            s.token = token;
            s.edge_id = data["edge_id"].as_str().map(str::to_owned);
        }
        Some("VENUE_STATE") => {
            let epoch = data["epoch"].as_u64().unwrap_or(0);
            let seq = data["seq"].as_u64().unwrap_or(0);
            if epoch == s.epoch && seq < s.seq {
                let was = s.seq;
                s.violations
                    .push(format!("VENUE_STATE went back from {was} to {seq}"));
            }
            s.epoch = epoch;
            s.seq = seq;
            s.seats = data["seats"]
                .as_array()
                .map(|seats| seats.iter().map(seat_entry).collect())
                .unwrap_or_default();
        }
        Some("SEAT_UPDATE") => {
            let seq = data["seq"].as_u64().unwrap_or(0);
            if seq <= s.seq {
                let was = s.seq;
                s.violations.push(format!("seq {seq} after {was}"));
                return;
            }
            if seq != s.seq + 1 {
                let was = s.seq;
                s.violations.push(format!("gap: seq {seq} after {was}"));
            }
            s.seq = seq;
            let (id, entry) = seat_entry(data);
            let status = entry.0;
            s.seats.insert(id.clone(), entry);
            s.arrivals.push((id, status, Instant::now()));
        }
        Some("QUEUE") => {
            s.position = data["position"].as_u64();
        }
        Some("ADMITTED") => {
            let until = data["until_ms"].as_u64().unwrap_or(0);
            if s.admitted.is_none_or(|(_, u)| u != until) {
                s.admitted = Some((Instant::now(), until));
            }
            s.position = None;
        }
        Some("OK") | Some("ERROR") => {
            if let Some(req_id) = data["req_id"].as_str() {
                let code = data["code"].as_str().unwrap_or("OK").to_owned();
                s.answers.insert(req_id.to_owned(), code);
            }
        }
        _ => {}
    }
}

fn seat_entry(seat: &Value) -> (String, (u64, Option<String>)) {
    let id = seat["id"]
        .as_str()
        .or_else(|| seat["seat_id"].as_str())
        .unwrap_or("")
        .to_owned();
    let status = seat["status"].as_u64().unwrap_or(0);
    let held_by = if status == 0 {
        None
    } else {
        seat["held_by"].as_str().map(str::to_owned)
    };
    (id, (status, held_by))
}

/// The non-available seats of a snapshot or view.
pub fn taken(seats: &Seats) -> Seats {
    seats
        .iter()
        .filter(|(_, (status, _))| *status != 0)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A little randomness without a dependency: the clock's nanoseconds, mixed.
pub fn random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}
