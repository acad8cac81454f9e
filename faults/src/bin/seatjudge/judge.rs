//! The judgement: pure functions over a `History` that find what a seat map must never do
//! (a lost booking, a phantom, two holders of one seat, a seq NATS never carried) and tell how
//! the commands without a definite answer ended.

use std::collections::{BTreeMap, HashMap};

use crate::history::{Command, History, Outcome, SeatState, Snapshot, Verb};

/// Two users held one seat at the same moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoubleHolder {
    pub seat: String,
    pub first: String,
    pub second: String,
    /// Where it shows: "history" (both were answered OK, overlapping) or "stream seq N".
    pub seen_in: String,
    pub at_ms: u64,
}

/// A command without a definite answer, and how its seat ended for its sender.
#[derive(Debug, Clone)]
pub struct Indeterminate {
    pub command: Command,
    /// The sender's standing on the seat in the end state: "booked", "held" or "not taken".
    pub ended: &'static str,
}

/// Seqs of one venue that `seats.>` never carried, or carried with two payloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqCheck {
    /// (venue, seq) never seen.
    pub missing: Vec<(String, u64)>,
    /// (venue, seq) seen with two different payloads.
    pub conflicting: Vec<(String, u64)>,
    /// Seqs seen more than once with the same payload (at-least-once repeats: allowed).
    pub repeats: usize,
}

/// Everything the judge found.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    pub ok: usize,
    pub refused: BTreeMap<String, usize>,
    pub indeterminate: Vec<Indeterminate>,
    /// (seat, user) answered OK to book, not booked by that user in the end state.
    pub lost: Vec<(String, String)>,
    /// (seat, user) taken in the end state by a user who never asked for it.
    pub phantom: Vec<(String, String)>,
    pub double_holders: Vec<DoubleHolder>,
    pub seqs: SeqCheck,
    /// Seats whose end state differs from the initial state with every event replayed.
    pub stream_vs_state: Vec<String>,
}

pub fn judge(history: &History) -> Judgement {
    let mut judgement = Judgement {
        ok: history
            .commands
            .iter()
            .filter(|c| c.outcome == Outcome::Ok)
            .count(),
        indeterminate: indeterminate(history),
        lost: lost(history),
        phantom: phantoms(history),
        seqs: seq_check(history),
        stream_vs_state: stream_vs_state(history),
        ..Judgement::default()
    };
    for command in &history.commands {
        if let Outcome::Refused(code) = &command.outcome {
            *judgement.refused.entry(code.clone()).or_default() += 1;
        }
    }
    judgement.double_holders = double_holders_in_history(history);
    judgement
        .double_holders
        .extend(double_holders_in_stream(history));
    judgement
}

/// Every booking answered OK that the end state does not show with its holder.
pub fn lost(history: &History) -> Vec<(String, String)> {
    let mut lost: Vec<(String, String)> = history
        .commands
        .iter()
        .filter(|c| c.verb == Verb::Book && c.outcome == Outcome::Ok)
        .filter(|c| !history.last.seat(&c.seat).is_booked_by(&c.user_id))
        .map(|c| (c.seat.clone(), c.user_id.clone()))
        .collect();
    lost.sort();
    lost.dedup();
    lost
}

/// Every seat taken in the end state (and not already so at the start) whose taker never sent
/// a command that may have taken it: a book for a booked seat, a select for a held one.
pub fn phantoms(history: &History) -> Vec<(String, String)> {
    let mut phantom = Vec::new();
    for (seat, state) in &history.last.seats {
        let Some(user) = state.holder.as_deref().filter(|_| state.status != 0) else {
            continue;
        };
        if history.initial.seat(seat) == *state {
            continue;
        }
        let verb = if state.status == 2 {
            Verb::Book
        } else {
            Verb::Select
        };
        let asked = history.commands.iter().any(|c| {
            c.seat == *seat && c.user_id == user && c.verb == verb && c.outcome.may_have_changed()
        });
        if !asked {
            phantom.push((seat.clone(), user.to_owned()));
        }
    }
    phantom.sort();
    phantom
}

