//! The types the booking service, the edge servers and the tools all speak: seats and seat ids,
//! identities, NATS events and subjects, WebSocket messages, HTTP bodies and error codes.
//! No I/O lives here.

pub mod api;
pub mod error;
pub mod event;
pub mod identity;
pub mod seat;
pub mod ws;

pub use error::ErrorCode;
pub use event::{EventKind, ReleaseReason, SeatEvent};
pub use identity::{Token, TokenError, TokenSigner};
pub use seat::{Seat, SeatId, SeatIdError, SeatStatus, VenueSpec};

/// Milliseconds since the unix epoch, as carried in `ts_ms` and `server_time_ms`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
