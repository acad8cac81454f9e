//! `VenueMirror`: an edge's in-memory copy of one venue, built from NATS events applied strictly
//! in seq order within one epoch. Out-of-order events wait briefly for the ones before them; a
//! gap that does not fill is asked of the booking service's event history, and a full snapshot
//! is asked for only when the history cannot help (never loaded, history gone, another epoch).
//! Pure logic, no I/O: the venue hub drives it and does the fetching.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use shared::api::{EventsPage, VenueSnapshot};
use shared::ws::{CompactSeats, Mine, StateSeats, VenueState};
use shared::{Layout, Seat, SeatEvent};

/// How many early events are kept while waiting for a gap to fill; past this the buffer is
/// dropped and the history (or a snapshot) brings the mirror up to date instead.
pub const MAX_PENDING: usize = 4096;
/// Events of another epoch kept until the snapshot of that epoch arrives.
const MAX_FOREIGN: usize = 1024;

/// What the mirror needs from the booking service, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Nothing,
    /// `GET /api/venues/{venue}/events?after=…`: the events after the mirror's seq.
    History {
        after: u64,
    },
    /// `GET /api/venues/{venue}`: the whole venue.
    Snapshot,
}

/// Where the mirror was when a fetch started. Everything it had seen by then was committed
/// before the answer was read, so the answer can be checked against it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    /// The mirror's seq.
    pub applied: u64,
    /// The highest seq seen, applied or waiting.
    pub seen: u64,
}

/// A rebuild from a snapshot: what the hub tells its clients about.
#[derive(Debug, PartialEq, Eq)]
pub struct Rebuilt {
    /// Buffered events past the snapshot, already folded into the mirror's state (clients get
    /// them inside the new `VENUE_STATE`, never again as updates).
    pub folded: Vec<SeatEvent>,
    /// The snapshot belongs to another epoch than the mirror had (Redis lost the venue's data).
    pub new_epoch: bool,
    /// Same epoch, but the venue is behind what the mirror had already applied when the
    /// snapshot was asked for: Redis lost its latest changes without starting a new epoch.
    pub rolled_back: bool,
}

pub struct VenueMirror {
    venue: String,
    layout: Layout,
    rows: u16,
    cols: u16,
    seq: u64,
    epoch: u64,
    seats: Vec<Seat>,
    /// Where each seat id is in `seats` (grids and charts alike: the snapshot says which seats
    /// the venue sells, in order).
    positions: HashMap<String, usize>,
    /// The seats each user id holds or has booked (positions in `seats`): a `MINE` costs the
    /// seats of one identity, not a pass over the venue.
    holders: HashMap<String, BTreeSet<usize>>,
    /// False until the first snapshot arrives: until then the size of the venue is unknown.
    ready: bool,
    /// Events of the mirror's epoch that arrived ahead of their turn, by seq.
    pending: BTreeMap<u64, SeatEvent>,
    /// Events of another epoch (or from before the first snapshot), kept for the next snapshot.
    foreign: Vec<SeatEvent>,
    /// The highest seq of the mirror's epoch the booking service is known to have reached.
    remote_seq: u64,
    /// Since when this mirror has known it is missing something.
    behind_since: Option<Instant>,
    /// Something of another epoch was seen, or the history cannot fill the gap: only a
    /// snapshot can tell the truth now.
    snapshot_needed: bool,
}

