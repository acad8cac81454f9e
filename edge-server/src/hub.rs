//! `VenueHub`: one task per venue that owns the venue's mirror, its recent updates and its
//! subscribers' queues. Everything reaches it through two channels (NATS events, taken first,
//! and its mailbox for the rest), so there is no lock around the client list, and a join (with
//! its replay of missed updates) is ordered exactly against the live updates: nothing is missed
//! or sent twice. A crowd of joins never holds back the updates of those already watching.
//!
//! Fan-out (`fanout.rs`) encodes each change's WebSocket frame once and writes the same bytes to every
//! client's socket from this task (`wire::ClientSocket::send`: a `try_write`, no wake-up of any
//! other task). A client whose kernel buffer is full gets the frame queued in its backlog; one
//! whose backlog is at `CLIENT_QUEUE` frames is never waited on: the hub drops it and marks it
//! lagged, and its connection joins again, receiving a fresh `VENUE_STATE` after what it had. So
//! a client never sees a seq twice or out of order.
//!
//! The state (`state.rs`) is serialised and framed once per seq and form and shared by every
//! join (`state_frame`), however large the venue: a reconnect storm costs one serialisation, not one
//! per client. A client that asked for the compact form gets its own `MINE` after it, from the
//! mirror's index of seats by holder (the only part made per client).
//!
//! The hub also reports who watches the venue to the waiting room (`waiting_room.rs`) and writes
//! each client's `QUEUE`/`ADMITTED` the same way, and tells its clients with `STATUS` when it may
//! be behind because the edge lost NATS, and when it has caught up again (`liveness.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::api::VenueSnapshot;
use shared::ws::StateForm;
use shared::SeatEvent;
use tokio::sync::{mpsc, oneshot, watch};

use crate::booking::{BookingClient, Fetch, Fetched};
use crate::metrics::Metrics;
use crate::mirror::{Mark, Need, VenueMirror};
use crate::nats_link::NatsLink;
use crate::recent::{RecentUpdates, KEPT_UPDATES};
use crate::waiting_room::{ClientStanding, Outcome, VenueWaitingRoom};
use crate::wire::{ClientSocket, WireFrame};

mod fanout;
mod liveness;
mod state;
mod sync;
mod waiting_room;

use fanout::{deliver, update_frame};
use liveness::Liveness;

pub type ClientId = u64;

/// Wait after a failed fetch, so a booking service that is down is not hammered.
const FETCH_BACKOFF: Duration = Duration::from_millis(500);
/// Most inputs handled before the updates they brought are written.
const MAX_BATCH: usize = 64;
/// How long one serialised `VENUE_STATE` is shared by joins at the same seq: its
/// `server_time_ms` is at most this old.
const STATE_REUSE: Duration = Duration::from_millis(250);

/// Where a reconnecting client says it stopped: the last seq it applied, and its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub after_seq: u64,
    pub epoch: Option<u64>,
}

enum HubInput {
    /// An event from NATS, and when it arrived (for `edge_event_delivery_seconds`).
    Event(SeatEvent, Instant),
    Join {
        client: ClientId,
        socket: Arc<ClientSocket>,
        /// The socket's subscription for this join (`ClientSocket::subscribe`).
        token: u64,
        watcher: Watcher,
        resume: Option<Resume>,
        reply: oneshot::Sender<()>,
    },
    Leave(ClientId),
    /// The client took on another identity (`CONNECT` with another token), or asked for
    /// another form of state.
    Watcher {
        client: ClientId,
        watcher: Watcher,
    },
    /// A waiting-room report came back.
    WaitingRoom(Outcome),
    Fetched {
        generation: u64,
        /// Where the mirror was when the fetch started.
        mark: Mark,
        result: Fetched,
    },
}

