//! Seat change events as published on NATS (`seats.{venue}.{held|released|booked}`).

use serde::{Deserialize, Serialize};

use crate::seat::{Seat, SeatId, SeatStatus};

/// Subscribing to this sees every change of every venue.
pub const SUBJECT_ALL: &str = "seats.>";

/// What happened to the seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Held,
    Released,
    Booked,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Held => "held",
            EventKind::Released => "released",
            EventKind::Booked => "booked",
        }
    }

    /// The seat status after an event of this kind.
    pub fn status(self) -> SeatStatus {
        match self {
            EventKind::Held => SeatStatus::Held,
            EventKind::Released => SeatStatus::Available,
            EventKind::Booked => SeatStatus::Booked,
        }
    }
}

/// Why a seat became available again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseReason {
    /// The holder released it.
    Released,
    /// The hold ran out.
    Expired,
    /// An operator reset the venue.
    Reset,
}

/// One change of one seat. Carries the seat's full new state, so a viewer that missed an
/// earlier change is still right after applying this one; `seq` tells it that it missed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Deserialize)]
pub struct SeatEvent {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub venue: String,
    /// Per-venue sequence number, incremented in the same atomic step as the change.
    pub seq: u64,
    pub seat_id: String,
    pub status: SeatStatus,
    /// The holder or booker; for `released`, the user who held the seat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Unix seconds when the hold ends (`held` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Why the seat was released (`released` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReleaseReason>,
    pub ts_ms: u64,
    /// The venue's epoch: a new one starts when Redis lost the venue's data and seq restarted.
    /// Seqs are comparable only within one epoch.
    #[serde(default)]
    pub epoch: u64,
}

impl SeatEvent {
    /// `seats.{venue}.{type}`
    pub fn subject(&self) -> String {
        format!("seats.{}.{}", self.venue, self.kind.as_str())
    }

    /// Who holds or booked the seat after this event (nobody once it is available).
    pub fn held_by(&self) -> Option<String> {
        (self.status != SeatStatus::Available)
            .then(|| self.user_id.clone())
            .flatten()
    }

    /// When the hold ends, if the seat is held after this event.
    pub fn hold_expires_at(&self) -> Option<u64> {
        (self.status == SeatStatus::Held)
            .then_some(self.expires_at)
            .flatten()
    }

    /// The seat as it is after this event.
    pub fn seat(&self, id: SeatId) -> Seat {
        let mut seat = Seat::available(id);
        self.apply_to(&mut seat);
        seat
    }

    /// Brings `seat` (this event's seat) to its state after this event; its id and place stay.
    pub fn apply_to(&self, seat: &mut Seat) {
        seat.status = self.status;
        seat.held_by = self.held_by();
        seat.expires_at = self.hold_expires_at();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_matches_the_contract_and_round_trips() {
        let event = SeatEvent {
            kind: EventKind::Held,
            venue: "main".into(),
            seq: 42,
            seat_id: "A1".into(),
            status: SeatStatus::Held,
            user_id: Some("u-3f9c2a1b7d4e".into()),
            expires_at: Some(1763723456),
            reason: None,
            ts_ms: 1763723426123,
            epoch: 1763700000000,
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"type":"held","venue":"main","seq":42,"seat_id":"A1","status":1,"user_id":"u-3f9c2a1b7d4e","expires_at":1763723456,"ts_ms":1763723426123,"epoch":1763700000000}"#
        );
        assert_eq!(serde_json::from_str::<SeatEvent>(&json).unwrap(), event);
        assert_eq!(event.subject(), "seats.main.held");
    }

    #[test]
    fn released_event_names_its_reason_and_frees_the_seat() {
        let event = SeatEvent {
            kind: EventKind::Released,
            venue: "main".into(),
            seq: 7,
            seat_id: "B2".into(),
            status: SeatStatus::Available,
            user_id: Some("u-000000000001".into()),
            expires_at: None,
            reason: Some(ReleaseReason::Expired),
            ts_ms: 1,
            epoch: 1,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["reason"], "expired");
        assert_eq!(json["type"], "released");
        let seat = event.seat(SeatId { row: 1, col: 1 });
        assert_eq!(seat.status, SeatStatus::Available);
        assert_eq!(seat.held_by, None);
        assert_eq!(event.subject(), "seats.main.released");
    }
}