impl VenueMirror {
    pub fn new(venue: &str) -> Self {
        VenueMirror {
            venue: venue.to_owned(),
            layout: Layout::Grid,
            rows: 0,
            cols: 0,
            seq: 0,
            epoch: 0,
            seats: Vec::new(),
            positions: HashMap::new(),
            holders: HashMap::new(),
            ready: false,
            pending: BTreeMap::new(),
            foreign: Vec::new(),
            remote_seq: 0,
            behind_since: None,
            snapshot_needed: false,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Loaded, and as far as the venue is known to be: nothing waits for earlier events and
    /// nothing needs fetching.
    pub fn is_current(&self) -> bool {
        self.ready && !self.snapshot_needed && self.behind_since.is_none()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Takes one event from NATS and returns the events that can now be applied, in seq order
    /// (none if it is a repeat, belongs to another epoch, or waits for earlier ones).
    pub fn accept(&mut self, event: SeatEvent, now: Instant) -> Vec<SeatEvent> {
        if !self.ready || event.epoch != self.epoch {
            // Before the first snapshot the epoch is unknown; after it, another epoch means the
            // venue's data was lost and seqs restarted: only a snapshot can say where things are.
            if self.ready {
                self.snapshot_needed = true;
            }
            if self.foreign.len() >= MAX_FOREIGN {
                self.foreign.clear();
            }
            self.foreign.push(event);
            return Vec::new();
        }
        if event.seq <= self.seq {
            return Vec::new(); // already applied (a repeat from the outbox relay, or late)
        }
        self.remote_seq = self.remote_seq.max(event.seq);
        if self.pending.len() >= MAX_PENDING {
            // Far behind: stop buffering; the history fills the gap from the mirror's seq.
            self.pending.clear();
        }
        self.pending.insert(event.seq, event);
        let applied = self.drain_pending();
        self.update_behind(now);
        applied
    }

    /// Where the mirror is now; the hub notes it when it starts a fetch.
    pub fn mark(&self) -> Mark {
        let waiting = self.pending.keys().next_back().copied().unwrap_or(0);
        Mark {
            applied: self.seq,
            seen: waiting.max(self.seq),
        }
    }

    /// Records how far the booking service is, from a cheap seq check started at `mark`.
    pub fn note_remote(&mut self, epoch: u64, seq: u64, mark: Mark, now: Instant) {
        if !self.ready {
            return;
        }
        if epoch != self.epoch {
            self.snapshot_needed = true;
            return;
        }
        self.confirm_remote(seq, mark.seen);
        self.update_behind(now);
    }

    /// Applies a page of the booking service's event history, asked for at `mark`, and returns
    /// the events applied, in order.
    pub fn apply_history(&mut self, page: EventsPage, mark: Mark, now: Instant) -> Vec<SeatEvent> {
        if !self.ready {
            return Vec::new();
        }
        if page.epoch != self.epoch {
            self.snapshot_needed = true;
            return Vec::new();
        }
        let before = self.seq;
        let mut applied = Vec::new();
        for event in page.events {
            if event.epoch != self.epoch {
                self.snapshot_needed = true;
                break;
            }
            if event.seq > self.seq {
                // The history's copy wins over an early one from NATS with the same seq.
                self.pending.insert(event.seq, event);
            }
            applied.extend(self.drain_pending());
        }
        self.confirm_remote(page.to, mark.seen);
        if self.seq == before && self.remote_seq > self.seq {
            // No progress although the venue is ahead: try again after a window, and if the
            // history answered for exactly our seq, it cannot help: only a snapshot can.
            self.behind_since = Some(now);
            if page.from == before + 1 {
                self.snapshot_needed = true;
            }
        }
        self.update_behind(now);
        applied
    }

    /// The venue had reached `venue_seq` when an answer asked for after the mirror had seen
    /// `seen_before` was read. Early events in between were never committed (a stray or
    /// confused publisher): they are dropped, and the venue is believed about how far it is.
    fn confirm_remote(&mut self, venue_seq: u64, seen_before: u64) {
        if venue_seq < seen_before {
            let unconfirmed: Vec<u64> = self
                .pending
                .range(venue_seq + 1..=seen_before)
                .map(|(seq, _)| *seq)
                .collect();
            if !unconfirmed.is_empty() {
                tracing::warn!(venue = %self.venue, venue_seq, dropped = ?unconfirmed, "dropping events the venue never reached");
            }
            for seq in unconfirmed {
                self.pending.remove(&seq);
            }
        }
        let waiting = self.pending.keys().next_back().copied().unwrap_or(0);
        self.remote_seq = venue_seq.max(waiting);
    }

    /// The history no longer reaches back to the mirror's seq (or the mirror is from another
    /// epoch): only a snapshot can bring it up to date.
    pub fn history_gone(&mut self) {
        self.snapshot_needed = true;
    }

    /// What to ask the booking service for now. A gap is given `window` to fill by itself.
    pub fn need(&self, now: Instant, window: Duration) -> Need {
        if !self.ready || self.snapshot_needed {
            Need::Snapshot
        } else if self
            .behind_since
            .is_some_and(|since| now.duration_since(since) >= window)
        {
            Need::History { after: self.seq }
        } else {
            Need::Nothing
        }
    }

    /// Rebuilds the mirror from a snapshot (asked for at `mark`) that is newer than what it
    /// has, of another epoch, or behind what the mirror had applied when it was asked for (the
    /// venue lost changes). Returns `None` when the snapshot changed nothing (same epoch, not
    /// newer: it was read before events the mirror applied since).
    pub fn reset_to(
        &mut self,
        snapshot: VenueSnapshot,
        mark: Mark,
        now: Instant,
    ) -> Option<Rebuilt> {
        let new_epoch = self.ready && snapshot.epoch != self.epoch;
        let rolled_back = self.ready && !new_epoch && snapshot.seq < mark.applied;
        let fresh = !self.ready || new_epoch || rolled_back;
        self.snapshot_needed = false;
        if !fresh && snapshot.seq <= self.seq {
            self.confirm_remote(snapshot.seq, mark.seen);
            self.foreign.clear();
            if self.remote_seq > self.seq {
                self.behind_since = Some(now); // a new window before asking again
            }
            self.update_behind(now);
            return None;
        }
        let foreign = std::mem::take(&mut self.foreign);
        if fresh {
            self.pending.clear();
            self.remote_seq = 0;
        } else {
            self.confirm_remote(snapshot.seq, mark.seen);
        }
        self.layout = snapshot.layout;
        self.rows = snapshot.rows;
        self.cols = snapshot.cols;
        if self.positions.len() != snapshot.seats.len()
            || snapshot
                .seats
                .iter()
                .enumerate()
                .any(|(i, seat)| self.positions.get(&seat.id) != Some(&i))
        {
            self.positions = snapshot
                .seats
                .iter()
                .enumerate()
                .map(|(i, seat)| (seat.id.clone(), i))
                .collect();
        }
        self.seq = snapshot.seq;
        self.epoch = snapshot.epoch;
        self.seats = snapshot.seats;
        self.holders.clear();
        for (index, seat) in self.seats.iter().enumerate() {
            if let Some(holder) = &seat.held_by {
                self.holders
                    .entry(holder.clone())
                    .or_default()
                    .insert(index);
            }
        }
        self.ready = true;
        self.remote_seq = self.remote_seq.max(snapshot.seq);
        self.pending = self.pending.split_off(&(snapshot.seq + 1));
        for event in foreign {
            if event.epoch == self.epoch && event.seq > self.seq {
                self.remote_seq = self.remote_seq.max(event.seq);
                self.pending.insert(event.seq, event);
            }
        }
        let folded = self.drain_pending();
        self.update_behind(now);
        Some(Rebuilt {
            folded,
            new_epoch,
            rolled_back,
        })
    }

    /// The full state, as sent to a client that joins or must resynchronise.
    pub fn state(&self, server_time_ms: u64) -> VenueState {
        self.state_with(
            StateSeats::Full {
                seats: self.seats.clone(),
            },
            server_time_ms,
        )
    }

    /// The compact state (`CONNECT {"state":"compact"}`): the same seats, without holders.
    pub fn compact_state(&self, server_time_ms: u64) -> VenueState {
        self.state_with(
            StateSeats::Compact(CompactSeats::encode(&self.seats)),
            server_time_ms,
        )
    }

    fn state_with(&self, seats: StateSeats, server_time_ms: u64) -> VenueState {
        VenueState {
            venue: self.venue.clone(),
            seq: self.seq,
            epoch: self.epoch,
            layout: self.layout,
            rows: self.rows,
            cols: self.cols,
            seats,
            server_time_ms,
        }
    }

    /// The seats `user_id` holds or has booked, as of the mirror's seq.
    pub fn mine(&self, user_id: &str) -> Mine {
        let seats = self
            .holders
            .get(user_id)
            .into_iter()
            .flatten()
            .map(|&index| &self.seats[index]);
        Mine::of(&self.venue, self.seq, user_id, seats)
    }

    fn drain_pending(&mut self) -> Vec<SeatEvent> {
        let mut applied = Vec::new();
        while let Some(event) = self.pending.remove(&(self.seq + 1)) {
            self.apply(&event);
            applied.push(event);
        }
        applied
    }

    fn apply(&mut self, event: &SeatEvent) {
        self.seq = event.seq;
        match self.positions.get(&event.seat_id) {
            Some(&index) => {
                let seat = &mut self.seats[index];
                let before = seat.held_by.take();
                event.apply_to(seat);
                if seat.held_by != before {
                    if let Some(old) = before {
                        if let Some(held) = self.holders.get_mut(&old) {
                            held.remove(&index);
                            if held.is_empty() {
                                self.holders.remove(&old);
                            }
                        }
                    }
                    if let Some(new) = &seat.held_by {
                        self.holders.entry(new.clone()).or_default().insert(index);
                    }
                }
            }
            None => {
                tracing::warn!(venue = %self.venue, seat = %event.seat_id, "event for a seat outside the venue")
            }
        }
    }

    fn update_behind(&mut self, now: Instant) {
        let behind = !self.pending.is_empty() || self.remote_seq > self.seq;
        self.behind_since = match (behind, self.behind_since) {
            (false, _) => None,
            (true, Some(since)) => Some(since),
            (true, None) => Some(now),
        };
    }
}

#[cfg(test)]
#[path = "mirror_tests.rs"]
mod tests;