/// Every command that was neither OK'd nor definitely refused, with how its seat ended.
pub fn indeterminate(history: &History) -> Vec<Indeterminate> {
    history
        .commands
        .iter()
        .filter(|c| c.outcome.is_indeterminate())
        .map(|c| {
            let end = history.last.seat(&c.seat);
            let ended = if end.is_booked_by(&c.user_id) {
                "booked"
            } else if end.is_taken_by(&c.user_id) {
                "held"
            } else {
                "not taken"
            };
            Indeterminate {
                command: c.clone(),
                ended,
            }
        })
        .collect()
}

/// A span during which a user certainly held (or had booked) a seat: [from, until).
#[derive(Debug, Clone)]
struct Holding {
    user: String,
    from: u64,
    until: u64,
}

/// Two users whose certain holdings of one seat overlap, from the OK'd commands alone. A select
/// OK'd holds the seat from its answer until the earliest the hold can run out (the earliest
/// select that may have made it, plus HOLD_SECONDS) or the user's next release that may have
/// ended it; a book OK'd holds it for good from its answer; so does the start's state.
pub fn double_holders_in_history(history: &History) -> Vec<DoubleHolder> {
    let mut by_seat: BTreeMap<&str, Vec<&Command>> = BTreeMap::new();
    for command in &history.commands {
        by_seat.entry(&command.seat).or_default().push(command);
    }
    let mut found = Vec::new();
    for (seat, mut commands) in by_seat {
        commands.sort_by_key(|c| c.sent_ms);
        let mut holdings = initial_holding(&history.initial.seat(seat));
        holdings.extend(holdings_of(&commands, history.hold_seconds * 1000));
        holdings.sort_by_key(|h| h.from);
        for (i, a) in holdings.iter().enumerate() {
            for b in &holdings[i + 1..] {
                if a.user != b.user && b.from < a.until && a.from < b.until {
                    found.push(DoubleHolder {
                        seat: seat.to_owned(),
                        first: a.user.clone(),
                        second: b.user.clone(),
                        seen_in: "history".into(),
                        at_ms: b.from,
                    });
                }
            }
        }
    }
    found
}

fn initial_holding(state: &SeatState) -> Vec<Holding> {
    let Some(user) = state.holder.clone().filter(|_| state.status != 0) else {
        return Vec::new();
    };
    let until = match state.expires_at {
        Some(at) if state.status == 1 => at.saturating_sub(1) * 1000,
        _ => u64::MAX,
    };
    vec![Holding {
        user,
        from: 0,
        until,
    }]
}

/// The certain holdings one seat's commands (sorted by sending time) prove.
fn holdings_of(commands: &[&Command], hold_ms: u64) -> Vec<Holding> {
    let mut holdings = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        if command.outcome != Outcome::Ok || command.verb == Verb::Release {
            continue;
        }
        let mine = |c: &&&Command| c.user_id == command.user_id;
        let until = if command.verb == Verb::Book {
            u64::MAX
        } else {
            // The hold that answered may be older than this select (a select of a seat you
            // hold changes nothing): it began no earlier than the first select since the
            // user's last release OK'd.
            let made_from = commands[..=i]
                .iter()
                .filter(mine)
                .rev()
                .take_while(|c| !(c.verb == Verb::Release && c.outcome == Outcome::Ok))
                .filter(|c| c.verb == Verb::Select && c.outcome.may_have_changed())
                .map(|c| c.sent_ms)
                .min()
                .unwrap_or(command.sent_ms);
            let released = commands[i + 1..]
                .iter()
                .filter(mine)
                .find(|c| c.verb == Verb::Release && c.outcome.may_have_changed())
                .map_or(u64::MAX, |c| c.sent_ms);
            (made_from + hold_ms).min(released)
        };
        if command.ended_ms < until {
            holdings.push(Holding {
                user: command.user_id.clone(),
                from: command.ended_ms,
                until,
            });
        }
    }
    holdings
}

