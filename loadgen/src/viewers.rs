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
//! The viewers share two cores with the servers they measure, so their receive path is as cheap
//! as it can be: sockets are opened with tokio ([`connect`]), then handed to one thread's epoll
//! loop ([`event_loop`]) that parses frames by hand ([`frames`]), scans messages for `"seq":`
//! without parsing JSON ([`protocols`]) and keeps the notes itself ([`notes`]).

mod connect;
mod event_loop;
mod frames;
mod notes;
mod protocols;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, Semaphore};

use crate::stats::Histogram;
use crate::sys::now_ns;
use event_loop::{EventLoop, Request, WAKER};
use protocols::Settings;

pub use frames::number_after;

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
    /// `seatmap` only: ask for the compact `VENUE_STATE` (`CONNECT {"state":"compact"}`), as
    /// the page does.
    #[serde(default)]
    pub compact: bool,
    /// Start viewer `i` of the group `i × spread_ms / count` ms after the group starts, so the
    /// connections arrive spread evenly over `spread_ms` (a reconnect storm); 0: all at once
    /// (as far as `parallel` lets them). A viewer's join time counts from its start.
    #[serde(default)]
    pub spread_ms: u64,
}

/// What a group of viewers saw of one window of changes; mergeable across processes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// Viewers that joined (connection failures are reported by `Joins`).
    pub viewers: u64,
    /// Of those, viewers whose socket closed (at any time so far).
    pub closed: u64,
    /// changes x viewers, but for changes a viewer's first state already had (it joined after
    /// them: `before_join`).
    pub expected: u64,
    #[serde(default)]
    pub before_join: u64,
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
        self.before_join += other.before_join;
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

/// What the connecting tasks and the event loop share.
struct Shared {
    ready: AtomicUsize,
    failed: AtomicUsize,
    errors: Mutex<Vec<String>>,
    /// Connections being opened at once: a permit is held from the connect until the viewer is
    /// ready (or has failed), so the next viewers may connect.
    permits: Semaphore,
}

impl Shared {
    fn fail(&self, error: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 3 {
            errors.push(error);
        }
    }
}

/// Viewers in this process: their sockets in one event loop on its own thread.
pub struct ViewerGroup {
    shared: Arc<Shared>,
    requests: mpsc::Sender<Request>,
    waker: Arc<mio::Waker>,
    event_loop: Option<std::thread::JoinHandle<()>>,
    connecting: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ViewerGroup {
    fn drop(&mut self) {
        for task in &self.connecting {
            task.abort();
        }
        let _ = self.requests.send(Request::Stop);
        let _ = self.waker.wake();
        if let Some(thread) = self.event_loop.take() {
            let _ = thread.join();
        }
    }
}

impl ViewerGroup {
    /// Opens every viewer's socket and waits (at most `timeout`) until each is ready or failed.
    pub async fn connect(spec: &GroupSpec, timeout: Duration) -> anyhow::Result<ViewerGroup> {
        if spec.urls.is_empty() {
            bail!("no URLs to connect viewers to");
        }
        let shared = Arc::new(Shared {
            ready: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            errors: Mutex::new(Vec::new()),
            permits: Semaphore::new(spec.parallel.max(1)),
        });
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let (requests, receiver) = mpsc::channel();
        let settings = Settings {
            protocol: spec.protocol,
            venue: spec.venue.clone(),
        };
        let event_loop =
            EventLoop::new(poll, receiver, shared.clone(), settings, spec.urls.clone());
        let thread = std::thread::Builder::new()
            .name("viewers".to_owned())
            .spawn(move || event_loop.run())?;
        let mut group = ViewerGroup {
            shared: shared.clone(),
            requests: requests.clone(),
            waker: waker.clone(),
            event_loop: Some(thread),
            connecting: Vec::with_capacity(spec.count),
        };
        for i in 0..spec.count {
            let index = spec.offset + i;
            let url_index = index % spec.urls.len();
            let url = spec.urls[url_index].clone();
            let source = [
                127,
                0,
                0,
                1 + (index % spec.source_ips.max(1) as usize) as u8,
            ];
            let (shared, requests, waker) = (shared.clone(), requests.clone(), waker.clone());
            let (protocol, compact) = (spec.protocol, spec.compact);
            let venue = spec.venue.clone();
            let start_after = Duration::from_millis(spec.spread_ms * i as u64 / spec.count as u64);
            group.connecting.push(tokio::spawn(async move {
                tokio::time::sleep(start_after).await;
                // From here the viewer wants its state: waiting for a permit counts.
                let connect_ns = now_ns();
                let permit = shared.permits.acquire().await.expect("never closed");
                let hello = connect::Hello {
                    venue: venue.as_deref(),
                    compact,
                };
                match connect::open(protocol, &url, source, hello).await {
                    Ok(opened) => {
                        // The event loop gives the permit back once the viewer is ready or failed.
                        permit.forget();
                        let add = Request::Add {
                            opened,
                            connect_ns,
                            url: url_index,
                        };
                        if requests.send(add).is_ok() {
                            let _ = waker.wake();
                        }
                    }
                    Err(e) => shared.fail(format!("{url}: {e:#}")),
                }
            }));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_print = tokio::time::Instant::now();
        loop {
            let (r, f) = (
                shared.ready.load(Ordering::Relaxed),
                shared.failed.load(Ordering::Relaxed),
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
        self.shared.ready.load(Ordering::Relaxed)
    }

    /// Sends a request to the event loop and waits for its answer.
    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> anyhow::Result<T> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .map_err(|_| anyhow!("the viewers' event loop has stopped"))?;
        self.waker.wake()?;
        answer.await.context("the viewers' event loop has stopped")
    }

    pub async fn joins(&self) -> anyhow::Result<Joins> {
        let mut joins = self.ask(|reply| Request::Joins { reply }).await?;
        joins.failed = self.shared.failed.load(Ordering::Relaxed) as u64;
        joins.first_error = self.shared.errors.lock().unwrap().first().cloned();
        Ok(joins)
    }

    /// Updates received so far with seq in `from..=to`, and how many ready viewers closed since.
    pub async fn count(&self, from: u64, to: u64) -> anyhow::Result<(u64, u64)> {
        self.ask(|reply| Request::Count { from, to, reply }).await
    }

    /// Latency and correctness for the changes `first_seq ..` sent at `sent_ns` (and, when
    /// given, seen by the NATS probe at `probe_ns`, 0 = not seen); then forgets what it noted so
    /// far (order checking goes on across reports).
    pub async fn report(
        &self,
        first_seq: u64,
        sent_ns: Vec<u64>,
        probe_ns: Vec<u64>,
    ) -> anyhow::Result<Report> {
        self.ask(|reply| Request::Report {
            first_seq,
            sent_ns,
            probe_ns,
            reply,
        })
        .await
    }
}
