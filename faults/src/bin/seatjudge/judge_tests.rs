//! Hand-made histories: one a correct seat map could produce, and one per broken promise.

use super::*;
use crate::history::{Arrival, Command, History, Outcome, SeatState, Snapshot, Verb};
use shared::{EventKind, ReleaseReason, SeatEvent, SeatStatus};

const HOLD_MS: u64 = 30_000;
/// 2026-11-20 in unix ms: every time below is an offset from it.
const T0: u64 = 1_763_600_000_000;

fn command(user: &str, verb: Verb, seat: &str, sent: u64, ended: u64, outcome: Outcome) -> Command {
    Command {
        user_id: user.into(),
        verb,
        seat: seat.into(),
        service: "http://b1".into(),
        sent_ms: T0 + sent,
        ended_ms: T0 + ended,
        outcome,
    }
}

fn ok(user: &str, verb: Verb, seat: &str, sent: u64) -> Command {
    command(user, verb, seat, sent, sent + 5, Outcome::Ok)
}

/// The event one step makes, as the booking service publishes it.
fn event(seq: u64, kind: EventKind, seat: &str, user: &str, at: u64) -> Arrival {
    let ts_ms = T0 + at;
    let event = SeatEvent {
        kind,
        venue: "main".into(),
        seq,
        seat_id: seat.into(),
        status: kind.status(),
        user_id: Some(user.into()),
        expires_at: (kind == EventKind::Held).then(|| (ts_ms + HOLD_MS).div_ceil(1000)),
        reason: (kind == EventKind::Released).then_some(ReleaseReason::Released),
        ts_ms,
        epoch: 1,
    };
    Arrival {
        payload: serde_json::to_string(&event).unwrap(),
        event,
        arrived_ms: ts_ms + 1,
    }
}

fn state(status: SeatStatus, user: &str) -> SeatState {
    SeatState {
        status: u8::from(status),
        holder: Some(user.into()),
        expires_at: None,
    }
}

fn snapshot(seq: u64, seats: &[(&str, SeatState)]) -> Snapshot {
    Snapshot {
        seq,
        seats: seats
            .iter()
            .map(|(id, s)| (id.to_string(), s.clone()))
            .collect(),
        order: seats.iter().map(|(id, _)| id.to_string()).collect(),
    }
}

/// a books A1; b is refused it; b holds A2 and releases it, then c holds A2 and books it; a's
/// book of B1 gets no answer but went through; b's select of B2 was answered UNAVAILABLE and
/// did not; seq 2 of A1 reaches NATS twice, with the same payload.
fn correct() -> History {
    let booked = EventKind::Booked;
    let arrivals = vec![
        event(1, EventKind::Held, "A1", "a", 5),
        event(2, booked, "A1", "a", 105),
        event(2, booked, "A1", "a", 105),
        event(3, EventKind::Held, "A2", "b", 205),
        event(4, EventKind::Released, "A2", "b", 305),
        event(5, EventKind::Held, "A2", "c", 405),
        event(6, booked, "A2", "c", 505),
        event(7, EventKind::Held, "B1", "a", 605),
        event(8, booked, "B1", "a", 705),
    ];
    let refused = Outcome::Refused("SEAT_BOOKED".into());
    History {
        venue: "main".into(),
        hold_seconds: HOLD_MS / 1000,
        initial: snapshot(0, &[]),
        commands: vec![
            ok("a", Verb::Select, "A1", 0),
            ok("a", Verb::Book, "A1", 100),
            command("b", Verb::Select, "A1", 150, 160, refused),
            ok("b", Verb::Select, "A2", 200),
            ok("b", Verb::Release, "A2", 300),
            ok("c", Verb::Select, "A2", 400),
            ok("c", Verb::Book, "A2", 500),
            ok("a", Verb::Select, "B1", 600),
            command(
                "a",
                Verb::Book,
                "B1",
                700,
                5700,
                Outcome::NoAnswer("timeout".into()),
            ),
            command(
                "b",
                Verb::Select,
                "B2",
                800,
                1800,
                Outcome::Unconfirmed("UNAVAILABLE".into()),
            ),
        ],
        arrivals,
        last: snapshot(
            8,
            &[
                ("A1", state(SeatStatus::Booked, "a")),
                ("A2", state(SeatStatus::Booked, "c")),
                ("B1", state(SeatStatus::Booked, "a")),
                ("B2", SeatState::available()),
            ],
        ),
    }
}

#[test]
fn a_correct_history_passes_and_tells_how_the_indeterminate_ended() {
    let judgement = judge(&correct());
    assert!(judgement.passed(), "{}", judgement.verdict_line());
    assert_eq!(judgement.ok, 7);
    assert_eq!(judgement.refused.get("SEAT_BOOKED"), Some(&1));
    let ended: Vec<(&str, &str)> = judgement
        .indeterminate
        .iter()
        .map(|i| (i.command.seat.as_str(), i.ended))
        .collect();
    assert_eq!(ended, [("B1", "booked"), ("B2", "not taken")]);
    assert_eq!(judgement.seqs.repeats, 1);
    let line = judgement.verdict_line();
    assert!(line.starts_with("judge: verdict pass; ok 7, refused 1 (SEAT_BOOKED 1), indeterminate 2 (answered UNAVAILABLE 1, no answer 1; booked 1), lost 0, phantom 0, double holders 0, seq gaps 0"), "{line}");
}

