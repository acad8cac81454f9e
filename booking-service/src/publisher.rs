//! The service's NATS connection: what the relay publishes the outbox with.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Owns the service's NATS connection.
#[derive(Clone)]
pub struct EventPublisher {
    client: async_nats::Client,
    /// When the connection last came back after being lost (unix ms; 0 = never lost).
    reconnected_at_ms: Arc<AtomicU64>,
}

/// After NATS comes back, subscribers (edges, `nats sub` watchers) need a moment to reconnect
/// and resubscribe before the events that waited in the outbox are published: core NATS keeps
/// nothing for a subscriber that is not there yet.
pub const RECONNECT_SETTLE: Duration = Duration::from_millis(750);

/// How often NATS is pinged; a connection that died silently is noticed within two of these.
const PING_INTERVAL: Duration = Duration::from_secs(2);

impl EventPublisher {
    /// Connects in the background (the service starts even when NATS is down) and reconnects
    /// by itself, retrying quickly so a restarted NATS is back in use within a second or two.
    /// `servers`: one server, or the servers of one NATS cluster (`NATS_URL`).
    pub async fn connect(servers: Vec<async_nats::ServerAddr>) -> anyhow::Result<EventPublisher> {
        let reconnected_at_ms = Arc::new(AtomicU64::new(0));
        let was_lost = Arc::new(AtomicBool::new(false));
        let (reconnected, lost) = (reconnected_at_ms.clone(), was_lost.clone());
        // Credentials in NATS_URL become the connection's; the addresses carry none.
        let (options, servers) = shared::settings::nats_connect_options(&servers);
        let client = options
            .event_callback(move |event| {
                let (reconnected, lost) = (reconnected.clone(), lost.clone());
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            lost.store(true, Ordering::Relaxed);
                            tracing::warn!("NATS connection lost; changes wait in the outbox");
                        }
                        async_nats::Event::Connected if lost.load(Ordering::Relaxed) => {
                            reconnected.store(shared::now_ms(), Ordering::Relaxed);
                            tracing::info!(
                                "NATS is back; the relay publishes what waited in the outbox"
                            );
                        }
                        _ => {}
                    }
                }
            })
            .name("booking-service")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .ping_interval(PING_INTERVAL)
            .max_reconnects(None)
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis((100u64 << attempt.min(4)).min(1_000))
            })
            .connect(servers)
            .await?;
        Ok(EventPublisher {
            client,
            reconnected_at_ms,
        })
    }

    /// When the connection last came back after being lost (unix ms; 0: never lost).
    pub fn reconnected_at_ms(&self) -> u64 {
        self.reconnected_at_ms.load(Ordering::Relaxed)
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Connected, and (after an outage) connected for long enough that subscribers are back.
    pub fn is_settled(&self) -> bool {
        let since = shared::now_ms().saturating_sub(self.reconnected_at_ms.load(Ordering::Relaxed));
        self.is_connected() && since >= RECONNECT_SETTLE.as_millis() as u64
    }

    /// Hands one payload to the client (not yet confirmed: see `flush_within`).
    pub async fn publish_raw(
        &self,
        subject: String,
        payload: String,
    ) -> Result<(), async_nats::PublishError> {
        self.client.publish(subject, payload.into()).await
    }

    /// Waits until the server has everything published so far; false on failure or timeout.
    pub async fn flush_within(&self, timeout: Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.client.flush()).await,
            Ok(Ok(()))
        )
    }
}
