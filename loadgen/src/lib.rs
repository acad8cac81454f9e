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

/// Load goes only to this machine: loopback, or a test host on a bridge a network fault
/// scenario made here (scripts/lib/nethosts.sh names them `smbr…`; tests/net/).
pub fn loopback_only(url: &str) -> anyhow::Result<()> {
    if !shared::is_loopback_url(url) && !is_test_host(url) {
        anyhow::bail!(
            "{url}: seatbench only sends load to loopback addresses or this machine's test hosts"
        );
    }
    Ok(())
}

/// Whether the URL's host is an IPv4 address on the subnet of a local `smbr…` bridge, from the
/// kernel's routing table (`/proc/net/route`: addresses as hex in the machine's byte order).
fn is_test_host(url: &str) -> bool {
    let Ok(address) = shared::url_host(url).parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let address = u32::from_le_bytes(address.octets());
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    routes.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let hex = |i: usize| fields.get(i).and_then(|f| u32::from_str_radix(f, 16).ok());
        match (fields.first(), hex(1), hex(2), hex(7)) {
            (Some(name), Some(destination), Some(0), Some(mask)) => {
                name.starts_with("smbr") && mask != 0 && address & mask == destination
            }
            _ => false,
        }
    })
}
