//! Configuration from environment variables (names and defaults are part of the contract).

use std::time::Duration;

use shared::TokenSigner;

use crate::origin::AllowedOrigins;
use shared::settings::{parse_nats_servers, parse_url_list};

/// Everything an edge server is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// Also serve on this Unix socket (`UNIX_SOCKET`): for a proxy on the same host, which then
    /// skips a loopback TCP hop per frame.
    pub unix_socket: Option<std::path::PathBuf>,
    /// The booking services (`BOOKING_URL`, a comma list), in order of preference.
    pub booking_urls: Vec<String>,
    /// `INTERNAL_TOKEN`: shown to the booking service on its `/internal/` routes, when set.
    pub internal_token: Option<String>,
    /// The NATS servers (`NATS_URL`, a comma list: the servers of one NATS cluster).
    pub nats_servers: Vec<async_nats::ServerAddr>,
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
  UNIX_SOCKET                       also serve on this Unix socket path (same routes), for a
                                    proxy on the same host: NGINX `server unix:PATH` skips a
                                    loopback TCP hop per frame. A stale file there is replaced;
                                    one another process still serves is refused.
  BOOKING_URL=http://127.0.0.1:8080 the booking service; a comma list of several fails over:
                                    requests go to the first one that answers, one that cannot
                                    be reached or times out is passed over for 5 s (a seat
                                    command that may have reached it is answered UNAVAILABLE,
                                    never sent twice)
  NATS_URL=nats://127.0.0.1:4222    NATS carrying seats.{venue}.{kind}; a comma list of the
                                    servers of a NATS cluster (reconnects to any of them);
                                    tls://USER:PASS@host:port: TLS (trusting SSL_CERT_FILE or
                                    the system's roots) and a NATS user
  TOKEN_SECRET                      required: the secret shared with the booking service
  INTERNAL_TOKEN                    the booking service's INTERNAL_TOKEN, when it has one: sent
                                    with the waiting-room reports (its /internal/ routes)
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
        let booking_urls =
            parse_url_list("BOOKING_URL", &get("BOOKING_URL", "http://127.0.0.1:8080"))?;
        if let Some(bad) = booking_urls
            .iter()
            .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(format!("BOOKING_URL: '{bad}' is not an http:// URL"));
        }
        let nats_servers = parse_nats_servers(&get("NATS_URL", "nats://127.0.0.1:4222"))?;
        Ok(Config {
            token_signer,
            allowed_origins,
            host: get("HOST", "127.0.0.1"),
            port,
            unix_socket: lookup("UNIX_SOCKET")
                .filter(|path| !path.trim().is_empty())
                .map(std::path::PathBuf::from),
            booking_urls,
            internal_token: shared::settings::internal_token(lookup("INTERNAL_TOKEN").as_deref())?,
            nats_servers,
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
        assert_eq!(config.booking_urls, vec!["http://127.0.0.1:8080"]);
        assert_eq!(
            shared::settings::describe_nats_servers(&config.nats_servers),
            "nats://127.0.0.1:4222"
        );
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

    #[test]
    fn booking_and_nats_take_comma_lists() {
        let lists = |n: &str| match n {
            "TOKEN_SECRET" => Some("a-test-secret-0123456789".into()),
            "BOOKING_URL" => Some("http://10.0.0.1:8080/, http://10.0.0.2:8080".into()),
            "NATS_URL" => Some("nats://10.0.0.1:4222,nats://10.0.0.2:4222".into()),
            _ => None,
        };
        let config = Config::from_lookup(lists).unwrap();
        assert_eq!(
            config.booking_urls,
            vec!["http://10.0.0.1:8080", "http://10.0.0.2:8080"]
        );
        assert_eq!(config.nats_servers.len(), 2);
        let bad = |n: &str| {
            (n == "NATS_URL")
                .then(|| "nats://ok:4222,not a url".into())
                .or_else(|| lists(n))
        };
        assert!(Config::from_lookup(bad).unwrap_err().contains("NATS_URL"));
    }
}
