//! WebSocket viewers: many sockets in one process, each noting every change it receives (its seq
//! and the instant), and checking order and duplicates as it goes. The same client speaks three
//! protocols, so the seat map, nats-server's WebSocket listener and the minimal broadcaster are
//! measured by one piece of code:
//!
//! * `seatmap`: the edge's protocol: `VENUE_STATE`, then one `SEAT_UPDATE` per change.
//! * `nats`: the NATS text protocol inside WebSocket frames (`CONNECT`, `SUB seats.> 1`,
//!   `PING`; then `MSG` with the event JSON), as nats.ws speaks it to nats-server.
//! * `raw`: one text frame per change carrying the event JSON (the floor broadcaster).
//!
//! Frames are not parsed as JSON: a scan for `"seq":` is all a viewer needs, so the viewers
//! spend as little as possible of the CPU they share with the servers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::Histogram;
use crate::sys::now_ns;

/// What the viewers speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The seat map's edges (directly or through NGINX).
    Seatmap,
    /// nats-server's WebSocket listener, subscribed to `seats.>`.
    Nats,
    /// The floor broadcaster: one text frame per change.
    Raw,
}

/// Which viewers to connect, and where.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSpec {
    pub protocol: Protocol,
    /// WebSocket URLs; viewer `i` uses `urls[i % len]`.
    pub urls: Vec<String>,
    pub count: usize,
    /// Index of this group's first viewer overall (spreads viewers over URLs and source IPs).
    pub offset: usize,
    /// `seatmap` only: watch this venue (sends `CONNECT {"venue"}`) instead of the default.
    pub venue: Option<String>,
    /// Spread client sockets over 127.0.0.1 … 127.0.0.N (more ephemeral ports per target).
    pub source_ips: u8,
    /// Connections being opened at once.
    pub parallel: usize,
}

/// One viewer's notes, written only by its own task and read at report time.
#[derive(Default)]
struct Notes {
    connect_ns: u64,
    ready_ns: Option<u64>,
    state_bytes: usize,
    /// Last seq applied (from a VENUE_STATE or an update).
    last: Option<u64>,
    /// (seq, received ns) of updates since the last report, in seq order.
    updates: Vec<(u64, u64)>,
    /// Seqs of VENUE_STATEs received after the first one, since the last report.
    resync_states: Vec<u64>,
    duplicates: u64,
    out_of_order: u64,
    closed: Option<String>,
}

impl Notes {
    fn update(&mut self, seq: u64, at: u64) {
        if let Some(last) = self.last {
            if seq <= last {
                let seen = seq == last || self.updates.binary_search_by_key(&seq, |u| u.0).is_ok();
                if seen {
                    self.duplicates += 1;
                } else {
                    self.out_of_order += 1;
                }
                return;
            }
        }
        self.last = Some(seq);
        self.updates.push((seq, at));
    }

    fn state(&mut self, seq: u64, bytes: usize, at: u64) {
        if self.ready_ns.is_none() {
            self.ready_ns = Some(at);
            self.state_bytes = bytes;
        } else {
            if self.last.is_some_and(|last| seq < last) {
                self.out_of_order += 1;
            }
            self.resync_states.push(seq);
        }
        self.last = Some(seq);
    }
}

/// What a group of viewers saw of one window of changes; mergeable across processes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// Viewers that joined (connection failures are reported by `Joins`).
    pub viewers: u64,
    /// Of those, viewers whose socket closed (at any time so far).
    pub closed: u64,
    /// changes x viewers.
    pub expected: u64,
    pub delivered: u64,
    /// Neither delivered nor covered by a later VENUE_STATE.
    pub missing: u64,
    /// Not delivered one by one, but covered by a VENUE_STATE (the viewer was resynchronised).
    pub resynced: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub latency: Histogram,
    /// From the change reaching a plain NATS subscriber (the probe) to the viewer: the fan-out
    /// hop alone. Empty when no probe times were given.
    pub hop: Histogram,
    /// Close reasons seen (at most a few, for the log).
    pub close_reasons: Vec<String>,
}

impl Report {
    pub fn merge(&mut self, other: &Report) {
        self.viewers += other.viewers;
        self.closed += other.closed;
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.missing += other.missing;
        self.resynced += other.resynced;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.latency.merge(&other.latency);
        self.hop.merge(&other.hop);
        for reason in &other.close_reasons {
            if self.close_reasons.len() < 5 && !self.close_reasons.contains(reason) {
                self.close_reasons.push(reason.clone());
            }
        }
    }

    /// Every change reached every viewer once, in order.
    pub fn is_correct(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.out_of_order == 0 && self.closed == 0
    }
}

