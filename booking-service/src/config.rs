//! Configuration from environment variables (names and defaults are part of the contract).

use std::time::Duration;

use shared::{TokenSigner, VenueEntry};

use crate::venues::{self, VenueDefinition};

/// Everything the booking service is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub redis_url: String,
    /// Redis connections (per cluster node), `REDIS_POOL`.
    pub redis_pool: usize,
    /// Replicas that must confirm a change before it is answered OK (`REDIS_WAIT_REPLICAS`).
    pub redis_wait_replicas: u32,
    /// How long to wait for them (`REDIS_WAIT_TIMEOUT_MS`).
    pub redis_wait_timeout: Duration,
    /// The NATS servers (`NATS_URL`, a comma list: the servers of one NATS cluster).
    pub nats_servers: Vec<async_nats::ServerAddr>,
    pub hold_seconds: u64,
    pub max_holds_per_user: u32,
    pub venues: Vec<VenueDefinition>,
    pub admin_token: Option<String>,
    /// Required of callers of the `/internal/` routes (the edges) when set.
    pub internal_token: Option<String>,
    /// Issues and verifies client tokens (`TOKEN_SECRET`, required).
    pub token_signer: TokenSigner,
    /// Commands a user may send per second (the burst is the same size).
    pub user_rate_limit: u32,
    /// How often the expiry index is checked for holds that ran out.
    pub expiry_interval: Duration,
    /// Identities per venue that may shop at once; 0 turns the waiting room off.
    pub max_shoppers: u32,
    /// How long an admitted identity may shop (`SHOPPING_SECONDS`).
    pub shopping: Duration,
    /// Events kept per venue in the outbox, for the history endpoint (`EVENT_HISTORY`).
    pub event_history: u64,
    /// This service's name in relay leases and logs (`SERVICE_ID`, default `booking-$PORT`
    /// plus the process id).
    pub service_id: String,
}

/// `--help` text: every variable, its default and meaning.
pub const HELP: &str = "\
booking-service: owns all seat state (Redis) and publishes every change (NATS)

USAGE: booking-service [--help] [--version]

