//! `VenueMirror`: an edge's in-memory copy of one venue, built from NATS events applied strictly
//! in seq order. Out-of-order events wait briefly for the ones before them; when a gap does not
//! fill, or the booking service is known to be ahead, the mirror asks for a snapshot and replays
//! the buffered events past it. Pure logic, no I/O: the venue hub drives it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shared::api::VenueSnapshot;
use shared::ws::VenueState;
use shared::{Seat, SeatEvent, SeatId};

/// How many early events are kept while waiting for a gap to fill; past this, resync at once.
const MAX_PENDING: usize = 10_000;

pub struct VenueMirror {
    venue: String,
    rows: u16,
    cols: u16,
    seq: u64,
    epoch: u64,
    seats: Vec<Seat>,
    /// False until the first snapshot arrives: until then the size of the venue is unknown.
    ready: bool,
    /// Events that arrived ahead of their turn, by seq.
    pending: BTreeMap<u64, SeatEvent>,
    /// The highest seq the booking service is known to have reached.
    remote_seq: u64,
    /// Since when this mirror has known it is missing something.
    behind_since: Option<Instant>,
}

impl VenueMirror {
    pub fn new(venue: &str) -> Self {
        VenueMirror {
            venue: venue.to_owned(),
            rows: 0,
            cols: 0,
            seq: 0,
            epoch: 0,
            seats: Vec::new(),
            ready: false,
            pending: BTreeMap::new(),
            remote_seq: 0,
            behind_since: None,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Takes one event from NATS and returns the events that can now be applied, in seq order
    /// (none if it is a duplicate or is waiting for earlier ones).
    pub fn accept(&mut self, event: SeatEvent, now: Instant) -> Vec<SeatEvent> {
        if self.ready && event.seq <= self.seq {
            return Vec::new(); // already applied
        }
        self.remote_seq = self.remote_seq.max(event.seq);
        self.pending.insert(event.seq, event);
        let applied = self.drain_pending();
        self.update_behind(now);
        applied
    }

    /// Records the booking service's seq as seen by a periodic check.
    pub fn note_remote_seq(&mut self, remote_seq: u64, now: Instant) {
        self.remote_seq = self.remote_seq.max(remote_seq);
        self.update_behind(now);
    }

    /// Whether a snapshot should be fetched now: never had one, the pending buffer overflowed,
    /// or something has been missing for longer than `window`.
    pub fn needs_snapshot(&self, now: Instant, window: Duration) -> bool {
        !self.ready
            || self.pending.len() > MAX_PENDING
            || self
                .behind_since
                .is_some_and(|since| now.duration_since(since) >= window)
    }

    /// Rebuilds the mirror from a snapshot if it is newer than what the mirror has. Returns the
    /// buffered events replayed past it, or `None` when the snapshot changed nothing (stale).
    pub fn reset_to(&mut self, snapshot: VenueSnapshot, now: Instant) -> Option<Vec<SeatEvent>> {
        self.remote_seq = self.remote_seq.max(snapshot.seq);
        if self.ready && snapshot.seq <= self.seq {
            self.update_behind(now);
            return None;
        }
        self.rows = snapshot.rows;
        self.cols = snapshot.cols;
        self.seq = snapshot.seq;
        self.epoch = snapshot.epoch;
        self.seats = snapshot.seats;
        self.ready = true;
        self.pending = self.pending.split_off(&(snapshot.seq + 1));
        let replayed = self.drain_pending();
        self.update_behind(now);
        Some(replayed)
    }

    /// The full state, as sent to a client that joins or must resynchronise.
    pub fn state(&self, server_time_ms: u64) -> VenueState {
        VenueState {
            venue: self.venue.clone(),
            seq: self.seq,
            epoch: self.epoch,
            rows: self.rows,
            cols: self.cols,
            seats: self.seats.clone(),
            server_time_ms,
        }
    }

    fn drain_pending(&mut self) -> Vec<SeatEvent> {
        let mut applied = Vec::new();
        if !self.ready {
            return applied;
        }
        while let Some(event) = self.pending.remove(&(self.seq + 1)) {
            self.apply(&event);
            applied.push(event);
        }
        applied
    }

    fn apply(&mut self, event: &SeatEvent) {
        self.seq = event.seq;
        match SeatId::parse(&event.seat_id, self.rows, self.cols) {
            Ok(id) => {
                let index = usize::from(id.row) * usize::from(self.cols) + usize::from(id.col);
                self.seats[index] = event.seat(id);
            }
            Err(_) => {
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
mod tests {
    use super::*;
    use shared::{EventKind, SeatStatus};

    fn event(seq: u64, seat: &str) -> SeatEvent {
        SeatEvent {
            kind: EventKind::Held,
            venue: "main".into(),
            seq,
            seat_id: seat.into(),
            status: SeatStatus::Held,
            user_id: Some(format!("u-{seq:012}")),
            expires_at: Some(100),
            reason: None,
            ts_ms: 0,
            epoch: 1,
        }
    }

    fn snapshot(seq: u64) -> VenueSnapshot {
        VenueSnapshot {
            venue: "main".into(),
            rows: 2,
            cols: 2,
            hold_seconds: 30,
            seq,
            epoch: 1,
            seats: SeatId::all(2, 2).map(Seat::available).collect(),
        }
    }

    fn seqs(events: &[SeatEvent]) -> Vec<u64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn applies_in_order_and_drops_duplicates() {
        let now = Instant::now();
        let mut mirror = VenueMirror::new("main");
        assert!(mirror.needs_snapshot(now, Duration::ZERO));
        assert_eq!(mirror.reset_to(snapshot(0), now), Some(vec![]));
        assert_eq!(seqs(&mirror.accept(event(1, "A1"), now)), vec![1]);
        assert!(mirror.accept(event(1, "A1"), now).is_empty());
        let state = mirror.state(0);
        assert_eq!(state.seq, 1);
        assert_eq!(state.seats[0].status, SeatStatus::Held);
        assert!(!mirror.needs_snapshot(now, Duration::ZERO));
    }

    #[test]
    fn reorders_events_that_arrive_early() {
        let now = Instant::now();
        let mut mirror = VenueMirror::new("main");
        mirror.reset_to(snapshot(0), now);
        assert!(mirror.accept(event(3, "B1"), now).is_empty());
        assert!(mirror.accept(event(2, "A2"), now).is_empty());
        assert!(mirror.needs_snapshot(now + Duration::from_secs(1), Duration::from_millis(250)));
        assert!(
            !mirror.needs_snapshot(now, Duration::from_millis(250)),
            "waits briefly first"
        );
        assert_eq!(seqs(&mirror.accept(event(1, "A1"), now)), vec![1, 2, 3]);
        assert!(!mirror.needs_snapshot(now + Duration::from_secs(1), Duration::from_millis(250)));
    }

    #[test]
    fn a_snapshot_fills_a_gap_and_buffered_events_replay_past_it() {
        let now = Instant::now();
        let mut mirror = VenueMirror::new("main");
        // Events before the first snapshot wait for it.
        assert!(mirror.accept(event(5, "A1"), now).is_empty());
        assert!(mirror.accept(event(7, "B2"), now).is_empty());
        let replayed = mirror.reset_to(snapshot(5), now).unwrap();
        assert!(
            replayed.is_empty(),
            "5 is in the snapshot, 7 still waits for 6"
        );
        assert_eq!(mirror.seq(), 5);
        let replayed = mirror.reset_to(snapshot(6), now).unwrap();
        assert_eq!(seqs(&replayed), vec![7]);
        assert_eq!(mirror.seq(), 7);
        assert_eq!(
            mirror.reset_to(snapshot(6), now),
            None,
            "stale snapshots change nothing"
        );
    }

    #[test]
    fn knowing_the_booking_service_is_ahead_asks_for_a_snapshot() {
        let now = Instant::now();
        let mut mirror = VenueMirror::new("main");
        mirror.reset_to(snapshot(3), now);
        mirror.note_remote_seq(4, now);
        let later = now + Duration::from_secs(1);
        assert!(mirror.needs_snapshot(later, Duration::from_millis(250)));
        mirror.accept(event(4, "A1"), later);
        assert!(!mirror.needs_snapshot(later + Duration::from_secs(1), Duration::from_millis(250)));
    }
}
