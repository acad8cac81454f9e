//! `seatbench`'s parts: the booking-API load ([`api`]), the change driver ([`driver`]), WebSocket
//! viewers that speak the seat map's protocol, NATS over WebSocket, or raw frames ([`viewers`]),
//! viewer processes and fan-out phases ([`fanout`]), the minimal broadcaster ([`floor`]), and the
//! correctness-only smoke run ([`smoke`]). Load goes to loopback addresses only.

pub mod api;
pub mod driver;
pub mod fanout;
pub mod floor;
pub mod http;
pub mod smoke;
pub mod stats;
pub mod sys;
pub mod viewers;

/// Load goes only to this machine.
pub fn loopback_only(url: &str) -> anyhow::Result<()> {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if !matches!(host, "localhost") && !host.starts_with("127.") {
        anyhow::bail!("{url}: seatbench only sends load to loopback addresses");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback() {
        assert!(super::loopback_only("http://127.0.0.1:8080").is_ok());
        assert!(super::loopback_only("ws://localhost/ws").is_ok());
        assert!(super::loopback_only("ws://10.0.0.1:3000/ws").is_err());
        assert!(super::loopback_only("http://example.com").is_err());
    }
}
