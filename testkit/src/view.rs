//! What one WebSocket viewer has seen, applied message by message as the page applies them and
//! checked by the seq rules every viewer keeps (`shared::seq`): its seats, its identity, the
//! answers to its commands and its place in the waiting room. No I/O: the viewer's socket task
//! feeds it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use shared::ws::{CompactSeats, Mine, ServerMessage, StateSeats};
use shared::{SeqTracker, StateCheck, UpdateCheck};

use crate::http::{seats_of, Seats};

/// A viewer's identity as its latest own `WELCOME` gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub token: Option<String>,
    pub user_id: Option<String>,
    /// The user id of the first `WELCOME`: a resumed viewer keeps it.
    pub first_user_id: Option<String>,
    pub edge_id: Option<String>,
}

/// Everything one viewer has seen, checked as it arrives.
#[derive(Debug, Default)]
pub struct View {
    /// Every message received, in order (empty unless the viewer keeps them).
    pub messages: Vec<ServerMessage>,
    pub keep_messages: bool,
    /// Seq and epoch of what is applied.
    pub position: SeqTracker,
    pub seats: Seats,
    /// Every breach of "never a seq twice, never out of order, never a gap", including across
    /// a `VENUE_STATE` (which may jump forward, or restart in a new epoch, but never go back),
    /// and every frame that is not a server message.
    pub violations: Vec<String>,
    /// The close code and reason of the last connection, once it ended (1006: no close frame).
    pub closed: Option<(u16, String)>,
    pub connected: bool,
    /// How many times the viewer reconnected after losing its socket.
    pub reconnects: u64,
    pub identity: Identity,
    /// A `CONNECT` with our token is on its way: the greeting with a fresh identity that every
    /// new socket gets first is not ours to keep.
    pub resuming: bool,
    /// Arrival of each applied `SEAT_UPDATE`: (seat, status, when).
    pub arrivals: Vec<(String, u64, Instant)>,
    /// Answers to this viewer's commands: req_id -> "OK" or the error code.
    pub answers: HashMap<String, String>,
    /// Waiting room: the last `QUEUE` position (cleared by `ADMITTED`).
    pub queue_position: Option<u64>,
    /// Waiting room: when the current `ADMITTED` came, with its `until_ms`.
    pub admitted: Option<(Instant, u64)>,
    /// Every admission (a viewer still there when its pass ends queues again).
    pub admissions: Vec<(Instant, u64)>,
    /// The venue's seat ids in seat order: what a compact `VENUE_STATE` is read with.
    pub seat_order: Option<Arc<[String]>>,
    /// The last `MINE`.
    pub mine: Option<Mine>,
    /// What the last `STATUS` said: whether the edge is current (none yet: it never said).
    pub live: Option<bool>,
    /// `PONG`s received.
    pub pongs: u64,
}

impl View {
    /// A view that keeps every message when `keep_messages` (tests that wait for a message);
    /// long-running viewers keep only what they apply.
    pub fn new(keep_messages: bool) -> View {
        View {
            keep_messages,
            ..View::default()
        }
    }

    /// Applies `message`, received at `at`.
    pub fn record(&mut self, message: ServerMessage, at: Instant) {
        match &message {
            ServerMessage::Welcome(welcome) => self.welcome(welcome),
            ServerMessage::VenueState(state) => {
                if let StateCheck::WentBack { from } = self.position.state(state.epoch, state.seq) {
                    self.violations.push(format!(
                        "VENUE_STATE went back from {from} to {}",
                        state.seq
                    ));
                }
                self.seats = match &state.seats {
                    StateSeats::Full { seats } => {
                        seats_of(&serde_json::to_value(seats).expect("seats"))
                    }
                    StateSeats::Compact(compact) => self.read_compact(compact),
                };
                self.mine = None;
            }
            ServerMessage::Mine(mine) => self.own(mine),
            ServerMessage::SeatUpdate(update) => self.update(update, at),
            ServerMessage::Ok(ok) => self.answer(&ok.req_id, "OK"),
            ServerMessage::Error(error) => self.answer(&error.req_id, error.code.as_str()),
            ServerMessage::Queue(place) => self.queue_position = Some(place.position),
            ServerMessage::Admitted(admission) => {
                let until = admission.until_ms;
                if self.admitted.is_none_or(|(_, u)| u != until) {
                    self.admitted = Some((at, until));
                    self.admissions.push((at, until));
                }
                self.queue_position = None;
            }
            ServerMessage::Status(status) => self.live = Some(status.live),
            ServerMessage::Pong(_) => self.pongs += 1,
        }
        if self.keep_messages {
            self.messages.push(message);
        }
    }