#[test]
fn a_booking_answered_ok_missing_from_the_end_state_is_lost() {
    let mut history = correct();
    history.last.seats.remove("A2");
    let judgement = judge(&history);
    assert_eq!(judgement.lost, [("A2".to_owned(), "c".to_owned())]);
    assert!(!judgement.passed());
    assert!(judgement
        .verdict_line()
        .contains("1 acknowledged bookings lost"));
}

#[test]
fn a_seat_taken_by_someone_who_never_asked_for_it_is_a_phantom() {
    let mut history = correct();
    history
        .last
        .seats
        .insert("B2".into(), state(SeatStatus::Booked, "b"));
    history
        .last
        .seats
        .insert("C1".into(), state(SeatStatus::Held, "c"));
    let judgement = judge(&history);
    // b asked to hold B2 (answered UNAVAILABLE), never to book it; nobody asked for C1.
    assert_eq!(
        judgement.phantom,
        [
            ("B2".to_owned(), "b".to_owned()),
            ("C1".to_owned(), "c".to_owned())
        ]
    );
    assert!(!judgement.passed());
}

#[test]
fn two_holds_answered_ok_that_overlap_are_two_holders() {
    let mut history = correct();
    // b's hold of A2 runs until 30 s after it was sent unless released: c's hold at 400 ms
    // overlaps it once the release is gone.
    history.commands.retain(|c| c.verb != Verb::Release);
    let found = double_holders_in_history(&history);
    // c's hold and c's booking both overlap b's hold.
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found
        .iter()
        .all(|d| (d.seat.as_str(), d.first.as_str(), d.second.as_str()) == ("A2", "b", "c")));
}

#[test]
fn a_hold_that_ran_out_may_be_taken_over_but_not_before() {
    let mut history = correct();
    history.commands.retain(|c| c.verb != Verb::Release);
    for c in history.commands.iter_mut().filter(|c| c.user_id == "c") {
        c.sent_ms += HOLD_MS;
        c.ended_ms += HOLD_MS;
    }
    assert!(double_holders_in_history(&history).is_empty());
}

#[test]
fn the_stream_showing_a_held_seat_taken_by_another_is_two_holders() {
    let mut history = correct();
    // Seq 4 (b releases A2) becomes c's hold while b's has 29 s left.
    history.arrivals[4] = event(4, EventKind::Held, "A2", "c", 305);
    history.arrivals.remove(5);
    let found = double_holders_in_stream(&history);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].seen_in, "stream seq 4");
}

#[test]
fn the_stream_may_hand_over_a_hold_whose_time_ran_out() {
    let mut history = correct();
    // b's hold ran out unannounced; c takes A2 over at its expiry.
    history.arrivals[4] = event(4, EventKind::Held, "A2", "c", 205 + HOLD_MS);
    history.arrivals.remove(5);
    assert!(double_holders_in_stream(&history).is_empty());
}

#[test]
fn a_booked_seat_held_again_on_the_stream_is_two_holders() {
    let mut history = correct();
    history
        .arrivals
        .push(event(9, EventKind::Held, "A1", "b", 900));
    history.last.seq = 9;
    let found = double_holders_in_stream(&history);
    assert_eq!(
        (found[0].first.as_str(), found[0].second.as_str()),
        ("a", "b")
    );
}

#[test]
fn a_seq_that_never_arrived_is_a_gap() {
    let mut history = correct();
    history.arrivals.retain(|a| a.event.seq != 5);
    let judgement = judge(&history);
    assert_eq!(judgement.seqs.missing, [("main".to_owned(), 5)]);
    assert!(judgement.verdict_line().contains("seq gaps 1"));
    assert!(!judgement.passed());
}

#[test]
fn seqs_past_the_last_arrival_up_to_the_end_state_are_gaps_too() {
    let mut history = correct();
    history.arrivals.retain(|a| a.event.seq < 7);
    let missing = seq_check(&history).missing;
    assert_eq!(missing, [("main".to_owned(), 7), ("main".to_owned(), 8)]);
}

#[test]
fn a_seq_carried_with_two_payloads_is_a_conflict() {
    let mut history = correct();
    history
        .arrivals
        .push(event(3, EventKind::Held, "A2", "z", 9_000));
    let judgement = judge(&history);
    assert_eq!(judgement.seqs.conflicting, [("main".to_owned(), 3)]);
    assert!(!judgement.passed());
}

#[test]
fn an_end_state_the_stream_does_not_give_is_reported() {
    let mut history = correct();
    history.arrivals.retain(|a| a.event.seq != 6);
    assert_eq!(stream_vs_state(&history), ["A2"]);
}