/// Who watches the venue on a socket, and how it wants its `VENUE_STATE`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watcher {
    /// The authority key of the client's identity: what the waiting room knows it by.
    pub owner: Arc<str>,
    /// Its public id: whose seats its `MINE` lists.
    pub user_id: Arc<str>,
    pub form: StateForm,
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
    /// NATS events, apart from the mailbox: the hub takes them first, so a crowd of joins
    /// (a reconnect storm) never holds back the updates of the clients already watching.
    events: mpsc::Sender<HubInput>,
}

impl VenueHandle {
    /// Starts the hub task for `venue`, optionally seeded with a snapshot already in hand;
    /// `nats` says whether the edge hears NATS.
    pub fn spawn(
        venue: &str,
        seed: Option<VenueSnapshot>,
        booking: BookingClient,
        metrics: Metrics,
        timing: HubTiming,
        nats: watch::Receiver<NatsLink>,
    ) -> VenueHandle {
        let (mailbox, inputs) = mpsc::channel(4096);
        let (events, event_inputs) = mpsc::channel(4096);
        let mut hub = VenueHub {
            mirror: VenueMirror::new(venue),
            recent: RecentUpdates::new(KEPT_UPDATES),
            clients: BTreeMap::new(),
            booking,
            metrics,
            timing,
            venue: venue.into(),
            mailbox: mailbox.downgrade(),
            fetching: false,
            generation: 0,
            rebuilt_at_generation: 0,
            next_fetch: Instant::now(),
            waiting_room: VenueWaitingRoom::new(Instant::now()),
            joins: 0,
            states: [None, None],
            batch: Vec::new(),
            batch_received: Vec::new(),
            liveness: Liveness::at_start(*nats.borrow()),
            nats_connection: liveness::connection_of(*nats.borrow()),
        };
        if let Some(snapshot) = seed {
            hub.rebuild(snapshot, Mark::default());
        }
        tokio::spawn(hub.run(event_inputs, inputs, nats));
        VenueHandle {
            name: venue.into(),
            mailbox,
            events,
        }
    }

    /// Hands an event from NATS to the hub (waits if the hub is behind: that is backpressure
    /// on the NATS subscription, not on any client).
    pub async fn event(&self, event: SeatEvent) {
        let received = Instant::now();
        let _ = self.events.send(HubInput::Event(event, received)).await;
    }

    /// Subscribes a client. Its socket gets the venue's state first (once known, in the
    /// watcher's form), or, for a client resuming inside the kept updates, exactly the updates
    /// it missed; then every update, and its waiting-room standing. `false` when the hub is
    /// gone.
    pub async fn join(
        &self,
        client: ClientId,
        socket: Arc<ClientSocket>,
        watcher: Watcher,
        resume: Option<Resume>,
    ) -> bool {
        let (reply, joined) = oneshot::channel();
        // From here on, a venue this socket watched before cannot write to it.
        let token = socket.subscribe();
        let sent = self
            .mailbox
            .send(HubInput::Join {
                client,
                socket,
                token,
                watcher,
                resume,
                reply,
            })
            .await;
        sent.is_ok() && joined.await.is_ok()
    }

    pub fn leave(&self, client: ClientId) {
        let _ = self.mailbox.try_send(HubInput::Leave(client));
    }

    /// The client now watches as `watcher` (it stays subscribed).
    pub async fn set_watcher(&self, client: ClientId, watcher: Watcher) {
        let _ = self
            .mailbox
            .send(HubInput::Watcher { client, watcher })
            .await;
    }
}

/// One client's socket, and the seq up to which it already has every update (a client that
/// resumed from further than this edge has got so far).
struct Subscriber {
    socket: Arc<ClientSocket>,
    /// The socket's subscription this hub writes under.
    token: u64,
    watcher: Watcher,
    /// When it joined, counted per hub: newcomers are reported (and queued) in this order.
    joined: u64,
    standing: ClientStanding,
    has_through: u64,
    /// The fetch generation current when it joined: only answers to later fetches can show
    /// that its `has_through` is impossible.
    joined_at_generation: u64,
}

