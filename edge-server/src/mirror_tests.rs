//! Unit tests of `VenueMirror`: ordering, gaps, history pages, snapshots and epochs.

use super::*;
use shared::{EventKind, SeatStatus};

const WINDOW: Duration = Duration::from_millis(250);

fn event_in(epoch: u64, seq: u64, seat: &str) -> SeatEvent {
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
        epoch,
    }
}

fn event(seq: u64, seat: &str) -> SeatEvent {
    event_in(1, seq, seat)
}

fn snapshot_in(epoch: u64, seq: u64) -> VenueSnapshot {
    VenueSnapshot {
        venue: "main".into(),
        layout: shared::Layout::Grid,
        rows: 2,
        cols: 2,
        hold_seconds: 30,
        max_holds_per_user: 4,
        seq,
        epoch,
        seats: shared::SeatId::all(2, 2).map(Seat::available).collect(),
    }
}

fn snapshot(seq: u64) -> VenueSnapshot {
    snapshot_in(1, seq)
}

fn page(after: u64, to: u64, events: Vec<SeatEvent>) -> EventsPage {
    EventsPage {
        venue: "main".into(),
        epoch: 1,
        from: after + 1,
        to,
        events,
    }
}

fn seqs(events: &[SeatEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

fn ready_at(seq: u64, now: Instant) -> VenueMirror {
    let mut mirror = VenueMirror::new("main");
    assert_eq!(mirror.need(now, WINDOW), Need::Snapshot);
    mirror
        .reset_to(snapshot(seq), Mark::default(), now)
        .unwrap();
    mirror
}

#[test]
fn applies_in_order_and_drops_repeats() {
    let now = Instant::now();
    let mut mirror = ready_at(0, now);
    assert_eq!(seqs(&mirror.accept(event(1, "A1"), now)), vec![1]);
    assert!(mirror.accept(event(1, "A1"), now).is_empty(), "a repeat");
    let state = mirror.state(0);
    assert_eq!((state.seq, state.epoch), (1, 1));
    assert_eq!(state.full_seats().unwrap()[0].status, SeatStatus::Held);
    assert_eq!(mirror.need(now + WINDOW, WINDOW), Need::Nothing);
}

#[test]
fn reorders_events_that_arrive_early() {
    let now = Instant::now();
    let mut mirror = ready_at(0, now);
    assert!(mirror.accept(event(3, "B1"), now).is_empty());
    assert!(mirror.accept(event(2, "A2"), now).is_empty());
    assert_eq!(
        mirror.need(now, WINDOW),
        Need::Nothing,
        "waits briefly first"
    );
    assert_eq!(
        mirror.need(now + WINDOW, WINDOW),
        Need::History { after: 0 }
    );
    assert_eq!(seqs(&mirror.accept(event(1, "A1"), now)), vec![1, 2, 3]);
    assert_eq!(mirror.need(now + WINDOW, WINDOW), Need::Nothing);
}

#[test]
fn a_gap_is_filled_from_the_history() {
    let now = Instant::now();
    let mut mirror = ready_at(4, now);
    mirror.accept(event(7, "B2"), now);
    assert_eq!(
        mirror.need(now + WINDOW, WINDOW),
        Need::History { after: 4 }
    );
    let applied = mirror.apply_history(
        page(
            4,
            8,
            vec![
                event(5, "A1"),
                event(6, "A2"),
                event(7, "B2"),
                event(8, "B1"),
            ],
        ),
        Mark {
            applied: 4,
            seen: 7,
        },
        now,
    );
    assert_eq!(seqs(&applied), vec![5, 6, 7, 8]);
    assert_eq!(mirror.need(now + WINDOW, WINDOW), Need::Nothing);
    // A page that arrives after NATS delivered some of it applies only what is new.
    let applied = mirror.apply_history(
        page(6, 9, vec![event(7, "B2"), event(8, "B1"), event(9, "A1")]),
        Mark {
            applied: 6,
            seen: 8,
        },
        now,
    );
    assert_eq!(seqs(&applied), vec![9]);
}

#[test]
fn a_seq_check_that_finds_the_service_ahead_asks_the_history() {
    let now = Instant::now();
    let mut mirror = ready_at(3, now);
    mirror.note_remote(1, 4, Mark::default(), now);
    assert_eq!(mirror.need(now, WINDOW), Need::Nothing);
    let later = now + WINDOW;
    assert_eq!(mirror.need(later, WINDOW), Need::History { after: 3 });
    mirror.accept(event(4, "A1"), later);
    assert_eq!(mirror.need(later + WINDOW, WINDOW), Need::Nothing);
}

#[test]
fn an_event_the_venue_never_reached_is_dropped_without_a_snapshot() {
    let now = Instant::now();
    let mut mirror = ready_at(3, now);
    // A stray publisher claims seq 50; the venue is at 4.
    mirror.accept(event(50, "B2"), now);
    let seen = mirror.mark();
    assert_eq!(seen.seen, 50);
    assert_eq!(
        mirror.need(now + WINDOW, WINDOW),
        Need::History { after: 3 }
    );
    let applied = mirror.apply_history(page(3, 4, vec![event(4, "A1")]), seen, now);
    assert_eq!(seqs(&applied), vec![4]);
    assert_eq!(mirror.need(now + WINDOW * 4, WINDOW), Need::Nothing);
    // The real 50, when the venue gets there, is applied in its turn.
    for seq in 5..=50 {
        assert_eq!(seqs(&mirror.accept(event(seq, "A2"), now)), vec![seq]);
    }
    assert_eq!(
        mirror.state(0).full_seats().unwrap()[1].status,
        SeatStatus::Held,
        "A2, not B2"
    );
    assert_eq!(
        mirror.state(0).full_seats().unwrap()[3].status,
        SeatStatus::Available
    );
    // The same from a seq check or a stale snapshot.
    mirror.accept(event(70, "B2"), now);
    mirror.note_remote(1, 50, mirror.mark(), now);
    assert_eq!(mirror.need(now + WINDOW * 4, WINDOW), Need::Nothing);
    mirror.accept(event(80, "B2"), now);
    assert_eq!(mirror.reset_to(snapshot(50), mirror.mark(), now), None);
    assert_eq!(mirror.need(now + WINDOW * 4, WINDOW), Need::Nothing);
}

#[test]
fn a_venue_that_lost_its_latest_changes_in_the_same_epoch_is_followed_back() {
    let now = Instant::now();
    let mut mirror = ready_at(10, now);
    // Read before events the mirror applied since: stale, ignored.
    let before = mirror.mark();
    mirror.accept(event(11, "A1"), now);
    assert_eq!(mirror.reset_to(snapshot(10), before, now), None);
    assert_eq!(mirror.seq(), 11);
    // Asked for when the mirror had 11 applied, and the venue is at 9: it went back.
    let rebuilt = mirror.reset_to(snapshot(9), mirror.mark(), now).unwrap();
    assert!(rebuilt.rolled_back && !rebuilt.new_epoch);
    assert_eq!(mirror.seq(), 9);
    assert_eq!(
        mirror.state(0).full_seats().unwrap()[0].status,
        SeatStatus::Available
    );
    assert_eq!(seqs(&mirror.accept(event(10, "B1"), now)), vec![10]);
}

#[test]
fn a_history_that_cannot_fill_the_gap_asks_for_a_snapshot() {
    let now = Instant::now();
    let mut mirror = ready_at(3, now);
    mirror.note_remote(1, 5, Mark::default(), now);
    assert!(mirror
        .apply_history(page(3, 5, vec![]), Mark::default(), now)
        .is_empty());
    assert_eq!(mirror.need(now, WINDOW), Need::Snapshot);
    let mut mirror = ready_at(3, now);
    mirror.history_gone();
    assert_eq!(mirror.need(now, WINDOW), Need::Snapshot);
}

#[test]
fn a_snapshot_folds_buffered_events_into_its_state() {
    let now = Instant::now();
    let mut mirror = VenueMirror::new("main");
    // Events before the first snapshot wait for it.
    assert!(mirror.accept(event(5, "A1"), now).is_empty());
    assert!(mirror.accept(event(7, "B2"), now).is_empty());
    let rebuilt = mirror.reset_to(snapshot(5), Mark::default(), now).unwrap();
    assert!(
        rebuilt.folded.is_empty(),
        "5 is in the snapshot, 7 waits for 6"
    );
    assert!(!rebuilt.new_epoch);
    assert_eq!(mirror.seq(), 5);
    assert_eq!(
        mirror.need(now + WINDOW, WINDOW),
        Need::History { after: 5 }
    );
    let rebuilt = mirror.reset_to(snapshot(6), Mark::default(), now).unwrap();
    assert_eq!(seqs(&rebuilt.folded), vec![7]);
    assert_eq!(mirror.seq(), 7);
    assert_eq!(
        mirror.state(0).full_seats().unwrap()[3].status,
        SeatStatus::Held,
        "B2 is in the state"
    );
    assert_eq!(
        mirror.reset_to(snapshot(6), Mark::default(), now),
        None,
        "stale snapshots change nothing"
    );
}

#[test]
fn another_epoch_rebuilds_from_a_snapshot_even_at_a_lower_seq() {
    let now = Instant::now();
    let mut mirror = ready_at(40, now);
    mirror.accept(event(41, "A1"), now);
    // Redis lost the venue: seq restarted in epoch 2.
    assert!(mirror.accept(event_in(2, 1, "B1"), now).is_empty());
    assert!(mirror.accept(event_in(2, 3, "B2"), now).is_empty());
    assert_eq!(mirror.need(now, WINDOW), Need::Snapshot, "at once");
    let rebuilt = mirror
        .reset_to(snapshot_in(2, 2), Mark::default(), now)
        .unwrap();
    assert!(rebuilt.new_epoch);
    assert_eq!(
        seqs(&rebuilt.folded),
        vec![3],
        "the new epoch's early event is kept"
    );
    assert_eq!((mirror.seq(), mirror.epoch()), (3, 2));
    // Late events of the old epoch never apply.
    assert!(mirror.accept(event_in(1, 42, "A2"), now).is_empty());
    assert_eq!(mirror.need(now, WINDOW), Need::Snapshot);
    assert_eq!(
        mirror.reset_to(snapshot_in(2, 3), Mark::default(), now),
        None
    );
    assert_eq!(mirror.need(now + WINDOW, WINDOW), Need::Nothing);
    // A seq check or a history page from another epoch asks for a snapshot too.
    mirror.note_remote(3, 0, Mark::default(), now);
    assert_eq!(mirror.need(now, WINDOW), Need::Snapshot);
    mirror.reset_to(snapshot_in(2, 3), Mark::default(), now);
    let mut other = page(3, 0, vec![]);
    other.epoch = 3;
    mirror.apply_history(other, Mark::default(), now);
    assert_eq!(mirror.need(now, WINDOW), Need::Snapshot);
}

#[test]
fn the_early_event_buffer_is_bounded() {
    let now = Instant::now();
    let mut mirror = ready_at(0, now);
    for seq in 2..(MAX_PENDING as u64 + 10) {
        mirror.accept(event(seq, "A1"), now);
    }
    assert!(mirror.pending.len() <= MAX_PENDING);
    assert_eq!(mirror.seq(), 0);
    assert_eq!(
        mirror.need(now + WINDOW, WINDOW),
        Need::History { after: 0 }
    );
}

/// A change the property test applies: (seat index, kind, user index).
fn arbitrary_change() -> impl proptest::strategy::Strategy<Value = (usize, EventKind, usize)> {
    use proptest::prelude::*;
    (
        0..4usize,
        prop_oneof![
            Just(EventKind::Held),
            Just(EventKind::Booked),
            Just(EventKind::Released)
        ],
        0..3usize,
    )
}

proptest::proptest! {
    /// After any changes, a compact state with each identity's `MINE` shows each identity the
    /// same seats as the full state of the same seq, and a rebuild from that full state keeps
    /// every `MINE` as it was.
    #[test]
    fn compact_state_and_mine_show_what_the_full_state_shows(
        changes in proptest::collection::vec(arbitrary_change(), 0..40)
    ) {
        let now = Instant::now();
        let mut mirror = ready_at(0, now);
        let users = ["u-000000000001", "u-000000000002", "u-000000000003"];
        let ids: Vec<String> = shared::SeatId::all(2, 2).map(|id| id.to_string()).collect();
        for (seq, (seat, kind, user)) in changes.into_iter().enumerate() {
            let event = SeatEvent {
                kind,
                status: kind.status(),
                user_id: (kind != EventKind::Released).then(|| users[user].to_owned()),
                expires_at: (kind == EventKind::Held).then_some(1_000 + seq as u64),
                ..event(seq as u64 + 1, &ids[seat])
            };
            mirror.accept(event, now);
        }
        let full = mirror.state(0);
        let StateSeats::Compact(compact) = mirror.compact_state(0).seats else {
            panic!("compact_state gave a full state");
        };
        let mut rebuilt = VenueMirror::new("main");
        rebuilt.reset_to(
            VenueSnapshot { seq: full.seq, seats: full.full_seats().unwrap().to_vec(), ..snapshot(0) },
            Mark::default(),
            now,
        );
        for user in users {
            let mine = mirror.mine(user);
            proptest::prop_assert_eq!(mine.seq, full.seq);
            proptest::prop_assert_eq!(
                shared::state::seen_in_compact(&compact, &mine, &ids).unwrap(),
                shared::state::seen_in_full(full.full_seats().unwrap(), user)
            );
            proptest::prop_assert_eq!(rebuilt.mine(user), mine);
        }
    }
}