/// How joining went: connect start to the first state (seatmap: VENUE_STATE; nats: PONG after
/// SUB; raw: the first frame).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Joins {
    pub ready: u64,
    pub failed: u64,
    pub join: Histogram,
    /// Bytes of the first VENUE_STATE (seatmap).
    pub state_bytes: u64,
    pub first_error: Option<String>,
}

impl Joins {
    pub fn merge(&mut self, other: &Joins) {
        self.ready += other.ready;
        self.failed += other.failed;
        self.join.merge(&other.join);
        self.state_bytes = self.state_bytes.max(other.state_bytes);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }
}

/// Viewers in this process.
pub struct ViewerGroup {
    notes: Vec<Arc<Mutex<Notes>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    ready: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Drop for ViewerGroup {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ViewerGroup {
    /// Opens every viewer's socket and waits (at most `timeout`) until each is ready or failed.
    pub async fn connect(spec: &GroupSpec, timeout: Duration) -> anyhow::Result<ViewerGroup> {
        if spec.urls.is_empty() {
            bail!("no URLs to connect viewers to");
        }
        let permits = Arc::new(Semaphore::new(spec.parallel.max(1)));
        let ready = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut group = ViewerGroup {
            notes: Vec::with_capacity(spec.count),
            tasks: Vec::with_capacity(spec.count),
            ready: ready.clone(),
            failed: failed.clone(),
            errors: errors.clone(),
        };
        for i in 0..spec.count {
            let index = spec.offset + i;
            let url = spec.urls[index % spec.urls.len()].clone();
            let source = [
                127,
                0,
                0,
                1 + (index % spec.source_ips.max(1) as usize) as u8,
            ];
            let notes = Arc::new(Mutex::new(Notes::default()));
            group.notes.push(notes.clone());
            let permits = permits.clone();
            let (ready, failed, errors) = (ready.clone(), failed.clone(), errors.clone());
            let protocol = spec.protocol;
            let venue = spec.venue.clone();
            group.tasks.push(tokio::spawn(async move {
                let permit = permits.acquire_owned().await.expect("never closed");
                notes.lock().unwrap().connect_ns = now_ns();
                let viewer = Viewer {
                    notes: notes.clone(),
                    ready: ready.clone(),
                    permit: Some(permit),
                    venue,
                };
                let result = viewer.run(protocol, &url, source).await;
                let mut n = notes.lock().unwrap();
                if n.ready_ns.is_none() {
                    failed.fetch_add(1, Ordering::Relaxed);
                    let mut errors = errors.lock().unwrap();
                    if errors.len() < 3 {
                        errors.push(format!("{url}: {}", describe(&result)));
                    }
                }
                n.closed = Some(describe(&result));
            }));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_print = tokio::time::Instant::now();
        loop {
            let (r, f) = (
                ready.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed),
            );
            if r + f >= spec.count || tokio::time::Instant::now() >= deadline {
                break;
            }
            if last_print.elapsed() >= Duration::from_secs(2) {
                eprintln!("viewers: {r} ready, {f} failed of {}", spec.count);
                last_print = tokio::time::Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(group)
    }

    pub fn ready(&self) -> usize {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn joins(&self) -> Joins {
        let mut joins = Joins {
            failed: self.failed.load(Ordering::Relaxed) as u64,
            first_error: self.errors.lock().unwrap().first().cloned(),
            ..Joins::default()
        };
        for notes in &self.notes {
            let n = notes.lock().unwrap();
            if let Some(ready) = n.ready_ns {
                joins.ready += 1;
                joins.join.record(ready.saturating_sub(n.connect_ns));
                joins.state_bytes = joins.state_bytes.max(n.state_bytes as u64);
            }
        }
        joins
    }

    /// Updates received so far with seq in `from..=to`, and how many ready viewers closed since.
    pub fn count(&self, from: u64, to: u64) -> (u64, u64) {
        let mut delivered = 0u64;
        let mut closed = 0u64;
        for notes in &self.notes {
            let n = notes.lock().unwrap();
            let lo = n.updates.partition_point(|u| u.0 < from);
            let hi = n.updates.partition_point(|u| u.0 <= to);
            delivered += (hi - lo) as u64;
            closed += u64::from(n.closed.is_some() && n.ready_ns.is_some());
        }
        (delivered, closed)
    }

    /// Latency and correctness for the changes `first_seq ..` sent at `sent_ns` (and, when
    /// given, seen by the NATS probe at `probe_ns`, 0 = not seen); then forgets what it noted so
    /// far (order checking goes on across reports).
    pub fn report(&self, first_seq: u64, sent_ns: &[u64], probe_ns: &[u64]) -> Report {
        let mut report = Report::default();
        for notes in &self.notes {
            let mut n = notes.lock().unwrap();
            if n.ready_ns.is_none() {
                // Never joined: counted as a failed connection, not as missing deliveries.
                continue;
            }
            report.viewers += 1;
            if let Some(reason) = &n.closed {
                report.closed += 1;
                if report.close_reasons.len() < 5 && !report.close_reasons.contains(reason) {
                    report.close_reasons.push(reason.clone());
                }
            }
            report.expected += sent_ns.len() as u64;
            let covered_to = n.resync_states.iter().copied().max().unwrap_or(0);
            let mut updates = n.updates.iter().peekable();
            for (i, sent) in sent_ns.iter().enumerate() {
                let seq = first_seq + i as u64;
                while updates.next_if(|u| u.0 < seq).is_some() {}
                match updates.peek() {
                    Some(&&(s, at)) if s == seq => {
                        report.delivered += 1;
                        report.latency.record(at.saturating_sub(*sent));
                        if let Some(&probe) = probe_ns.get(i).filter(|p| **p > 0) {
                            report.hop.record(at.saturating_sub(probe));
                        }
                    }
                    _ if seq <= covered_to => report.resynced += 1,
                    _ => report.missing += 1,
                }
            }
            report.duplicates += n.duplicates;
            report.out_of_order += n.out_of_order;
            n.updates.clear();
            n.resync_states.clear();
            n.duplicates = 0;
            n.out_of_order = 0;
        }
        report
    }
}

fn describe(result: &anyhow::Result<()>) -> String {
    match result {
        Ok(()) => "closed by the server".to_owned(),
        Err(e) => format!("{e:#}"),
    }
}

struct Viewer {
    notes: Arc<Mutex<Notes>>,
    ready: Arc<AtomicUsize>,
    /// Held while connecting; released once ready so the next viewers may connect.
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    venue: Option<String>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

impl Viewer {
    fn mark_ready(&mut self) {
        self.ready.fetch_add(1, Ordering::Relaxed);
        self.permit = None;
    }

    async fn run(self, protocol: Protocol, url: &str, source: [u8; 4]) -> anyhow::Result<()> {
        let addr = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .with_context(|| format!("{url}: not a ws:// URL"))?;
        let addr: std::net::SocketAddr = addr
            .parse()
            .with_context(|| format!("{url}: needs ip:port"))?;
        let socket = TcpSocket::new_v4()?;
        if addr.ip().is_loopback() {
            socket.bind((std::net::Ipv4Addr::from(source), 0).into())?;
        }
        let stream = tokio::time::timeout(Duration::from_secs(10), socket.connect(addr))
            .await
            .context("TCP connect timed out")??;
        stream.set_nodelay(true)?;
        // tungstenite zero-fills its whole read buffer before every read (128 KiB by default):
        // that memset was 40 % of a viewer's CPU. 8 KiB holds many small frames.
        let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::client_async_with_config(url, stream, Some(config)),
        )
        .await
        .context("WebSocket handshake timed out")??;
        match protocol {
            Protocol::Seatmap => self.seatmap(ws).await,
            Protocol::Nats => self.nats(ws).await,
            Protocol::Raw => self.raw(ws).await,
        }
    }

    async fn seatmap(mut self, mut ws: Socket) -> anyhow::Result<()> {
        // As the page does: CONNECT as soon as the socket opens (the edge holds the first
        // VENUE_STATE back for a moment, waiting for a CONNECT that might resume by seq).
        let connect = match &self.venue {
            Some(venue) => serde_json::json!({"type": "CONNECT", "data": {"venue": venue}}),
            None => serde_json::json!({"type": "CONNECT", "data": {}}),
        };
        ws.send(Message::text(connect.to_string())).await?;
        while let Some(frame) = ws.next().await {
            let at = now_ns();
            let Message::Text(text) = frame? else {
                continue;
            };
            let text = text.as_str();
            match frame_type(text) {
                Some("SEAT_UPDATE") => {
                    if self.venue.is_some() && !self.watching(text) {
                        continue;
                    }
                    if let Some(seq) = number_after(text, "\"seq\":") {
                        self.notes.lock().unwrap().update(seq, at);
                    }
                }
                Some("VENUE_STATE") => {
                    if self.venue.is_some() && !self.watching(text) {
                        continue;
                    }
                    let seq = number_after(text, "\"seq\":").unwrap_or(0);
                    let first = self.permit.is_some();
                    self.notes.lock().unwrap().state(seq, text.len(), at);
                    if first {
                        self.mark_ready();
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn watching(&self, text: &str) -> bool {
        let venue = self.venue.as_deref().unwrap_or("");
        string_after(text, "\"venue\":\"").is_some_and(|v| v == venue)
    }

    async fn nats(mut self, mut ws: Socket) -> anyhow::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut subscribed = false;
        while let Some(frame) = ws.next().await {
            let at = now_ns();
            match frame? {
                Message::Binary(b) => buf.extend_from_slice(&b),
                Message::Text(t) => buf.extend_from_slice(t.as_bytes()),
                Message::Close(_) => break,
                _ => continue,
            }
            let mut start = 0;
            let mut replies: Vec<&'static [u8]> = Vec::new();
            while let Some(eol) = find(&buf[start..], b"\r\n") {
                let line = &buf[start..start + eol];
                if let Some(rest) = line.strip_prefix(b"MSG ") {
                    let size: usize = std::str::from_utf8(rest)
                        .ok()
                        .and_then(|r| r.rsplit(' ').next())
                        .and_then(|n| n.parse().ok())
                        .context("bad MSG line")?;
                    let payload_at = start + eol + 2;
                    if buf.len() < payload_at + size + 2 {
                        break; // the rest of the message is in a later frame
                    }
                    let payload = &buf[payload_at..payload_at + size];
                    if let Some(seq) = std::str::from_utf8(payload)
                        .ok()
                        .and_then(|p| number_after(p, "\"seq\":"))
                    {
                        self.notes.lock().unwrap().update(seq, at);
                    }
                    start = payload_at + size + 2;
                    continue;
                }
                if line.starts_with(b"INFO") && !subscribed {
                    subscribed = true;
                    replies.push(
                        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"seatbench\",\"version\":\"0\",\"protocol\":1,\"headers\":false}\r\nSUB seats.> 1\r\nPING\r\n",
                    );
                } else if line == b"PING" {
                    replies.push(b"PONG\r\n");
                } else if line == b"PONG" && self.permit.is_some() {
                    self.notes.lock().unwrap().ready_ns = Some(at);
                    self.mark_ready();
                } else if line.starts_with(b"-ERR") {
                    bail!("nats-server: {}", String::from_utf8_lossy(line));
                }
                start += eol + 2;
            }
            buf.drain(..start);
            for reply in replies {
                ws.send(Message::binary(reply)).await?;
            }
        }
        Ok(())
    }

    async fn raw(mut self, mut ws: Socket) -> anyhow::Result<()> {
        while let Some(frame) = ws.next().await {
            let at = now_ns();
            let Message::Text(text) = frame? else {
                continue;
            };
            if self.permit.is_some() {
                self.notes.lock().unwrap().ready_ns = Some(at);
                self.mark_ready();
            }
            if let Some(seq) = number_after(text.as_str(), "\"seq\":") {
                self.notes.lock().unwrap().update(seq, at);
            }
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of the first `"type":"…"` in a frame.
pub fn frame_type(text: &str) -> Option<&str> {
    string_after(text, "\"type\":\"")
}

/// The string that follows `key` up to the next `"`.
fn string_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// The unsigned number that follows the first `key`.
pub fn number_after(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let digits = text[start..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(None, |acc: Option<u64>, d| {
            Some(acc.unwrap_or(0) * 10 + u64::from(d - b'0'))
        });
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_frames() {
        let update = r#"{"type":"SEAT_UPDATE","data":{"venue":"main","seq":42,"seat_id":"A1"}}"#;
        assert_eq!(frame_type(update), Some("SEAT_UPDATE"));
        assert_eq!(number_after(update, "\"seq\":"), Some(42));
        assert_eq!(string_after(update, "\"venue\":\""), Some("main"));
        assert_eq!(number_after("{}", "\"seq\":"), None);
    }

    #[test]
    fn notes_count_duplicates_and_reordering() {
        let mut n = Notes::default();
        n.state(10, 100, 1);
        n.update(11, 2);
        n.update(11, 3);
        n.update(13, 4);
        n.update(12, 5);
        assert_eq!((n.duplicates, n.out_of_order), (1, 1));
        assert_eq!(n.updates, vec![(11, 2), (13, 4)]);
    }

    #[test]
    fn reports_missing_and_resynced() {
        let group = ViewerGroup {
            notes: vec![Arc::new(Mutex::new(Notes::default()))],
            tasks: Vec::new(),
            ready: Arc::default(),
            failed: Arc::default(),
            errors: Arc::default(),
        };
        {
            let mut n = group.notes[0].lock().unwrap();
            n.state(0, 10, 0);
            n.update(1, 1_000);
            n.state(3, 10, 5_000); // a resync covering 2 and 3
            n.update(5, 9_000); // 4 never arrives
        }
        let report = group.report(1, &[0, 0, 0, 0, 0], &[]);
        assert_eq!(report.delivered, 2);
        assert_eq!(report.resynced, 2);
        assert_eq!(report.missing, 1);
        assert_eq!(report.latency.max_ns, 9_000);
        assert!(!report.is_correct());
    }
}
