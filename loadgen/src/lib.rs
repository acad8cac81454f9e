//! `seatbench`'s parts: the booking-API load ([`api`]), the change driver ([`driver`]), WebSocket
//! viewers that speak the seat map's protocol, NATS over WebSocket, or raw frames ([`viewers`]),
//! viewer processes and fan-out phases ([`fanout`]), the minimal broadcaster ([`floor`]), and the
//! correctness-only smoke run ([`smoke`]), what the measured processes cost ([`usage`]) and the
//! results rows ([`rows`]). Load goes to loopback addresses only.

pub mod api;
pub mod best_rush;
pub mod crowd;
pub mod driver;
pub mod fanout;
pub mod fill;
pub mod floor;
pub mod http;
pub mod redis_stats;
pub mod rows;
pub mod smoke;
pub mod stats;
pub mod storm;
pub mod sys;
pub mod usage;
pub mod viewers;
pub mod ws_frame;

/// Load goes only to this machine.
pub fn loopback_only(url: &str) -> anyhow::Result<()> {
    if !shared::is_loopback_url(url) {
        anyhow::bail!("{url}: seatbench only sends load to loopback addresses");
    }
    Ok(())
}
