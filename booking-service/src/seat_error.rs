//! Why a seat, waiting-room or outbox operation did not happen, in the domain's own words: the
//! store and the seat logic know nothing of HTTP. `error.rs` turns it into an answer, once.

use shared::ErrorCode;

/// What the store and the seat logic fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatError {
    /// Redis (or the replicas a change must reach) cannot be used right now; trying again
    /// shortly may work. The message says what happened and what to do.
    Unavailable(String),
    /// A fault of this service or a reply Redis should never give; logged where it happened.
    Internal,
    /// The rules refuse it: a code of the contract and a message for the user.
    Refused { code: ErrorCode, message: String },
    /// The rules refuse a command on several seats: also every seat that stood in the way.
    RefusedSeats {
        code: ErrorCode,
        message: String,
        seat_ids: Vec<String>,
    },
}

impl SeatError {
    /// `what` cannot be reached.
    pub fn unavailable(what: &str) -> Self {
        SeatError::Unavailable(format!("{what} is unreachable; try again shortly"))
    }

    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        SeatError::Refused {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SeatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeatError::Unavailable(message) => write!(f, "unavailable: {message}"),
            SeatError::Internal => f.write_str("internal error"),
            SeatError::Refused { code, message }
            | SeatError::RefusedSeats { code, message, .. } => {
                write!(f, "{code}: {message}")
            }
        }
    }
}

impl std::error::Error for SeatError {}
