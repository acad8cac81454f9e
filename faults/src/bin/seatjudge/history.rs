//! What the judge reads: the history of every command (who sent what, when, how it was
//! answered), the venue's state before and after, and the events `seats.>` carried.

use std::collections::HashMap;

use serde_json::{json, Value};
use shared::SeatEvent;

/// A seat command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    Select,
    Book,
    Release,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Select => "select",
            Verb::Book => "book",
            Verb::Release => "release",
        }
    }
}

/// How a command ended, as its sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered OK: the change is made.
    Ok,
    /// Answered with a code that says nothing changed (`SEAT_UNAVAILABLE`, `NOT_HOLDER`, …).
    Refused(String),
    /// Answered with a code that may hide a change (`UNAVAILABLE`: for example made on the
    /// master, but no replica confirmed it in time; `INTERNAL`).
    Unconfirmed(String),
    /// No answer: a timeout, a broken connection, or a reply that is not the service's JSON.
    NoAnswer(String),
}

impl Outcome {
    /// The code of an answered error that may hide a change.
    pub fn of_code(code: &str) -> Outcome {
        match code {
            "UNAVAILABLE" | "INTERNAL" => Outcome::Unconfirmed(code.to_owned()),
            _ => Outcome::Refused(code.to_owned()),
        }
    }

    /// Whether the change may have been made (it was OK'd or its fate is unknown).
    pub fn may_have_changed(&self) -> bool {
        !matches!(self, Outcome::Refused(_))
    }

    /// Neither OK nor a definite refusal.
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, Outcome::Unconfirmed(_) | Outcome::NoAnswer(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Ok => "OK".into(),
            Outcome::Refused(code) | Outcome::Unconfirmed(code) => code.clone(),
            Outcome::NoAnswer(why) => format!("no answer ({why})"),
        }
    }
}

/// One command of the history. Times are unix ms on the judge's clock.
#[derive(Debug, Clone)]
pub struct Command {
    pub user_id: String,
    pub verb: Verb,
    pub seat: String,
    /// The booking service it went to (its base URL).
    pub service: String,
    pub sent_ms: u64,
    /// When the answer (or the failure) came.
    pub ended_ms: u64,
    pub outcome: Outcome,
}

impl Command {
    pub fn to_json(&self) -> Value {
        json!({
            "user_id": self.user_id, "verb": self.verb.as_str(), "seat": self.seat,
            "service": self.service, "sent_ms": self.sent_ms, "ended_ms": self.ended_ms,
            "outcome": self.outcome.describe(),
        })
    }
}

/// A seat as a snapshot shows it: status 0 available, 1 held, 2 booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatState {
    pub status: u8,
    pub holder: Option<String>,
    pub expires_at: Option<u64>,
}

impl SeatState {
    pub fn available() -> SeatState {
        SeatState {
            status: 0,
            holder: None,
            expires_at: None,
        }
    }

    pub fn after(event: &SeatEvent) -> SeatState {
        SeatState {
            status: u8::from(event.status),
            holder: event.held_by(),
            expires_at: event.hold_expires_at(),
        }
    }

    /// Held or booked by `user`.
    pub fn is_taken_by(&self, user: &str) -> bool {
        self.status != 0 && self.holder.as_deref() == Some(user)
    }

    pub fn is_booked_by(&self, user: &str) -> bool {
        self.status == 2 && self.holder.as_deref() == Some(user)
    }
}

/// A venue's consistent state (`GET /api/venues/{venue}`): seq and every seat for sale.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub seq: u64,
    pub seats: HashMap<String, SeatState>,
    /// The order the venue lists its seats in.
    pub order: Vec<String>,
}

impl Snapshot {
    pub fn parse(body: &Value) -> Option<Snapshot> {
        let mut snapshot = Snapshot {
            seq: body["seq"].as_u64()?,
            ..Snapshot::default()
        };
        for seat in body["seats"].as_array()? {
            let id = seat["id"].as_str()?.to_owned();
            let state = SeatState {
                status: seat["status"].as_u64()? as u8,
                holder: seat["held_by"].as_str().map(str::to_owned),
                expires_at: seat["expires_at"].as_u64(),
            };
            snapshot.order.push(id.clone());
            snapshot.seats.insert(id, state);
        }
        Some(snapshot)
    }

    pub fn seat(&self, id: &str) -> SeatState {
        self.seats
            .get(id)
            .cloned()
            .unwrap_or_else(SeatState::available)
    }
}

/// One event as `seats.>` carried it, with its payload byte for byte.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub event: SeatEvent,
    pub payload: String,
    /// When it arrived (unix ms, the judge's clock).
    pub arrived_ms: u64,
}

/// Everything a judgement is made from.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub venue: String,
    pub hold_seconds: u64,
    pub initial: Snapshot,
    pub commands: Vec<Command>,
    /// Every event of every venue, in arrival order.
    pub arrivals: Vec<Arrival>,
    pub last: Snapshot,
}
