//! Error codes shared by the HTTP API and the WebSocket protocol, with their HTTP statuses.

use serde::{Deserialize, Serialize};

/// A machine-readable error code. The names are part of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    UnknownVenue,
    UnknownSeat,
    NotHolder,
    SeatUnavailable,
    SeatBooked,
    /// In the venue's chart but never sold (blocked).
    SeatNotForSale,
    MaxHoldsExceeded,
    /// Best available found no block of adjacent seats that fits.
    NoSeatsTogether,
    /// The single-seat rule: the select would leave one free seat alone.
    SingleSeatGap,
    RateLimited,
    Unavailable,
    Internal,
    /// No such route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// A WebSocket frame that is not a known message (edge only).
    UnknownType,
    /// A WebSocket frame that is larger than the edge accepts (edge only).
    FrameTooLarge,
    /// Waiting room: not this identity's turn yet.
    NotAdmitted,
    /// Events older than the kept history were asked for; fetch a snapshot instead.
    HistoryGone,
    /// A WebSocket opened from a page whose `Origin` the edge does not allow (edge only).
    OriginNotAllowed,
    /// A plain HTTP request (or an unsupported WebSocket version) on `/ws` (edge only).
    UpgradeRequired,
}

impl ErrorCode {
    /// The HTTP status the booking service answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ValidationError | ErrorCode::UnknownType => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::NotHolder | ErrorCode::NotAdmitted | ErrorCode::OriginNotAllowed => 403,
            ErrorCode::UnknownVenue | ErrorCode::UnknownSeat | ErrorCode::NotFound => 404,
            ErrorCode::SeatUnavailable
            | ErrorCode::SeatBooked
            | ErrorCode::SeatNotForSale
            | ErrorCode::MaxHoldsExceeded
            | ErrorCode::NoSeatsTogether
            | ErrorCode::SingleSeatGap => 409,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::FrameTooLarge => 413,
            ErrorCode::HistoryGone => 410,
            ErrorCode::UpgradeRequired => 426,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    /// The code as it appears on the wire, e.g. `SEAT_UNAVAILABLE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::UnknownVenue => "UNKNOWN_VENUE",
            ErrorCode::UnknownSeat => "UNKNOWN_SEAT",
            ErrorCode::NotHolder => "NOT_HOLDER",
            ErrorCode::SeatUnavailable => "SEAT_UNAVAILABLE",
            ErrorCode::SeatBooked => "SEAT_BOOKED",
            ErrorCode::SeatNotForSale => "SEAT_NOT_FOR_SALE",
            ErrorCode::MaxHoldsExceeded => "MAX_HOLDS_EXCEEDED",
            ErrorCode::NoSeatsTogether => "NO_SEATS_TOGETHER",
            ErrorCode::SingleSeatGap => "SINGLE_SEAT_GAP",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::UnknownType => "UNKNOWN_TYPE",
            ErrorCode::FrameTooLarge => "FRAME_TOO_LARGE",
            ErrorCode::NotAdmitted => "NOT_ADMITTED",
            ErrorCode::HistoryGone => "HISTORY_GONE",
            ErrorCode::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            ErrorCode::UpgradeRequired => "UPGRADE_REQUIRED",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for code in [
            ErrorCode::ValidationError,
            ErrorCode::SeatUnavailable,
            ErrorCode::MaxHoldsExceeded,
            ErrorCode::FrameTooLarge,
            ErrorCode::NotAdmitted,
            ErrorCode::HistoryGone,
            ErrorCode::SeatNotForSale,
            ErrorCode::NoSeatsTogether,
            ErrorCode::SingleSeatGap,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }
}
