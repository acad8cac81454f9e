//! Bodies of the booking service's HTTP API.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::event::SeatEvent;
use crate::seat::Seat;
use crate::venue::Layout;

/// Grid sizes are at least 1; 0 stands for "not a grid" and is left out of the JSON.
pub(crate) fn is_zero(n: &u16) -> bool {
    *n == 0
}

/// `POST /api/seats/{select,book,release}`: one seat (`seat_id`) or several together
/// (`seat_ids`). Every field is optional here so that a missing one is answered with a precise
/// error code rather than a generic parse failure.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema, Deserialize)]
pub struct SeatRequest {
    /// One seat: its id, e.g. `A1` (a chart's: `{section}-{row}-{number}`). Give this or
    /// `seat_ids`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "A1")]
    pub seat_id: Option<String>,
    /// Several seats, all or none (1 to `MAX_HOLDS_PER_USER` distinct ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["A1", "A2"]))]
    pub seat_ids: Option<Vec<String>>,
    /// The acting user's token, as issued by the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub token: Option<String>,
    /// Venue name; the default venue when absent (or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "main")]
    pub venue: Option<String>,
}

/// `POST /api/seats/best`: hold the best block of `count` adjacent free seats, chosen and held
/// in one atomic step. Fields are optional here so that a missing one gets a precise error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema, Deserialize)]
pub struct BestRequest {
    /// How many seats side by side (1 to `MAX_HOLDS_PER_USER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u32, required = true, example = 4)]
    pub count: Option<u32>,
    /// Only seats of this category (a chart's category id, e.g. `lower`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Only seats of this section (a chart's section id, e.g. `101`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// One wheelchair space and `count - 1` companion or adjacent seats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessible: Option<bool>,
    /// The acting user's token, as issued by the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub token: Option<String>,
    /// Venue name; the default venue when absent (or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "arena")]
    pub venue: Option<String>,
}

/// `{"ok":true,"seat":{…}}`
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, Deserialize)]
pub struct SeatResponse {
    pub ok: bool,
    pub seat: Seat,
}

/// `{"ok":true,"seat_ids":[…],"seats":[…]}`: the answer to a command on several seats, in the
/// order asked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, Deserialize)]
pub struct SeatsResponse {
    pub ok: bool,
    pub seat_ids: Vec<String>,
    pub seats: Vec<Seat>,
}

/// The answer to a seat command: one seat (`seat_id` was given) or several (`seat_ids`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, Deserialize)]
#[serde(untagged)]
pub enum SeatCommandAnswer {
    One(SeatResponse),
    Several(SeatsResponse),
}

/// The error half of every API answer: `{"ok":false,"error":{"code":…,"message":…}}`. The
/// edge's HTTP refusals use it too.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, Deserialize)]
pub struct ErrorResponse {
    pub ok: bool,
    pub error: ErrorDetail,
}

/// The `error` object of an [`ErrorResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// A refusal about several seats: every seat that stood in the way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_ids: Option<Vec<String>>,
}

impl ErrorResponse {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorResponse {
            ok: false,
            error: ErrorDetail {
                code,
                message: message.into(),
                seat_ids: None,
            },
        }
    }

    /// The refusal of a command on several seats, naming the seats in the way.
    pub fn with_seats(mut self, seat_ids: Option<Vec<String>>) -> Self {
        self.error.seat_ids = seat_ids;
        self
    }
}

/// `GET /api/venues/{venue}`: a consistent snapshot; `seq` is the last change it includes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Deserialize)]
pub struct VenueSnapshot {
    pub venue: String,
    /// `grid` or `chart`; a chart has no `rows`/`cols` (they are 0 here and left out).
    #[serde(default)]
    pub layout: Layout,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows: u16,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cols: u16,
    pub hold_seconds: u64,
    /// `MAX_HOLDS_PER_USER`: the most seats one identity may hold at once.
    #[serde(default)]
    pub max_holds_per_user: u32,
    pub seq: u64,
    /// The venue's epoch (see [`SeatEvent::epoch`]).
    #[serde(default)]
    pub epoch: u64,
    pub seats: Vec<Seat>,
}