struct VenueHub {
    venue: Arc<str>,
    mirror: VenueMirror,
    recent: RecentUpdates,
    /// In connection order (ids grow): a fan-out walks the sockets in the order they were
    /// allocated, which measured 0.3 µs less CPU per delivery than a hash map's order.
    clients: BTreeMap<ClientId, Subscriber>,
    booking: BookingClient,
    metrics: Metrics,
    timing: HubTiming,
    /// For fetch tasks to report back; weak so the hub stops when every handle is gone.
    mailbox: mpsc::WeakSender<HubInput>,
    fetching: bool,
    /// Counts fetches started.
    generation: u64,
    /// `generation` at the last rebuild: answers to older fetches are out of date.
    rebuilt_at_generation: u64,
    /// Failed fetches back off so a down booking service is not hammered.
    next_fetch: Instant,
    /// The venue's waiting room: what it said last, when to report next.
    waiting_room: VenueWaitingRoom,
    /// Joins so far (the order of `Subscriber::joined`).
    joins: u64,
    /// The last `VENUE_STATE` frame of each form (full, compact).
    states: [Option<state::CachedState>; 2],
    /// Updates applied but not yet written: (seq, frame), in seq order (`flush_batch`).
    batch: Vec<(u64, WireFrame)>,
    /// When the NATS events that brought the batch's updates arrived.
    batch_received: Vec<Instant>,
    /// Whether the hub is current, or may be behind since the edge lost NATS.
    liveness: Liveness,
    /// The edge's NATS connection the hub last heard of (`NatsLink::Up`; 0 before the first).
    nats_connection: u64,
}