Configured by environment variables:
  PORT=8080                         HTTP port
  HOST=127.0.0.1                    address to bind (0.0.0.0 in containers)
  REDIS_URL=redis://127.0.0.1:6379  Redis holding locks, bookings and seq numbers;
                                    redis-cluster://host:port,host:port,... for Redis Cluster;
                                    rediss://USER:PASS@... (and rediss-cluster://): TLS and an
                                    ACL user (trusting SSL_CERT_FILE or the system's roots)
  REDIS_POOL=4                      Redis connections (per cluster node)
  REDIS_WAIT_REPLICAS=0             replicas that must confirm a change (WAIT) before it is OK
  REDIS_WAIT_TIMEOUT_MS=1000        how long to wait for them (then 503, change kept)
  NATS_URL=nats://127.0.0.1:4222    NATS the changes are published to (seats.{venue}.{kind});
                                    a comma list of the servers of a NATS cluster;
                                    tls://USER:PASS@host:port: TLS and a NATS user
  HOLD_SECONDS=30                   how long a selected seat stays held
  MAX_HOLDS_PER_USER=4              holds one user may have at once
  VENUES=main:10x10                 comma list of name:ROWSxCOLS (a grid) or name:@PATH (a chart
                                    file, JSON; relative to the working directory)
  TOKEN_SECRET                      required: the secret every service signs and checks tokens with
  ADMIN_TOKEN                       enables POST /api/admin/reset with 'Authorization: Bearer …'
  INTERNAL_TOKEN                    when set (16+ characters), the /internal/ routes (the edges'
                                    waiting-room reports) require 'Authorization: Bearer …' with
                                    it; every edge is given the same
  MAX_SHOPPERS=0                    identities per venue that may hold and book at once; the rest
                                    wait in a first-come queue (0: no waiting room)
  SHOPPING_SECONDS=300              how long an admitted identity may shop
  SINGLE_SEAT_RULE=0                1: no select may leave one free seat alone in a grid's row
                                    (charts turn it on with their single_seat_rule)
  EVENT_HISTORY=10000               events kept per venue for GET /api/venues/{venue}/events
  SERVICE_ID=booking-$PORT-$PID     this service's name in relay leases and logs
  USER_RATE_LIMIT=20                seat commands per second per user (burst of the same size)
  RUST_LOG=info                     log filter (tracing EnvFilter syntax)

Routes: GET /health, GET /metrics, GET /api/seats[?venue=], GET /api/venues/{venue},
        GET /api/venues/{venue}/chart,
        GET /api/venues/{venue}/events?after=N[&limit=K], POST /api/session,
        POST /api/seats/{select,book,release}, POST /api/admin/reset[?venue=],
        POST /api/queue/join, POST /internal/queue/{venue}/presence (edges only),
        GET /api/openapi.json (this API as OpenAPI 3.1)
";

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests can supply their own variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let get = |name: &str, default: &str| lookup(name).unwrap_or_else(|| default.to_owned());
        let number = |name: &str, default: &str| -> Result<u64, String> {
            let raw = get(name, default);
            raw.trim()
                .parse()
                .map_err(|_| format!("{name}={raw} is not a whole number"))
        };
        let hold_seconds = number("HOLD_SECONDS", "30")?;
        if hold_seconds == 0 {
            return Err("HOLD_SECONDS must be at least 1".into());
        }
        let max_holds_per_user = u32::try_from(number("MAX_HOLDS_PER_USER", "4")?)
            .map_err(|_| "MAX_HOLDS_PER_USER is too large".to_string())?;
        let user_rate_limit = u32::try_from(number("USER_RATE_LIMIT", "20")?)
            .ok()
            .filter(|n| *n > 0)
            .ok_or("USER_RATE_LIMIT must be between 1 and 2^32")?;
        let token_signer = TokenSigner::from_setting(lookup("TOKEN_SECRET").as_deref())?;
        let event_history = number("EVENT_HISTORY", "10000")?;
        let max_shoppers =
            u32::try_from(number("MAX_SHOPPERS", "0")?).map_err(|_| "MAX_SHOPPERS is too large")?;
        let shopping_seconds = number("SHOPPING_SECONDS", "300")?;
        if shopping_seconds == 0 {
            return Err("SHOPPING_SECONDS must be at least 1".into());
        }
        if event_history < 10 {
            return Err("EVENT_HISTORY must be at least 10".into());
        }
        let port = u16::try_from(number("PORT", "8080")?).map_err(|_| "PORT is too large")?;
        let redis_pool = usize::try_from(number("REDIS_POOL", "4")?)
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or("REDIS_POOL must be between 1 and 64")?;
        let redis_wait_replicas = u32::try_from(number("REDIS_WAIT_REPLICAS", "0")?)
            .map_err(|_| "REDIS_WAIT_REPLICAS is too large")?;
        let redis_wait_timeout = Duration::from_millis(number("REDIS_WAIT_TIMEOUT_MS", "1000")?);
        Ok(Config {
            token_signer,
            host: get("HOST", "127.0.0.1"),
            port,
            event_history,
            max_shoppers,
            shopping: Duration::from_secs(shopping_seconds),
            service_id: lookup("SERVICE_ID")
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("booking-{port}-{}", std::process::id())),
            redis_url: get("REDIS_URL", "redis://127.0.0.1:6379"),
            redis_pool,
            redis_wait_replicas,
            redis_wait_timeout,
            nats_servers: shared::settings::parse_nats_servers(&get(
                "NATS_URL",
                "nats://127.0.0.1:4222",
            ))?,
            hold_seconds,
            max_holds_per_user,
            venues: VenueEntry::parse_list(&get("VENUES", "main:10x10"))
                .and_then(|entries| venues::load(&entries))
                .map(|venues| match get("SINGLE_SEAT_RULE", "0").trim() {
                    "1" => venues::with_grid_single_seat_rule(venues),
                    _ => venues,
                })
                .map_err(|e| format!("VENUES: {e}"))?,
            admin_token: lookup("ADMIN_TOKEN").filter(|t| !t.is_empty()),
            internal_token: shared::settings::internal_token(lookup("INTERNAL_TOKEN").as_deref())?,
            user_rate_limit,
            expiry_interval: Duration::from_millis(100),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_secret(name: &str) -> Option<String> {
        (name == "TOKEN_SECRET").then(|| "a-test-secret-0123456789".into())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = Config::from_lookup(with_secret).unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.hold_seconds, 30);
        assert_eq!(config.max_holds_per_user, 4);
        assert_eq!(config.venues[0].name, "main");
        assert_eq!(config.venues[0].seats.len(), 100);
        assert!(config.admin_token.is_none());
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::from_lookup(|n| {
            (n == "HOLD_SECONDS")
                .then(|| "soon".into())
                .or_else(|| with_secret(n))
        })
        .unwrap_err();
        assert!(err.contains("HOLD_SECONDS"), "{err}");
        let err = Config::from_lookup(|n| {
            (n == "VENUES")
                .then(|| "x".into())
                .or_else(|| with_secret(n))
        })
        .unwrap_err();
        assert!(err.contains("VENUES"), "{err}");
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert!(err.contains("TOKEN_SECRET is not set"), "{err}");
    }
}