/// The judged venue's events past the initial snapshot, one per seq (the first to arrive),
/// in seq order.
fn venue_events(history: &History) -> Vec<&shared::SeatEvent> {
    let mut events: BTreeMap<u64, &shared::SeatEvent> = BTreeMap::new();
    for arrival in &history.arrivals {
        let event = &arrival.event;
        if event.venue == history.venue && event.seq > history.initial.seq {
            events.entry(event.seq).or_insert(event);
        }
    }
    events.into_values().collect()
}

/// Replays the stream over the initial state: a seat taken (held or booked) by one user while
/// another still had it booked, or held with time left (a hold whose lock ran out may be taken
/// over before its expiry is announced, so a hold counts only until a second before its
/// `expires_at`, which is rounded up).
pub fn double_holders_in_stream(history: &History) -> Vec<DoubleHolder> {
    let mut state: HashMap<&str, SeatState> = HashMap::new();
    let mut found = Vec::new();
    for event in venue_events(history) {
        let before = state
            .remove(event.seat_id.as_str())
            .unwrap_or_else(|| history.initial.seat(&event.seat_id));
        let after = SeatState::after(event);
        if let (Some(had), Some(takes)) = (before.holder.as_ref(), after.holder.as_ref()) {
            let still_had = before.status == 2
                || (before.status == 1
                    && before
                        .expires_at
                        .is_some_and(|at| event.ts_ms <= at.saturating_sub(1) * 1000));
            if had != takes && still_had {
                found.push(DoubleHolder {
                    seat: event.seat_id.clone(),
                    first: had.clone(),
                    second: takes.clone(),
                    seen_in: format!("stream seq {}", event.seq),
                    at_ms: event.ts_ms,
                });
            }
        }
        state.insert(&event.seat_id, after);
    }
    found
}

/// Every seq of every venue on the stream: the judged venue's from the initial snapshot's on
/// to the end state's (or the last seen), other venues' between the first and last seen.
pub fn seq_check(history: &History) -> SeqCheck {
    let mut seen: BTreeMap<&str, BTreeMap<u64, &str>> = BTreeMap::new();
    let mut check = SeqCheck::default();
    for arrival in &history.arrivals {
        let seqs = seen.entry(&arrival.event.venue).or_default();
        match seqs.get(&arrival.event.seq) {
            Some(earlier) if *earlier == arrival.payload => check.repeats += 1,
            Some(_) => check
                .conflicting
                .push((arrival.event.venue.clone(), arrival.event.seq)),
            None => {
                seqs.insert(arrival.event.seq, &arrival.payload);
            }
        }
    }
    seen.entry(&history.venue).or_default();
    for (venue, seqs) in &seen {
        let last_seen = seqs.keys().next_back().copied().unwrap_or(0);
        let (from, to) = if *venue == history.venue {
            (history.initial.seq + 1, last_seen.max(history.last.seq))
        } else {
            (seqs.keys().next().copied().unwrap_or(1), last_seen)
        };
        check.missing.extend(
            (from..=to)
                .filter(|seq| !seqs.contains_key(seq))
                .map(|seq| (venue.to_string(), seq)),
        );
    }
    check
}

/// Seats whose end state is not the initial state with the stream's events up to the end
/// state's seq applied: what a viewer that saw every event would show wrongly.
pub fn stream_vs_state(history: &History) -> Vec<String> {
    let mut replayed: Snapshot = history.initial.clone();
    for event in venue_events(history) {
        if event.seq <= history.last.seq {
            replayed
                .seats
                .insert(event.seat_id.clone(), SeatState::after(event));
        }
    }
    let mut differ: Vec<String> = history
        .last
        .seats
        .iter()
        .filter(|(id, state)| replayed.seat(id) != **state)
        .map(|(id, _)| id.clone())
        .collect();
    differ.sort();
    differ
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