    fn welcome(&mut self, welcome: &shared::ws::Welcome) {
        if self.resuming && self.identity.token.as_deref() != Some(welcome.token.as_str()) {
            return;
        }
        self.resuming = false;
        let identity = &mut self.identity;
        identity
            .first_user_id
            .get_or_insert_with(|| welcome.user_id.clone());
        identity.user_id = Some(welcome.user_id.clone());
        identity.token = Some(welcome.token.clone());
        identity.edge_id = Some(welcome.edge_id.clone());
    }

    /// A compact state's seats, holders unknown (`MINE` names the viewer's own).
    fn read_compact(&mut self, compact: &CompactSeats) -> Seats {
        let Some(order) = self.seat_order.clone() else {
            self.violations
                .push("a compact VENUE_STATE, but no seat order to read it with".into());
            return Seats::new();
        };
        match compact.decode() {
            Ok(seats) if seats.len() == order.len() => order
                .iter()
                .zip(seats)
                .map(|(id, seat)| (id.clone(), (seat.status as u64, Value::Null)))
                .collect(),
            Ok(seats) => {
                self.violations.push(format!(
                    "a compact VENUE_STATE of {} seats for a venue of {}",
                    seats.len(),
                    order.len()
                ));
                Seats::new()
            }
            Err(why) => {
                self.violations
                    .push(format!("a broken compact VENUE_STATE: {why}"));
                Seats::new()
            }
        }
    }

    /// `MINE`: the viewer's own seats of the state just before it.
    fn own(&mut self, mine: &Mine) {
        if self.position.seq() != Some(mine.seq) {
            self.violations.push(format!(
                "MINE of seq {} after a VENUE_STATE of {:?}",
                mine.seq,
                self.position.seq()
            ));
        }
        let me = Value::from(self.identity.user_id.clone());
        let own = mine.held.iter().map(|h| &h.id).chain(&mine.booked);
        for id in own {
            match self.seats.get_mut(id) {
                Some((status, holder)) if *status != 0 => *holder = me.clone(),
                _ => self
                    .violations
                    .push(format!("MINE names {id}, which the state has not taken")),
            }
        }
        self.mine = Some(mine.clone());
    }

    fn update(&mut self, update: &shared::ws::SeatUpdate, at: Instant) {
        match self.position.update(update.seq) {
            UpdateCheck::Next => {}
            UpdateCheck::Gap { after } => self
                .violations
                .push(format!("gap: SEAT_UPDATE {} after {after}", update.seq)),
            UpdateCheck::First => self
                .violations
                .push(format!("SEAT_UPDATE {} before any VENUE_STATE", update.seq)),
            UpdateCheck::Stale { last } => {
                self.violations
                    .push(format!("SEAT_UPDATE {} after {last}", update.seq));
                return;
            }
        }
        let status = update.status as u64;
        let held_by = update.held_by.clone().map(Value::String);
        self.seats.insert(
            update.seat_id.clone(),
            (status, held_by.unwrap_or(Value::Null)),
        );
        self.arrivals.push((update.seat_id.clone(), status, at));
    }

    fn answer(&mut self, req_id: &Value, code: &str) {
        if let Some(req_id) = req_id.as_str() {
            self.answers.insert(req_id.to_owned(), code.to_owned());
        }
    }
}

/// A waiting-room message, as a viewer received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerStanding {
    /// `QUEUE` with this position.
    Queue(u64),
    /// `ADMITTED` until this unix ms.
    Admitted(u64),
}

/// Every `QUEUE` and `ADMITTED` among `messages`, in order.
pub fn standings_of(messages: &[ServerMessage]) -> Vec<ViewerStanding> {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Queue(q) => Some(ViewerStanding::Queue(q.position)),
            ServerMessage::Admitted(a) => Some(ViewerStanding::Admitted(a.until_ms)),
            _ => None,
        })
        .collect()
}

