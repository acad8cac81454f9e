//! Watching every seat event on NATS, as `nats sub 'seats.>'` would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use shared::SeatEvent;

/// Every event published on `seats.>` since it was created, in arrival order.
#[derive(Clone)]
pub struct EventLog {
    events: Arc<Mutex<Vec<SeatEvent>>>,
    /// The payloads as received, byte for byte, in the same order.
    payloads: Arc<Mutex<Vec<String>>>,
    /// When each arrived (unix ms), in the same order.
    arrived_ms: Arc<Mutex<Vec<u64>>>,
}

impl EventLog {
    /// Subscribes and waits until the subscription is registered with the server.
    pub async fn subscribe(nats_url: &str) -> EventLog {
        Self::try_subscribe(nats_url)
            .await
            .expect("subscribe to NATS")
    }

    /// `subscribe`, saying why it could not. `nats_url` may name several servers of one
    /// cluster, comma-separated (async-nats does not split a string itself).
    pub async fn try_subscribe(nats_url: &str) -> Result<EventLog, async_nats::Error> {
        let servers = nats_url
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<async_nats::ServerAddr>, _>>()?;
        // Reconnects within ~100 ms of a restarted server, well inside the relay's settle time.
        let client = async_nats::ConnectOptions::new()
            .max_reconnects(None)
            .reconnect_delay_callback(|_| Duration::from_millis(50))
            .connect(servers)
            .await?;
        let subscriber = client.subscribe(shared::event::SUBJECT_ALL).await?;
        client.flush().await?;
        let log = EventLog {
            events: Arc::default(),
            payloads: Arc::default(),
            arrived_ms: Arc::default(),
        };
        tokio::spawn(log.clone().record(client, subscriber));
        Ok(log)
    }

    async fn record(self, client: async_nats::Client, mut subscriber: async_nats::Subscriber) {
        let _client = client; // keep the connection open
        while let Some(message) = subscriber.next().await {
            let event: SeatEvent = serde_json::from_slice(&message.payload).unwrap_or_else(|e| {
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
            // One lock order (events, payloads, times) so readers see them of equal length.
            let mut events = self.events.lock().unwrap();
            let mut payloads = self.payloads.lock().unwrap();
            events.push(event);
            payloads.push(String::from_utf8_lossy(&message.payload).into_owned());
            self.arrived_ms.lock().unwrap().push(shared::now_ms());
        }
    }

    /// (venue, seq, arrival unix ms) of every event, in arrival order.
    pub fn arrivals(&self) -> Vec<(String, u64, u64)> {
        let events = self.events.lock().unwrap();
        let arrived = self.arrived_ms.lock().unwrap();
        let arrivals = events.iter().zip(arrived.iter());
        arrivals
            .map(|(e, at)| (e.venue.clone(), e.seq, *at))
            .collect()
    }

    /// The payloads as received, byte for byte, in arrival order.
    pub fn payloads(&self) -> Vec<String> {
        self.payloads.lock().unwrap().clone()
    }

    /// Asserts every seq of every venue from 1 to the highest arrived, and that a seq that
    /// arrived more than once (a relay died between publishing and recording) carried the
    /// same payload each time. Returns how many repeats there were.
    pub fn assert_complete_allowing_identical_repeats(&self) -> usize {
        use std::collections::BTreeMap;
        let events = self.all();
        let payloads = self.payloads();
        let mut by_venue: BTreeMap<(String, u64), String> = BTreeMap::new();
        let mut repeats = 0;
        for (event, payload) in events.iter().zip(&payloads) {
            let key = (event.venue.clone(), event.seq);
            if let Some(earlier) = by_venue.get(&key) {
                assert_eq!(
                    earlier, payload,
                    "a repeat of seq {} carries the same payload",
                    event.seq
                );
                repeats += 1;
            } else {
                by_venue.insert(key, payload.clone());
            }
        }
        let mut venues: Vec<&String> = by_venue.keys().map(|(v, _)| v).collect();
        venues.dedup();
        for venue in venues {
            let seqs: Vec<u64> = by_venue
                .keys()
                .filter(|(v, _)| v == venue)
                .map(|(_, s)| *s)
                .collect();
            let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
            assert_eq!(
                seqs, expected,
                "venue {venue}: every seq from 1 on, none missing"
            );
        }
        repeats
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
