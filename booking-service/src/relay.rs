//! The relay: publishes each venue's outbox (`events:{venue}`) to NATS in seq order.
//!
//! Seat scripts append every change's event to the outbox in the same atomic step as the change,
//! so a change that committed is never lost, whatever dies next. One relay per venue is active at
//! a time, across every booking service: it holds a short lease in Redis (`relay:{venue}`) and
//! renews it on every round; when it dies, another service's relay takes the lease over once it
//! lapses. Each round it reads the outbox past `published:{venue}` (the last seq NATS took),
//! publishes those events, flushes, and only then moves `published:{venue}` on. So delivery is at
//! least once: an event is repeated only when a relay dies (or loses NATS) between publishing and
//! recording, and a repeat carries the same seq and the same payload bytes. With
//! `REDIS_WAIT_REPLICAS` set, a batch is published only once that many replicas have it: a
//! change a master cut off from its replicas took would otherwise reach NATS, and the replica
//! that takes over gives its seq to another change.
//!
//! A NATS server that dies can take with it events it had confirmed but not yet delivered to
//! every subscriber (or routed to the other nodes of a cluster). So after NATS comes back, the
//! relay publishes again everything it published in the `REPLAY_WINDOW` before: subscribers
//! drop the seqs they already have and get the ones that were lost in the crash.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::*;
use tokio::sync::watch;

use crate::seats::{SeatService, Venue};
use crate::store::Lease;

/// How long a relay's lease lasts without renewal. Another relay takes over within this (plus
/// one retry interval) after the holder dies.
pub const LEASE: Duration = Duration::from_millis(1_500);
/// How often a relay without the lease tries to take it.
const LEASE_RETRY: Duration = Duration::from_millis(250);
/// How long one outbox read waits for new events; well inside the lease.
const READ_BLOCK: Duration = Duration::from_millis(300);
/// Events published per round.
const BATCH: u64 = 512;
/// How long NATS may take to confirm a batch.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// After a NATS reconnect, what was published this long before is published again. Longer
/// than the time a dead connection takes to notice (two 2 s pings) plus a margin.
const REPLAY_WINDOW: Duration = Duration::from_secs(8);

/// What one venue's relay remembers between rounds.
#[derive(Default)]
struct RelayState {
    leading: bool,
    /// The first seq of each batch published, and when: what a reconnect replays.
    recent: std::collections::VecDeque<(u64, Instant)>,
    /// The NATS reconnect already handled (`EventPublisher::reconnected_at_ms`).
    reconnect_handled: u64,
    /// Publish from here again (exclusive) in the next round.
    replay_after: Option<u64>,
}

impl RelayState {
    /// Remembers a batch published now (what a reconnect replays), forgetting those older
    /// than `REPLAY_WINDOW`.
    fn remember_batch(&mut self, first: u64) {
        self.recent.push_back((first, Instant::now()));
        while self
            .recent
            .front()
            .is_some_and(|(_, at)| at.elapsed() > REPLAY_WINDOW)
        {
            self.recent.pop_front();
        }
    }
}

