//! Configuration from environment variables (names and defaults are part of the contract).

use std::time::Duration;

use shared::TokenSigner;

use crate::origin::AllowedOrigins;

/// Everything an edge server is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub booking_url: String,
    pub nats_url: String,
    pub edge_id: String,
    /// Issues tokens in `WELCOME` and verifies those sent with `CONNECT` (`TOKEN_SECRET`).
    pub token_signer: TokenSigner,
    /// Pages allowed to open a WebSocket (`ALLOWED_ORIGINS`); default: the page's own origin.
    pub allowed_origins: AllowedOrigins,
    /// The venue a new connection watches until it asks for another.
    pub default_venue: String,
    /// Messages buffered per client before it counts as slow and is resynchronised.
    pub client_queue: usize,
    /// How often each venue's seq is compared with the booking service's.
    pub seq_check_interval: Duration,
    /// How long an out-of-order event may wait for the ones before it.
    pub reorder_window: Duration,
    /// Ping interval; a client silent for three intervals is disconnected.
    pub ping_interval: Duration,
    /// How long a new connection's first `VENUE_STATE` waits for a `CONNECT` (which may resume
    /// with `after_seq` and need no `VENUE_STATE` at all).
    pub connect_grace: Duration,
    /// NATS ping interval: a silently dead NATS connection is noticed after three of them.
    pub nats_ping_interval: Duration,
}

pub const HELP: &str = "\
edge-server: WebSocket fan-out of seat changes from NATS; forwards commands to the booking service

USAGE: edge-server [--help] [--version]

Configured by environment variables:
  PORT=3000                         HTTP/WebSocket port (WebSocket at /ws)
  HOST=127.0.0.1                    address to bind (0.0.0.0 in containers)
  BOOKING_URL=http://127.0.0.1:8080 the booking service
  NATS_URL=nats://127.0.0.1:4222    NATS carrying seats.{venue}.{kind}
  TOKEN_SECRET                      required: the secret shared with the booking service
  EDGE_ID=edge-$PORT                this edge's name, shown to clients in WELCOME
  DEFAULT_VENUE=main                venue a new connection watches
  CLIENT_QUEUE=256                  messages buffered per client before it is resynchronised
  ALLOWED_ORIGINS                   comma list of page origins allowed to open a WebSocket, like
                                    http://localhost:8080,https://seats.example (or * for any).
                                    Unset: only the page's own origin (the Origin's host[:port]
                                    must equal the Host header, so a proxy must pass the client's
                                    Host on, e.g. NGINX proxy_set_header Host $http_host).
                                    Upgrades without an Origin header (websocat, scripts) are
                                    allowed; a disallowed Origin gets HTTP 403.
  RUST_LOG=info                     log filter (tracing EnvFilter syntax)

Routes: GET /ws (WebSocket), GET /health, GET /metrics
Client addresses in logs come from X-Real-IP/X-Forwarded-For only on connections from loopback.
";

impl Config {
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let get = |name: &str, default: &str| lookup(name).unwrap_or_else(|| default.to_owned());
        let port: u16 = get("PORT", "3000")
            .trim()
            .parse()
            .map_err(|_| "PORT must be a port number".to_string())?;
        let client_queue: usize = get("CLIENT_QUEUE", "256")
            .trim()
            .parse()
            .ok()
            .filter(|n| *n >= 4)
            .ok_or("CLIENT_QUEUE must be a number of at least 4")?;
        let default_venue = get("DEFAULT_VENUE", "main");
        if !shared::seat::is_valid_venue_name(&default_venue) {
            return Err(format!(
                "DEFAULT_VENUE '{default_venue}' is not a valid venue name"
            ));
        }
        let token_signer = TokenSigner::from_setting(lookup("TOKEN_SECRET").as_deref())?;
        let allowed_origins = AllowedOrigins::parse(lookup("ALLOWED_ORIGINS").as_deref())?;
        Ok(Config {
            token_signer,
            allowed_origins,
            host: get("HOST", "127.0.0.1"),
            port,
            booking_url: get("BOOKING_URL", "http://127.0.0.1:8080")
                .trim_end_matches('/')
                .to_owned(),
            nats_url: get("NATS_URL", "nats://127.0.0.1:4222"),
            edge_id: lookup("EDGE_ID")
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("edge-{port}")),
            default_venue,
            client_queue,
            seq_check_interval: Duration::from_secs(2),
            reorder_window: Duration::from_millis(250),
            ping_interval: Duration::from_secs(10),
            connect_grace: Duration::from_millis(500),
            nats_ping_interval: Duration::from_millis(1250),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let secret = |n: &str| (n == "TOKEN_SECRET").then(|| "a-test-secret-0123456789".into());
        let config = Config::from_lookup(secret).unwrap();
        assert_eq!(config.port, 3000);
        assert_eq!(config.edge_id, "edge-3000");
        assert_eq!(config.booking_url, "http://127.0.0.1:8080");
        let config =
            Config::from_lookup(|n| (n == "PORT").then(|| "3001".into()).or_else(|| secret(n)))
                .unwrap();
        assert_eq!(config.edge_id, "edge-3001");
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert!(err.contains("TOKEN_SECRET"), "{err}");
        assert_eq!(config.allowed_origins, AllowedOrigins::SameHost);
        let bad = |n: &str| {
            (n == "ALLOWED_ORIGINS")
                .then(|| "localhost".into())
                .or_else(|| secret(n))
        };
        assert!(Config::from_lookup(bad)
            .unwrap_err()
            .contains("ALLOWED_ORIGINS"));
    }
}
