//! What the seat scripts answer: their reply arrays read into outcomes, and a seat's stored
//! encoding read into a seat.

use shared::{ErrorCode, Seat, SeatStatus};

use crate::seat_error::SeatError;

/// What a seat script did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// The seat changed; `seq` numbers the change.
    Changed {
        seq: u64,
        user: String,
        expires_ms: Option<u64>,
    },
    /// Nothing to do (selecting a seat you already hold).
    Unchanged {
        user: String,
        expires_ms: Option<u64>,
    },
    /// Refused, with the code to answer and the current holder if any.
    Refused { code: ErrorCode, holder: String },
}

/// What the expiry script did with a due hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryOutcome {
    Expired {
        seq: u64,
        user: String,
    },
    /// Not due yet; look again at this time (unix ms).
    Later(u64),
    /// Nothing to expire (booked, released, or already announced).
    Gone,
}

/// A seat released by an admin reset, numbered in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetSeat {
    pub seq: u64,
    pub seat: String,
    pub user: String,
}

/// Fills a seat from its stored encoding: `h|user_id|expires_ms|owner` or `b|user_id||owner`.
pub(super) fn apply_stored_state(seat: &mut Seat, stored: &str) {
    let mut parts = stored.split('|');
    let (kind, user, expires) = (parts.next(), parts.next(), parts.next());
    match kind {
        Some("h") => {
            seat.status = SeatStatus::Held;
            seat.expires_at = expires.and_then(|e| e.parse().ok()).map(ms_to_unix_seconds);
        }
        Some("b") => seat.status = SeatStatus::Booked,
        _ => return,
    }
    seat.held_by = user.map(str::to_owned);
}

/// `expires_at` is in whole seconds; round up so a hold never looks shorter than it is.
pub fn ms_to_unix_seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

pub(super) fn parse_outcome(reply: &[String]) -> Result<ScriptOutcome, SeatError> {
    let user = reply.get(1).cloned().unwrap_or_default();
    let expires_ms = reply.get(2).and_then(|e| e.parse().ok());
    let refused = |code| {
        Ok(ScriptOutcome::Refused {
            code,
            holder: user.clone(),
        })
    };
    match reply.first().map(String::as_str) {
        Some("CHANGED") => Ok(ScriptOutcome::Changed {
            seq: parse_field(reply, 3)?,
            user,
            expires_ms,
        }),
        Some("UNCHANGED") => Ok(ScriptOutcome::Unchanged { user, expires_ms }),
        Some("SEAT_BOOKED") => refused(ErrorCode::SeatBooked),
        Some("SEAT_UNAVAILABLE") => refused(ErrorCode::SeatUnavailable),
        Some("NOT_HOLDER") => refused(ErrorCode::NotHolder),
        Some("MAX_HOLDS_EXCEEDED") => refused(ErrorCode::MaxHoldsExceeded),
        Some("NOT_ADMITTED") => refused(ErrorCode::NotAdmitted),
        _ => Err(unexpected(reply)),
    }
}

pub(super) fn parse_field<T: std::str::FromStr>(
    reply: &[String],
    index: usize,
) -> Result<T, SeatError> {
    reply
        .get(index)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| unexpected(reply))
}

pub(super) fn unexpected(reply: &[String]) -> SeatError {
    tracing::error!(?reply, "unexpected reply from a seat script");
    SeatError::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_states_become_seats() {
        let id = shared::SeatId { row: 0, col: 0 };
        let mut seat = Seat::available(id);
        apply_stored_state(&mut seat, "h|u-abc|1763723456001|0123abcd");
        assert_eq!(seat.status, SeatStatus::Held);
        assert_eq!(seat.held_by.as_deref(), Some("u-abc"));
        assert_eq!(seat.expires_at, Some(1763723457));
        let mut seat = Seat::available(id);
        apply_stored_state(&mut seat, "b|u-abc||0123abcd");
        assert_eq!(seat.status, SeatStatus::Booked);
        assert_eq!(seat.expires_at, None);
    }

    #[test]
    fn script_replies_map_to_outcomes() {
        let reply = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_outcome(&reply(&["CHANGED", "u-1", "5000", "7"])).unwrap(),
            ScriptOutcome::Changed {
                seq: 7,
                user: "u-1".into(),
                expires_ms: Some(5000)
            }
        );
        assert_eq!(
            parse_outcome(&reply(&["SEAT_BOOKED", "u-2"])).unwrap(),
            ScriptOutcome::Refused {
                code: ErrorCode::SeatBooked,
                holder: "u-2".into()
            }
        );
        assert!(parse_outcome(&reply(&["WHAT"])).is_err());
    }
}