/// Runs one relay per venue until `shutdown` flips to true.
pub async fn run_relays(
    service: Arc<SeatService>,
    relay_id: String,
    shutdown: watch::Receiver<bool>,
) {
    let tasks: Vec<_> = service
        .venue_names()
        .map(|name| {
            tokio::spawn(relay_venue(
                service.clone(),
                name.to_owned(),
                relay_id.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// One outbox event, as read from the stream.
struct OutboxEvent {
    seq: u64,
    kind: String,
    payload: String,
}

async fn relay_venue(
    service: Arc<SeatService>,
    venue_name: String,
    relay_id: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let Ok(venue) = service.venue(Some(&venue_name)) else {
        return;
    };
    // Blocking reads get a connection of their own so they never stall seat commands.
    let reader = service.store.blocking_client();
    reader.connect();
    let mut state = RelayState {
        reconnect_handled: service.publisher.reconnected_at_ms(),
        ..RelayState::default()
    };
    loop {
        if *shutdown.borrow() {
            break;
        }
        let round = relay_round(&service, venue, &reader, &relay_id, &mut state).await;
        if let Err(pause) = round {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
    if state.leading {
        service.store.relay_release(&venue.keys, &relay_id).await;
    }
    let _ = reader.quit().await;
    tracing::debug!(venue = %venue_name, "relay stopped");
}

/// One round: renew the lease, read what NATS has not taken yet, publish it, record it.
/// `Err(pause)` asks the caller to wait before the next round.
async fn relay_round(
    service: &SeatService,
    venue: &Venue,
    reader: &Client,
    relay_id: &str,
    state: &mut RelayState,
) -> Result<(), Duration> {
    let (published, epoch) = renew_lease(service, venue, relay_id, state).await?;
    if !service.publisher.is_settled() {
        // Events wait in the outbox; keep the lease so no other relay jumps in meanwhile.
        return Err(Duration::from_millis(100));
    }
    replay_after_reconnect(service, venue, state, published);
    let read_after = state.replay_after.take().unwrap_or(published);
    let events = read_outbox(reader, &venue.keys.events, read_after)
        .await
        .map_err(|error| {
            tracing::warn!(venue = %venue.name, %error, "reading the outbox failed");
            LEASE_RETRY
        })?;
    let (Some(first), Some(last)) = (events.first().map(|e| e.seq), events.last().map(|e| e.seq))
    else {
        return Ok(());
    };
    count_trimmed(service, venue, read_after, first);
    confirm_replicated(service, venue, relay_id, last).await?;
    publish(service, venue, &events).await?;
    state.remember_batch(first);
    record(
        service,
        venue,
        relay_id,
        state,
        (first, last),
        published,
        epoch,
    )
    .await
}

/// Takes or renews the venue's lease: `(published, epoch)` while this relay holds it.
async fn renew_lease(
    service: &SeatService,
    venue: &Venue,
    relay_id: &str,
    state: &mut RelayState,
) -> Result<(u64, u64), Duration> {
    let name = &venue.name;
    let lease = service
        .store
        .relay_lease(&venue.keys, relay_id, LEASE)
        .await
        .map_err(|_| LEASE_RETRY)?;
    match lease {
        Lease::Held { published, epoch } => {
            if !state.leading {
                tracing::info!(venue = %name, relay = relay_id, from_seq = published + 1, "relay took the lease; publishing the outbox");
                state.leading = true;
            }
            Ok((published, epoch))
        }
        Lease::HeldByAnother => {
            if state.leading {
                tracing::warn!(venue = %name, relay = relay_id, "relay lost its lease to another");
                state.leading = false;
            }
            Err(LEASE_RETRY)
        }
    }
}

/// After a NATS reconnect not handled yet, arranges for the batches published within
/// `REPLAY_WINDOW` before it to be published again (the crash may have lost them).
fn replay_after_reconnect(
    service: &SeatService,
    venue: &Venue,
    state: &mut RelayState,
    published: u64,
) {
    let reconnected = service.publisher.reconnected_at_ms();
    if reconnected == state.reconnect_handled {
        return;
    }
    state.reconnect_handled = reconnected;
    let since = Instant::now().checked_sub(REPLAY_WINDOW);
    let replay_from = state
        .recent
        .iter()
        .find(|(_, at)| since.is_none_or(|since| *at >= since))
        .map(|(first, _)| *first);
    if let Some(first) = replay_from {
        tracing::info!(venue = %venue.name, from_seq = first, to_seq = published, "NATS came back; publishing the last events again in case the crash lost them");
        state.replay_after = Some(first.saturating_sub(1).min(published));
    }
    state.recent.clear();
}

/// Counts the events between `read_after` and `first` that the outbox trimmed unpublished.
fn count_trimmed(service: &SeatService, venue: &Venue, read_after: u64, first: u64) {
    if first > read_after + 1 {
        // Only when the relay was down for longer than EVENT_HISTORY changes.
        tracing::error!(venue = %venue.name, missing_from = read_after + 1, missing_to = first - 1,
            "outbox was trimmed before these events were published; edges will resync from snapshots");
        service.metrics.count_relay_skipped(first - read_after - 1);
    }
}

/// With `REDIS_WAIT_REPLICAS` set, waits until the replicas have the events read (up to
/// `last`): only what survives a failover is published.
async fn confirm_replicated(
    service: &SeatService,
    venue: &Venue,
    relay_id: &str,
    last: u64,
) -> Result<(), Duration> {
    match service
        .store
        .relay_confirm_replicated(&venue.keys, relay_id, LEASE)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(LEASE_RETRY),
        Err(error) => {
            tracing::warn!(venue = %venue.name, last, %error, "replicas did not confirm the outbox; publishing waits");
            Err(LEASE_RETRY)
        }
    }
}

/// Publishes `events` in order and waits until NATS confirms them all.
async fn publish(
    service: &SeatService,
    venue: &Venue,
    events: &[OutboxEvent],
) -> Result<(), Duration> {
    let name = &venue.name;
    for event in events {
        let subject = format!("seats.{name}.{}", event.kind);
        if let Err(error) = service
            .publisher
            .publish_raw(subject, event.payload.clone())
            .await
        {
            tracing::warn!(venue = %name, seq = event.seq, %error, "publishing failed; the relay retries from the outbox");
            return Err(Duration::from_millis(200));
        }
    }
    if !service.publisher.flush_within(FLUSH_TIMEOUT).await {
        let last = events.last().map_or(0, |e| e.seq);
        tracing::warn!(venue = %name, last, "NATS did not confirm the batch; the relay retries it");
        return Err(Duration::from_millis(200));
    }
    service.metrics.count_relayed(events.len() as u64);
    Ok(())
}

/// Moves `published:{venue}` on to the batch's last seq, if the lease and epoch still hold.
async fn record(
    service: &SeatService,
    venue: &Venue,
    relay_id: &str,
    state: &mut RelayState,
    (first, last): (u64, u64),
    published: u64,
    epoch: u64,
) -> Result<(), Duration> {
    let name = &venue.name;
    match service
        .store
        .relay_commit(&venue.keys, relay_id, last, epoch)
        .await
    {
        Ok(true) => {
            tracing::debug!(venue = %name, first, last, "relayed");
            if last < published {
                // Still replaying after a reconnect: go on from here.
                state.replay_after = Some(last);
            }
            Ok(())
        }
        Ok(false) => {
            tracing::info!(venue = %name, last, "relay lease or epoch changed while publishing");
            Ok(())
        }
        Err(_) => Err(LEASE_RETRY),
    }
}

/// Events with seq > `after`, oldest first, waiting briefly for new ones.
async fn read_outbox(reader: &Client, stream: &str, after: u64) -> Result<Vec<OutboxEvent>, Error> {
    let reply: Value = reader
        .xread(
            Some(BATCH),
            Some(READ_BLOCK.as_millis() as u64),
            stream,
            format!("{after}-0"),
        )
        .await?;
    if reply.is_null() {
        return Ok(Vec::new());
    }
    let streams: fred::types::streams::XReadResponse<String, String, String, String> =
        reply.into_xread_response()?;
    let mut events: Vec<OutboxEvent> = streams
        .into_values()
        .flatten()
        .filter_map(|(id, mut fields)| {
            let seq = id.split('-').next()?.parse().ok()?;
            Some(OutboxEvent {
                seq,
                kind: fields.remove("t")?,
                payload: fields.remove("p")?,
            })
        })
        .collect();
    events.sort_by_key(|e| e.seq);
    Ok(events)
}
