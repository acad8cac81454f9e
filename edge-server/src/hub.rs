//! `VenueHub`: one task per venue that owns the venue's mirror and its subscribers' queues.
//! Everything reaches it through its mailbox, so there is no lock around the client list.
//!
//! Fan-out serialises each change once and hands the same bytes to every client's bounded
//! queue with `try_send`: a client whose queue is full is never waited on. Its queue is dropped
//! instead; the client's connection drains what it had, sees the queue close, and joins again,
//! receiving a fresh `VENUE_STATE` first. So a client never sees a seq twice or out of order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use shared::api::VenueSnapshot;
use shared::ws::{SeatUpdate, ServerMessage};
use shared::{now_ms, SeatEvent};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use crate::booking::BookingClient;
use crate::metrics::Metrics;
use crate::mirror::VenueMirror;

pub type ClientId = u64;

/// The messages of one client's queue: serialised once, shared by every recipient.
pub type ClientQueue = mpsc::Receiver<Utf8Bytes>;

enum HubInput {
    Event(SeatEvent),
    Join {
        client: ClientId,
        reply: oneshot::Sender<ClientQueue>,
    },
    Leave(ClientId),
    /// Fetch a snapshot now and rebuild from it (NATS reconnected: events may be lost).
    Resync,
    Fetched {
        snapshot: Option<VenueSnapshot>,
        /// false for the periodic seq check: only note the remote seq.
        rebuild: bool,
    },
}

/// Timing of one hub.
#[derive(Debug, Clone, Copy)]
pub struct HubTiming {
    pub client_queue: usize,
    pub reorder_window: Duration,
    pub seq_check_interval: Duration,
}

/// A handle to a venue's hub; cheap to clone.
#[derive(Clone)]
pub struct VenueHandle {
    pub name: Arc<str>,
    mailbox: mpsc::Sender<HubInput>,
}

impl VenueHandle {
    /// Starts the hub task for `venue`, optionally seeded with a snapshot already in hand.
    pub fn spawn(
        venue: &str,
        seed: Option<VenueSnapshot>,
        booking: BookingClient,
        metrics: Metrics,
        timing: HubTiming,
    ) -> VenueHandle {
        let (mailbox, inputs) = mpsc::channel(4096);
        let mut hub = VenueHub {
            mirror: VenueMirror::new(venue),
            clients: HashMap::new(),
            booking,
            metrics,
            timing,
            venue: venue.into(),
            mailbox: mailbox.downgrade(),
            fetching: false,
            next_fetch: Instant::now(),
        };
        if let Some(snapshot) = seed {
            hub.rebuild(snapshot);
        }
        tokio::spawn(hub.run(inputs));
        VenueHandle {
            name: venue.into(),
            mailbox,
        }
    }

    /// Hands an event from NATS to the hub (waits if the hub is behind: that is backpressure
    /// on the NATS subscription, not on any client).
    pub async fn event(&self, event: SeatEvent) {
        let _ = self.mailbox.send(HubInput::Event(event)).await;
    }

    /// Subscribes a client: its queue starts with the venue's full state (once known).
    pub async fn join(&self, client: ClientId) -> Option<ClientQueue> {
        let (reply, queue) = oneshot::channel();
        self.mailbox
            .send(HubInput::Join { client, reply })
            .await
            .ok()?;
        queue.await.ok()
    }

    pub fn leave(&self, client: ClientId) {
        let _ = self.mailbox.try_send(HubInput::Leave(client));
    }

    pub async fn resync(&self) {
        let _ = self.mailbox.send(HubInput::Resync).await;
    }
}

struct VenueHub {
    venue: Arc<str>,
    mirror: VenueMirror,
    clients: HashMap<ClientId, mpsc::Sender<Utf8Bytes>>,
    booking: BookingClient,
    metrics: Metrics,
    timing: HubTiming,
    /// For fetch tasks to report back; weak so the hub stops when every handle is gone.
    mailbox: mpsc::WeakSender<HubInput>,
    fetching: bool,
    /// Failed fetches back off so a down booking service is not hammered.
    next_fetch: Instant,
}