/// `GET /api/venues/{venue}/events?after=N[&limit=K]`: the NATS payloads with seq > N, in order,
/// from the venue's kept history. `to` is the venue's current seq, so `limit=0` is a cheap check
/// of how far the venue has gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Deserialize)]
pub struct EventsPage {
    pub venue: String,
    pub epoch: u64,
    /// The first seq this page could hold (`after + 1`).
    pub from: u64,
    /// The venue's current seq.
    pub to: u64,
    pub events: Vec<SeatEvent>,
}

/// `POST /api/queue/join` `{"token","venue"}`: join the venue's waiting room (or refresh the
/// place: calling it is what keeps an HTTP-only client's place, as an open socket does).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema, Deserialize)]
pub struct WaitingRoomJoinRequest {
    /// The identity's token, as issued by the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub token: Option<String>,
    /// Venue name; the default venue when absent (or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "main")]
    pub venue: Option<String>,
}

/// Where an identity stands in a venue's waiting room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum WaitingRoomStanding {
    /// The waiting room is off (`MAX_SHOPPERS=0`): everyone may shop.
    Open { venue: String },
    /// Waiting: `position` 1 is next.
    Waiting {
        venue: String,
        position: u64,
        size: u64,
        estimated_wait_s: u64,
    },
    /// A shopper until `until_ms`.
    Admitted { venue: String, until_ms: u64 },
    /// Neither waiting nor admitted: not joined yet, or the place was dropped (no socket for
    /// 60 s) or the pass ended. Joining again gives a place at the end of the queue.
    Outside { venue: String },
}

/// `POST /internal/queue/{venue}/presence` (edges only; not proxied by NGINX): the authority keys
/// of the identities that have a socket open on this edge. Refreshes their presence and answers
/// where each stands, in the same order.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema, Deserialize)]
pub struct WaitingRoomReport {
    pub owners: Vec<String>,
    /// Also put these owners in the queue if they have no place yet (newly seen identities).
    #[serde(default)]
    pub join: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Deserialize)]
pub struct WaitingRoomAnswer {
    pub venue: String,
    /// False when the waiting room is off; `standings` is then empty.
    pub enabled: bool,
    pub standings: Vec<WaitingRoomStanding>,
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
    fn waiting_room_standings_are_tagged_with_their_state() {
        let waiting = WaitingRoomStanding::Waiting {
            venue: "main".into(),
            position: 3,
            size: 10,
            estimated_wait_s: 42,
        };
        assert_eq!(
            serde_json::to_string(&waiting).unwrap(),
            r#"{"state":"waiting","venue":"main","position":3,"size":10,"estimated_wait_s":42}"#
        );
        let admitted: WaitingRoomStanding =
            serde_json::from_str(r#"{"state":"admitted","venue":"main","until_ms":5}"#).unwrap();
        assert_eq!(
            admitted,
            WaitingRoomStanding::Admitted {
                venue: "main".into(),
                until_ms: 5
            }
        );
    }

    #[test]
    fn group_errors_name_their_seats() {
        let body = ErrorResponse::new(ErrorCode::SeatBooked, "A1 and A2 are booked")
            .with_seats(Some(vec!["A1".into(), "A2".into()]));
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"ok":false,"error":{"code":"SEAT_BOOKED","message":"A1 and A2 are booked","seat_ids":["A1","A2"]}}"#
        );
    }

    #[test]
    fn seat_request_tolerates_missing_fields() {
        let req: SeatRequest = serde_json::from_str(r#"{"seat_id":"A1"}"#).unwrap();
        assert_eq!(req.seat_id.as_deref(), Some("A1"));
        assert!(req.token.is_none() && req.venue.is_none());
    }
}
