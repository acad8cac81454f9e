//! The edge's NATS connection and what it tells the venue hubs about it: `NatsLink`, up or down,
//! from async-nats's connection events. A hub that hears NATS is down tells its clients they
//! may be behind (`STATUS`); once NATS is back it catches up from the booking service, since
//! events published meanwhile may never arrive.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::{Config, Edge};

/// Whether this edge hears NATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatsLink {
    /// Not connected yet, and no attempt has failed.
    Starting,
    /// The `connection`-th connection (1 for the first) is up. A hub that sees a higher number
    /// than it knew has missed whatever was published in between, even if it never saw `Down`
    /// (a watch shows only the latest value).
    Up { connection: u64 },
    /// Lost (or never made): events may be missed until it is back.
    Down,
}

/// Connects to NATS (retrying until it answers, reconnecting for ever); the receiver gets the
/// connection's events (what `follow_connection` turns into `NatsLink`).
pub async fn connect(
    config: &Config,
) -> anyhow::Result<(
    async_nats::Client,
    mpsc::UnboundedReceiver<async_nats::Event>,
)> {
    let (nats_events, events) = mpsc::unbounded_channel::<async_nats::Event>();
    // Credentials in NATS_URL become the connection's; the addresses carry none.
    let (options, servers) = shared::settings::nats_connect_options(&config.nats_servers);
    let nats = options
        .name(&config.edge_id)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        // The third ping due while two are unanswered ends the connection: a silently dead NATS
        // is noticed within 3 intervals (3.75 s), then reconnects and every venue catches up.
        .ping_interval(config.nats_ping_interval)
        .max_reconnects(None)
        .reconnect_delay_callback(|attempt| {
            Duration::from_millis((100u64 << attempt.min(4)).min(1_000))
        })
        .event_callback(move |event| {
            let nats_events = nats_events.clone();
            async move {
                let _ = nats_events.send(event);
            }
        })
        .connect(servers)
        .await?;
    Ok((nats, events))
}

/// Turns the connection's events into `link` (which every venue hub watches): down when the
/// connection is lost, or when the first one cannot be made; up when it is (back).
pub async fn follow_connection(
    mut events: mpsc::UnboundedReceiver<async_nats::Event>,
    link: watch::Sender<NatsLink>,
    edge: Arc<Edge>,
) {
    let mut connections = 0;
    while let Some(event) = events.recv().await {
        match event {
            async_nats::Event::Connected => {
                connections += 1;
                if connections > 1 {
                    edge.metrics.nats_reconnects.inc();
                    tracing::info!("NATS reconnected; every venue catches up");
                }
                link.send_replace(NatsLink::Up {
                    connection: connections,
                });
            }
            async_nats::Event::Disconnected => {
                tracing::warn!("NATS disconnected; reconnecting");
                link.send_replace(NatsLink::Down);
            }
            async_nats::Event::ClientError(error) if *link.borrow() == NatsLink::Starting => {
                tracing::warn!(%error, "cannot reach NATS yet; retrying");
                link.send_replace(NatsLink::Down);
            }
            other => tracing::info!(event = %other, "NATS event"),
        }
    }
}
