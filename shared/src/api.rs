//! Bodies of the booking service's HTTP API.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::event::SeatEvent;
use crate::seat::Seat;

/// `POST /api/seats/{select,book,release}`. Every field is optional here so that a missing
/// one is answered with a precise error code rather than a generic parse failure.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SeatRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<String>,
}

/// `{"ok":true,"seat":{…}}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeatResponse {
    pub ok: bool,
    pub seat: Seat,
}

/// The error half of every API answer: `{"ok":false,"error":{"code":…,"message":…}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub ok: bool,
    pub error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorResponse {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorResponse {
            ok: false,
            error: ApiError {
                code,
                message: message.into(),
            },
        }
    }
}

/// `GET /api/venues/{venue}`: a consistent snapshot; `seq` is the last change it includes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueSnapshot {
    pub venue: String,
    pub rows: u16,
    pub cols: u16,
    pub hold_seconds: u64,
    pub seq: u64,
    /// The venue's epoch (see [`SeatEvent::epoch`]).
    #[serde(default)]
    pub epoch: u64,
    pub seats: Vec<Seat>,
}

/// `GET /api/venues/{venue}/events?after=N[&limit=K]`: the NATS payloads with seq > N, in order,
/// from the venue's kept history. `to` is the venue's current seq, so `limit=0` is a cheap check
/// of how far the venue has gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage {
    pub venue: String,
    pub epoch: u64,
    /// The first seq this page could hold (`after + 1`).
    pub from: u64,
    /// The venue's current seq.
    pub to: u64,
    pub events: Vec<SeatEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_matches_the_contract() {
        let body = ErrorResponse::new(ErrorCode::SeatUnavailable, "A1 is held by another user");
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"ok":false,"error":{"code":"SEAT_UNAVAILABLE","message":"A1 is held by another user"}}"#
        );
    }

    #[test]
    fn seat_request_tolerates_missing_fields() {
        let req: SeatRequest = serde_json::from_str(r#"{"seat_id":"A1"}"#).unwrap();
        assert_eq!(req.seat_id.as_deref(), Some("A1"));
        assert!(req.token.is_none() && req.venue.is_none());
    }
}