/// The seats of `seats` that are not available.
pub fn taken(seats: &Seats) -> Seats {
    seats
        .iter()
        .filter(|(_, (status, _))| *status != 0)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(value: Value) -> ServerMessage {
        serde_json::from_value(value).expect("a server message")
    }

    fn state(epoch: u64, seq: u64) -> ServerMessage {
        message(json!({"type": "VENUE_STATE", "data": {
            "venue": "main", "seq": seq, "epoch": epoch, "rows": 1, "cols": 2,
            "seats": [{"id": "A1", "row": 1, "col": 1, "status": 0},
                      {"id": "A2", "row": 1, "col": 2, "status": 2, "held_by": "u"}],
            "server_time_ms": 0}}))
    }

    fn update(seq: u64, seat: &str, status: u64) -> ServerMessage {
        message(json!({"type": "SEAT_UPDATE", "data": {
            "venue": "main", "seq": seq, "seat_id": seat, "status": status,
            "held_by": "u", "expires_at": null, "reason": null}}))
    }

    #[test]
    fn applies_a_state_and_the_updates_after_it() {
        let mut view = View::new(true);
        view.record(state(1, 4), Instant::now());
        view.record(update(5, "A1", 1), Instant::now());
        assert_eq!(view.seats["A1"], (1, json!("u")));
        assert_eq!(view.seats["A2"].0, 2);
        assert_eq!(view.position.seq(), Some(5));
        assert_eq!(view.arrivals.len(), 1);
        assert_eq!(view.messages.len(), 2);
        assert!(view.violations.is_empty());
    }

    #[test]
    fn a_repeat_is_a_violation_and_not_applied_a_gap_is_a_violation_and_applied() {
        let mut view = View::new(false);
        view.record(state(1, 4), Instant::now());
        view.record(update(5, "A1", 1), Instant::now());
        view.record(update(5, "A1", 0), Instant::now());
        assert_eq!(view.seats["A1"].0, 1);
        view.record(update(7, "A1", 0), Instant::now());
        assert_eq!(view.seats["A1"].0, 0);
        assert_eq!(
            view.violations,
            ["SEAT_UPDATE 5 after 5", "gap: SEAT_UPDATE 7 after 5"]
        );
        assert!(view.messages.is_empty());
    }

    #[test]
    fn a_state_going_back_within_its_epoch_is_a_violation_a_new_epoch_is_not() {
        let mut view = View::new(false);
        view.record(state(1, 9), Instant::now());
        view.record(state(2, 0), Instant::now());
        assert!(view.violations.is_empty());
        view.record(state(2, 3), Instant::now());
        view.record(state(2, 1), Instant::now());
        assert_eq!(view.violations, ["VENUE_STATE went back from 3 to 1"]);
    }

    #[test]
    fn a_compact_state_is_read_in_seat_order_and_mine_names_the_viewers_own_seats() {
        let mut view = View::new(false);
        view.identity.user_id = Some("u-me".into());
        view.seat_order = Some(vec!["A1".to_owned(), "A2".into(), "A3".into()].into());
        view.record(
            message(
                json!({"type": "VENUE_STATE", "data": {"venue": "main", "seq": 4,
                "epoch": 1, "state": "compact", "count": 3, "status": "012",
                "held": [[1, 99]], "server_time_ms": 0}}),
            ),
            Instant::now(),
        );
        view.record(
            message(json!({"type": "MINE", "data": {"venue": "main", "seq": 4,
                "held": [], "booked": ["A3"]}})),
            Instant::now(),
        );
        assert_eq!(view.seats["A1"], (0, Value::Null));
        assert_eq!(view.seats["A2"], (1, Value::Null));
        assert_eq!(view.seats["A3"], (2, json!("u-me")));
        assert!(view.violations.is_empty(), "{:?}", view.violations);
        view.record(
            message(json!({"type": "MINE", "data": {"venue": "main", "seq": 4,
                "held": [], "booked": ["A1"]}})),
            Instant::now(),
        );
        assert_eq!(
            view.violations,
            ["MINE names A1, which the state has not taken"]
        );
    }

    #[test]
    fn a_resuming_viewer_keeps_its_identity_through_the_fresh_greeting() {
        let welcome = |token: &str, user: &str| {
            message(
                json!({"type": "WELCOME", "data": {"user_id": user, "token": token,
                "edge_id": "e", "venue": "main", "hold_seconds": 30, "server_time_ms": 0}}),
            )
        };
        let mut view = View::new(false);
        view.record(welcome("t1", "u1"), Instant::now());
        view.resuming = true;
        view.record(welcome("t2", "u2"), Instant::now());
        assert_eq!(view.identity.user_id.as_deref(), Some("u1"));
        view.record(welcome("t1", "u1"), Instant::now());
        assert!(!view.resuming);
        assert_eq!(view.identity.first_user_id.as_deref(), Some("u1"));
    }
}
