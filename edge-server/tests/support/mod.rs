//! The whole back end for edge tests: real redis-server and nats-server processes, the booking
//! service (in process, on a real socket), two real edge-server processes, and a raw client
//! (`raw`) that writes frames by hand. The WebSocket viewers that check every seq they receive
//! are testkit's.

#![allow(dead_code)]

mod link;
pub mod raw;
mod stall;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use testkit::{Api, NatsServer, RedisServer, ServiceProcess};

pub use link::Link;
#[allow(unused_imports)]
pub use stall::Stall;
#[allow(unused_imports)] // each test binary uses its own part
pub use testkit::{standings_of, View, Viewer, ViewerStanding};

pub const EDGE_BINARY: &str = env!("CARGO_BIN_EXE_edge-server");

/// The booking service's `/internal/` routes require it of the edges in every test backend.
pub const INTERNAL_TOKEN: &str = "internal-test-token-0123456789";

pub struct Backend {
    pub redis: RedisServer,
    /// The NATS the booking service publishes to (and the edges subscribe to, unless linked).
    pub nats: NatsServer,
    /// With `start_linked`: the edges' own NATS, fed through `link`.
    pub edge_nats: Option<NatsServer>,
    pub link: Option<Arc<Link>>,
    pub booking_url: String,
    pub api: Api,
    pub edges: Vec<ServiceProcess>,
    stop_booking: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Backend {
    /// Redis, NATS, the booking service and `edges` edge servers, all healthy.
    pub async fn start(edges: usize, edge_env: &[(&str, &str)]) -> Backend {
        Self::start_with(edges, edge_env, &[]).await
    }

    pub async fn start_with(
        edges: usize,
        edge_env: &[(&str, &str)],
        booking_env: &[(&str, &str)],
    ) -> Backend {
        Self::start_full(edges, edge_env, booking_env, false, &[]).await
    }

    /// As `start_with`, on a Redis that does not fsync every write: for tests that make
    /// thousands of changes one after another and check no durability.
    pub async fn start_without_fsync(edges: usize, booking_env: &[(&str, &str)]) -> Backend {
        Self::start_full(edges, &[], booking_env, false, &["--appendfsync", "no"]).await
    }

    /// As `start`, but the edges hear NATS only through a `Link` the test controls.
    pub async fn start_linked(edges: usize) -> Backend {
        Self::start_full(edges, &[], &[], true, &[]).await
    }

    /// `start_linked` with settings for the booking service.
    pub async fn start_linked_with(edges: usize, booking_env: &[(&str, &str)]) -> Backend {
        Self::start_full(edges, &[], booking_env, true, &[]).await
    }

    async fn start_full(
        edges: usize,
        edge_env: &[(&str, &str)],
        booking_env: &[(&str, &str)],
        linked: bool,
        redis_args: &[&str],
    ) -> Backend {
        let redis = RedisServer::start_with(redis_args);
        let nats = NatsServer::start();
        let mut vars: HashMap<String, String> = HashMap::from([
            ("REDIS_URL".into(), redis.url()),
            ("NATS_URL".into(), nats.url()),
            ("ADMIN_TOKEN".into(), "admin-secret".into()),
            ("TOKEN_SECRET".into(), testkit::token_secret().into()),
            ("INTERNAL_TOKEN".into(), INTERNAL_TOKEN.into()),
            // The tests drive many commands from few tokens through the HTTP API too.
            ("USER_RATE_LIMIT".into(), "1000".into()),
        ]);
        vars.extend(
            booking_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let config = booking_service::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let booking_url = format!("http://{}", listener.local_addr().unwrap());
        let (stop_booking, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(booking_service::run(listener, config, async move {
            let _ = stopped.await;
        }));
        let api = Api::new(booking_url.clone());
        api.wait_healthy(HEALTHY_WITHIN).await;

        let (edge_nats, link) = if linked {
            let edge_nats = NatsServer::start();
            let link = Link::start(&nats.url(), &edge_nats.url()).await;
            (Some(edge_nats), Some(link))
        } else {
            (None, None)
        };
        let mut backend = Backend {
            redis,
            nats,
            edge_nats,
            link,
            booking_url,
            api,
            edges: Vec::new(),
            stop_booking: Some(stop_booking),
        };
        for _ in 0..edges {
            let edge = backend.start_edge(edge_env).await;
            backend.edges.push(edge);
        }
        backend
    }

    /// One more edge server on this back end, with extra environment; healthy.
    pub async fn start_edge(&self, edge_env: &[(&str, &str)]) -> ServiceProcess {
        let nats_url = self.edge_nats.as_ref().unwrap_or(&self.nats).url();
        let mut env = vec![
            ("BOOKING_URL", self.booking_url.clone()),
            ("NATS_URL", nats_url),
            ("INTERNAL_TOKEN", INTERNAL_TOKEN.to_owned()),
        ];
        env.extend(edge_env.iter().map(|(k, v)| (*k, v.to_string())));
        let edge = ServiceProcess::start(EDGE_BINARY, &env).await;
        Api::new(edge.base_url()).wait_healthy(HEALTHY_WITHIN).await;
        edge
    }

    pub fn link(&self) -> &Link {
        self.link.as_deref().expect("started with start_linked")
    }

    pub fn ws_url(&self, edge: usize) -> String {
        format!("ws://127.0.0.1:{}/ws", self.edges[edge].port)
    }

    /// The booking service's own view of the venue: seat id -> (status, held_by).
    pub async fn truth(&self) -> (u64, testkit::Seats) {
        let (_, seq, seats) = self.truth_with_epoch().await;
        (seq, seats)
    }

    /// The venue's epoch, seq and seats, from `GET /api/venues/main`.
    pub async fn truth_with_epoch(&self) -> Truth {
        let answer = self.api.get("/api/venues/main").await;
        truth_of(&answer).unwrap_or_else(|| panic!("no snapshot: {answer:?}"))
    }

    /// `truth_with_epoch`, or `None` while the booking service refuses (Redis coming back).
    pub async fn try_truth_with_epoch(&self) -> Option<Truth> {
        truth_of(&self.api.get("/api/venues/main").await)
    }

    pub async fn reset(&self) {
        self.api.admin_reset("", "admin-secret").await;
    }

    pub async fn edge_metric(&self, edge: usize, name: &str) -> f64 {
        metric(&self.edges[edge].base_url(), name).await
    }

    /// A metric of the booking service (summed over its labels).
    pub async fn booking_metric(&self, name: &str) -> f64 {
        metric(&self.booking_url, name).await
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_booking.take() {
            let _ = stop.send(());
        }
    }
}

/// The sum of every sample of metric `name` in `base`'s `/metrics`.
pub async fn metric(base: &str, name: &str) -> f64 {
    try_metric(base, name).await.expect("metrics answer")
}

/// `metric`, or `None` when `/metrics` does not answer.
pub async fn try_metric(base: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let sum = text
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    Some(sum)
}

/// How long a service may take to answer `/health` after it starts.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(10);

pub use testkit::seats_of;

/// Waits until every client's view (epoch, seq, seats) equals the booking service's, and checks
/// none saw a seq twice, out of order, or with a gap.
/// A snapshot's epoch, seq and seats.
pub type Truth = (u64, u64, testkit::Seats);

/// The epoch, seq and seats of a snapshot answer; `None` for a refusal.
fn truth_of(answer: &testkit::http::Answer) -> Option<Truth> {
    if answer.status != 200 {
        return None;
    }
    let body = &answer.body;
    Some((
        body["epoch"].as_u64()?,
        body["seq"].as_u64()?,
        seats_of(&body["seats"]),
    ))
}

pub async fn assert_all_converge(backend: &Backend, clients: &[Viewer], timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let Some((epoch, seq, truth)) = backend.try_truth_with_epoch().await else {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the booking service gave no snapshot within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let behind: Vec<usize> = clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.epoch() != Some(epoch) || c.seq() != Some(seq) || c.seats() != truth)
            .map(|(i, _)| i)
            .collect();
        if behind.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "clients {behind:?} never matched the truth at seq {seq} (first is at {:?})",
            clients[behind[0]].seq()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (i, client) in clients.iter().enumerate() {
        assert_eq!(client.violations(), Vec::<String>::new(), "client {i}");
    }
}
