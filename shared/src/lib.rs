//! The types the booking service, the edge servers and the tools all speak: seats and seat ids,
//! identities, NATS events and subjects, WebSocket messages and the seq rules a viewer checks,
//! HTTP bodies and error codes, seating charts and venue layouts, the URL-list settings both
//! services read, and the latency buckets both export.
//! No I/O lives here.

pub mod api;
pub mod chart;
pub mod error;
pub mod event;
pub mod identity;
pub mod latency;
pub mod request_id;
pub mod seat;
pub mod seq;
pub mod settings;
pub mod state;
pub mod venue;
pub mod ws;

pub use error::ErrorCode;
pub use event::{EventKind, ReleaseReason, SeatEvent};
pub use identity::{Token, TokenError, TokenSigner};
pub use seat::{Seat, SeatId, SeatIdError, SeatStatus, VenueSpec};
pub use seq::{SeqTracker, StateCheck, UpdateCheck};
pub use venue::{Layout, VenueEntry, VenueSeats};

/// Whether `url` (`scheme://host[:port][/…]`) names this machine: `localhost` or `127.*`. The
/// load and fault tools refuse anything else, so they can never be aimed at someone else's host.
pub fn is_loopback_url(url: &str) -> bool {
    let host = url_host(url);
    host == "localhost" || host.starts_with("127.")
}

/// The host of `scheme://host[:port][/…]` (empty when there is none).
pub fn url_host(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("")
}

/// Milliseconds since the unix epoch, as carried in `ts_ms` and `server_time_ms`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_this_machine_is_loopback() {
        assert!(super::is_loopback_url("http://127.0.0.1:8080"));
        assert!(super::is_loopback_url("ws://localhost/ws"));
        assert!(super::is_loopback_url("nats://127.0.0.2:4222"));
        assert!(!super::is_loopback_url("ws://10.0.0.1:3000/ws"));
        assert!(!super::is_loopback_url("http://example.com"));
        assert!(!super::is_loopback_url("http://localhost.example.com"));
        assert!(
            !super::is_loopback_url("127.0.0.1:8080"),
            "no scheme: not a URL"
        );
    }
}