impl VenueHub {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<HubInput>,
        mut inputs: mpsc::Receiver<HubInput>,
        mut nats: watch::Receiver<NatsLink>,
    ) {
        let mut gap_check = tokio::time::interval(Duration::from_millis(50));
        gap_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut seq_check = tokio::time::interval(self.timing.seq_check_interval);
        seq_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut watching_nats = true;
        let mut report_tick = tokio::time::interval(Duration::from_millis(100));
        report_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                // Events first, then everything else (joins, leaves, fetch answers).
                input = events.recv() => match input {
                    Some(input) => self.handle_batch(input, &mut events, &mut inputs),
                    None => break, // every handle is gone
                },
                input = inputs.recv() => match input {
                    Some(input) => self.handle_batch(input, &mut events, &mut inputs),
                    None => break,
                },
                changed = nats.changed(), if watching_nats => match changed {
                    Ok(()) => {
                        let link = *nats.borrow_and_update();
                        self.nats_link(link);
                    }
                    Err(_) => watching_nats = false, // the edge is stopping
                },
                _ = gap_check.tick() => {
                    self.catch_up();
                    self.catch_up_after_outage();
                }
                _ = report_tick.tick() => self.report_waiting_room(),
                _ = seq_check.tick() => {
                    if self.mirror.is_ready() {
                        self.fetch(Fetch::Check { after: self.mirror.seq() });
                    }
                }
            }
        }
        tracing::debug!(venue = %self.venue, "venue hub stopped");
    }

    /// Handles `first` and whatever else is waiting (events before other inputs, at most
    /// `MAX_BATCH` more) before anything is written: when the hub falls behind, several updates
    /// go to each client in one write.
    fn handle_batch(
        &mut self,
        first: HubInput,
        events: &mut mpsc::Receiver<HubInput>,
        inputs: &mut mpsc::Receiver<HubInput>,
    ) {
        self.handle(first);
        for _ in 0..MAX_BATCH {
            match events.try_recv().or_else(|_| inputs.try_recv()) {
                Ok(input) => self.handle(input),
                Err(_) => break,
            }
        }
        self.flush_batch();
    }

    fn handle(&mut self, input: HubInput) {
        if !matches!(input, HubInput::Event(..)) {
            // Anything else may write to clients itself (a join's VENUE_STATE, a rebuild):
            // the updates before it go first.
            self.flush_batch();
        }
        match input {
            HubInput::Event(event, received) => {
                self.metrics.events_received.inc();
                let applied = self.mirror.accept(event, Instant::now());
                if !applied.is_empty() {
                    self.batch_received.push(received);
                }
                for event in applied {
                    self.fan_out(&event);
                }
            }
            HubInput::Join {
                client,
                socket,
                token,
                watcher,
                resume,
                reply,
            } => {
                self.join(client, socket, token, watcher, resume);
                let _ = reply.send(());
                self.waiting_room.newcomer();
                self.report_waiting_room();
            }
            HubInput::Leave(client) => {
                self.clients.remove(&client);
            }
            HubInput::Watcher { client, watcher } => self.rewatch(client, watcher),
            HubInput::WaitingRoom(outcome) => self.waiting_room_answered(outcome),
            HubInput::Fetched {
                generation,
                mark,
                result,
            } => {
                self.fetching = false;
                let ok = !matches!(result, Fetched::Failed);
                self.fetched(generation, mark, result);
                self.catch_up();
                self.settle_liveness(generation, ok);
            }
        }
    }

    /// Fetches whatever the mirror needs now, if anything.
    fn catch_up(&mut self) {
        match self.mirror.need(Instant::now(), self.timing.reorder_window) {
            Need::Nothing => {}
            Need::History { after } => self.fetch(Fetch::History { after }),
            Need::Snapshot => self.fetch(Fetch::Snapshot),
        }
    }

    fn join(
        &mut self,
        client: ClientId,
        socket: Arc<ClientSocket>,
        token: u64,
        watcher: Watcher,
        resume: Option<Resume>,
    ) {
        let joined_at_generation = self.generation;
        let mut has_through = 0;
        // The frames it missed, when this edge can tell exactly what they are.
        let mut missed = None;
        if let Some(resume) = resume {
            let same_epoch = resume.epoch.is_none_or(|e| e == self.mirror.epoch());
            // Not before the venue is loaded, and never across epochs: seqs of another mean
            // nothing here.
            if self.mirror.is_ready() && same_epoch {
                if resume.after_seq > self.mirror.seq() {
                    // It saw more than this edge has yet (it came from an edge further along):
                    // nothing to send until this edge passes its seq. Check how far the venue is.
                    has_through = resume.after_seq;
                    missed = Some(Vec::new());
                    self.fetch(Fetch::Check {
                        after: self.mirror.seq(),
                    });
                } else {
                    missed = self.recent.since(resume.after_seq);
                }
            }
            match missed {
                Some(_) => self.metrics.client_resumes.inc(),
                None => self.metrics.client_resume_misses.inc(),
            };
        }
        // It has a view now (what it had plus what it missed, or the state), unless the venue is
        // not loaded yet.
        let has_view = missed.is_some() || self.mirror.is_ready();
        // What it missed is sent whatever its backlog: it is bounded by the kept updates.
        match missed {
            Some(frames) => {
                for frame in &frames {
                    socket.send_as(token, frame, 1, None);
                }
            }
            None if self.mirror.is_ready() => {
                let (state, mine) = self.state_frames(&watcher);
                socket.send_as(token, &state, 1, None);
                if let Some(mine) = mine {
                    socket.send_as(token, &mine, 1, None);
                }
            }
            None => {} // the first snapshot brings its VENUE_STATE (and STATUS)
        }
        if has_view {
            if let Some(status) = self.status_after_state() {
                socket.send_as(token, &status, 1, None);
            }
        }
        self.joins += 1;
        self.clients.insert(
            client,
            Subscriber {
                socket,
                token,
                watcher,
                joined: self.joins,
                standing: ClientStanding::default(),
                has_through,
                joined_at_generation,
            },
        );
    }
}