impl VenueHub {
    async fn run(mut self, mut inputs: mpsc::Receiver<HubInput>) {
        let mut gap_check = tokio::time::interval(Duration::from_millis(50));
        gap_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut seq_check = tokio::time::interval(self.timing.seq_check_interval);
        seq_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(input) => self.handle(input),
                    None => break,
                },
                _ = gap_check.tick() => {
                    if self.mirror.needs_snapshot(Instant::now(), self.timing.reorder_window) {
                        self.fetch(true);
                    }
                }
                _ = seq_check.tick() => self.fetch(false),
            }
        }
        tracing::debug!(venue = %self.venue, "venue hub stopped");
    }

    fn handle(&mut self, input: HubInput) {
        match input {
            HubInput::Event(event) => {
                self.metrics.events_received.inc();
                for event in self.mirror.accept(event, Instant::now()) {
                    self.fan_out(&event);
                }
            }
            HubInput::Join { client, reply } => {
                let (queue, receiver) = mpsc::channel(self.timing.client_queue);
                if self.mirror.is_ready() {
                    let state = ServerMessage::VenueState(self.mirror.state(now_ms())).to_json();
                    let _ = queue.try_send(Utf8Bytes::from(state));
                }
                self.clients.insert(client, queue);
                let _ = reply.send(receiver);
            }
            HubInput::Leave(client) => {
                self.clients.remove(&client);
            }
            HubInput::Resync => {
                self.next_fetch = Instant::now();
                self.fetching = false;
                self.fetch(true);
            }
            HubInput::Fetched { snapshot, rebuild } => {
                self.fetching = false;
                match snapshot {
                    None => self.next_fetch = Instant::now() + Duration::from_millis(500),
                    Some(snapshot) if rebuild => self.rebuild(snapshot),
                    Some(snapshot) => self.mirror.note_remote_seq(snapshot.seq, Instant::now()),
                }
            }
        }
    }

    /// Fetches a snapshot in the background; it comes back as `HubInput::Fetched`.
    fn fetch(&mut self, rebuild: bool) {
        if self.fetching || Instant::now() < self.next_fetch {
            return;
        }
        let Some(mailbox) = self.mailbox.upgrade() else {
            return;
        };
        self.fetching = true;
        let booking = self.booking.clone();
        let venue = self.venue.clone();
        tokio::spawn(async move {
            let snapshot = match booking.snapshot(&venue).await {
                Ok(Some(snapshot)) => Some(snapshot),
                Ok(None) => {
                    tracing::warn!(%venue, "the booking service does not know this venue");
                    None
                }
                Err(_) => None,
            };
            let _ = mailbox.send(HubInput::Fetched { snapshot, rebuild }).await;
        });
    }

    /// Rebuilds from a newer snapshot and resynchronises every client with a fresh
    /// `VENUE_STATE`, followed by any buffered events that come after it.
    fn rebuild(&mut self, snapshot: VenueSnapshot) {
        let (from, to) = (self.mirror.seq(), snapshot.seq);
        let Some(replayed) = self.mirror.reset_to(snapshot, Instant::now()) else {
            return;
        };
        self.metrics.venue_resyncs.inc();
        tracing::info!(venue = %self.venue, from, to, replayed = replayed.len(), clients = self.clients.len(), "mirror rebuilt from a snapshot");
        if !self.clients.is_empty() {
            let state = ServerMessage::VenueState(self.mirror.state(now_ms())).to_json();
            self.metrics
                .client_resyncs
                .inc_by(self.clients.len() as u64);
            self.send_to_all(Utf8Bytes::from(state));
        }
        for event in replayed {
            self.fan_out(&event);
        }
    }

    fn fan_out(&mut self, event: &SeatEvent) {
        self.metrics.events_fanned_out.inc();
        let update = ServerMessage::SeatUpdate(SeatUpdate::from(event)).to_json();
        self.send_to_all(Utf8Bytes::from(update));
    }

    fn send_to_all(&mut self, message: Utf8Bytes) {
        let metrics = &self.metrics;
        self.clients
            .retain(|client, queue| match queue.try_send(message.clone()) {
                Ok(()) => {
                    metrics.deliveries.inc();
                    true
                }
                Err(TrySendError::Full(_)) => {
                    // Dropping the queue tells the client's connection to resynchronise.
                    metrics.slow_client_resyncs.inc();
                    tracing::info!(client, "client queue full; it will be resynchronised");
                    false
                }
                Err(TrySendError::Closed(_)) => false,
            });
    }
}
