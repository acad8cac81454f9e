//! Publishing seat events to NATS, on `seats.{venue}.{kind}`.

use std::time::Duration;

use shared::SeatEvent;

use crate::metrics::Metrics;

/// Hands every seat event to NATS. Owns the service's NATS connection.
#[derive(Clone)]
pub struct EventPublisher {
    client: async_nats::Client,
    metrics: Metrics,
}

impl EventPublisher {
    /// Connects in the background (the service starts even when NATS is down) and reconnects
    /// by itself, retrying quickly so a restarted NATS is back in use within a second or two.
    pub async fn connect(url: &str, metrics: Metrics) -> anyhow::Result<EventPublisher> {
        let client = async_nats::ConnectOptions::new()
            .name("booking-service")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .max_reconnects(None)
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis((100u64 << attempt.min(4)).min(1_000))
            })
            .connect(url)
            .await?;
        Ok(EventPublisher { client, metrics })
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Publishes one event. A failure is logged and counted, never returned: the change is
    /// already committed in Redis, and edges heal a missing seq from a snapshot.
    pub async fn publish(&self, event: &SeatEvent) {
        let payload = match serde_json::to_vec(event) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "could not serialise a seat event");
                return;
            }
        };
        let subject = event.subject();
        // The client buffers while reconnecting; bound the wait so a long outage cannot hang us.
        let sent = tokio::time::timeout(
            Duration::from_secs(1),
            self.client.publish(subject.clone(), payload.into()),
        )
        .await;
        match sent {
            Ok(Ok(())) => {
                tracing::debug!(%subject, seq = event.seq, seat = %event.seat_id, "published")
            }
            Ok(Err(error)) => self.failed(&subject, event.seq, &error.to_string()),
            Err(_) => self.failed(&subject, event.seq, "timed out"),
        }
    }

    fn failed(&self, subject: &str, seq: u64, why: &str) {
        self.metrics.count_publish_failure();
        tracing::warn!(%subject, seq, why, "publishing a seat event failed");
    }

    /// Sends whatever is buffered before shutdown.
    pub async fn flush(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
    }
}
