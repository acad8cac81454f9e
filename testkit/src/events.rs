//! Watching every seat event on NATS, as `nats sub 'seats.>'` would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use shared::SeatEvent;

/// Every event published on `seats.>` since it was created, in arrival order.
#[derive(Clone)]
pub struct EventLog {
    events: Arc<Mutex<Vec<SeatEvent>>>,
}

impl EventLog {
    /// Subscribes and waits until the subscription is registered with the server.
    pub async fn subscribe(nats_url: &str) -> EventLog {
        // Reconnects within ~100 ms of a restarted server, well inside the relay's settle time.
        let client = async_nats::ConnectOptions::new()
            .max_reconnects(None)
            .reconnect_delay_callback(|_| Duration::from_millis(50))
            .connect(nats_url)
            .await
            .expect("connect to NATS");
        let mut subscriber = client
            .subscribe(shared::event::SUBJECT_ALL)
            .await
            .expect("subscribe");
        client.flush().await.expect("flush");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        tokio::spawn(async move {
            let _client = client; // keep the connection open
            while let Some(message) = subscriber.next().await {
                let event: SeatEvent =
                    serde_json::from_slice(&message.payload).unwrap_or_else(|e| {
                        panic!(
                            "unparsable event on {}: {e}: {}",
                            message.subject,
                            String::from_utf8_lossy(&message.payload)
                        )
                    });
                assert_eq!(
                    message.subject.as_str(),
                    event.subject(),
                    "subject matches payload"
                );
                sink.lock().unwrap().push(event);
            }
        });
        EventLog { events }
    }

    pub fn all(&self) -> Vec<SeatEvent> {
        self.events.lock().unwrap().clone()
    }

    pub fn matching(&self, pred: impl Fn(&SeatEvent) -> bool) -> Vec<SeatEvent> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| pred(e))
            .cloned()
            .collect()
    }

    /// Waits until an event matching `pred` has arrived and returns it.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&SeatEvent) -> bool,
    ) -> Option<SeatEvent> {
        let mut found = None;
        crate::eventually(timeout, || {
            found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|e| pred(e))
                .cloned();
            found.is_some()
        })
        .await;
        found
    }

    /// Waits until `count` events have arrived.
    pub async fn wait_for_count(&self, count: usize, timeout: Duration) -> bool {
        crate::eventually(timeout, || self.events.lock().unwrap().len() >= count).await
    }

    /// Asserts the seqs seen per venue are exactly 1, 2, 3, … with no gap and no repeat
    /// (sorted first: NATS may deliver concurrent publishers out of order).
    pub fn assert_contiguous_from_one(&self) {
        let events = self.all();
        let mut venues: Vec<&str> = events.iter().map(|e| e.venue.as_str()).collect();
        venues.sort();
        venues.dedup();
        for venue in venues {
            let mut seqs: Vec<u64> = events
                .iter()
                .filter(|e| e.venue == venue)
                .map(|e| e.seq)
                .collect();
            seqs.sort_unstable();
            let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
            assert_eq!(
                seqs, expected,
                "seqs of venue {venue} are 1..n with no gap or repeat"
            );
        }
    }
}
