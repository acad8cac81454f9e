//! A venue hub's writing: each applied event becomes one frame, kept for resumes and written
//! with the others of its batch to every subscriber in one write of the same bytes; a
//! subscriber too far behind is dropped and marked lagged.

use shared::ws::{SeatUpdate, ServerMessage};
use shared::SeatEvent;

use super::{ClientId, Subscriber, VenueHub};
use crate::metrics::Metrics;
use crate::wire::{text_frame, Delivery, WireFrame};

impl VenueHub {
    pub(super) fn fan_out(&mut self, event: &SeatEvent) {
        self.metrics.events_fanned_out.inc();
        let frame = update_frame(event);
        self.recent.push(event.seq, frame.clone());
        self.batch.push((event.seq, frame));
    }

    /// Writes the updates applied since the last call: one write per client, of the same bytes
    /// for every client (the frames back to back), or of their tail for a client that already
    /// has the first ones.
    pub(super) fn flush_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.batch);
        let joined = match batch.as_slice() {
            [(_, frame)] => frame.clone(),
            frames => {
                let mut joined = Vec::with_capacity(frames.iter().map(|(_, f)| f.len()).sum());
                for (_, frame) in frames {
                    joined.extend_from_slice(frame);
                }
                WireFrame::from(joined)
            }
        };
        let limit = Some(self.timing.client_queue);
        let metrics = &self.metrics;
        let mut delivered = 0;
        self.clients.retain(|client, subscriber| {
            let first = batch.partition_point(|(seq, _)| *seq <= subscriber.has_through);
            let count = batch.len() - first;
            if count == 0 {
                return true;
            }
            let skipped: usize = batch[..first].iter().map(|(_, f)| f.len()).sum();
            let chunk = joined.slice(skipped..);
            let kept = deliver(*client, subscriber, &chunk, count, limit, metrics);
            delivered += if kept { count as u64 } else { 0 };
            kept
        });
        metrics.deliveries.inc_by(delivered);
        for received in self.batch_received.drain(..) {
            metrics
                .event_delivery
                .observe(received.elapsed().as_secs_f64());
        }
        batch.clear();
        self.batch = batch; // keeps its capacity for the next batch
    }
}

/// Writes `chunk` (`messages` frames) to one subscriber; `false` when it must leave the venue:
/// gone, or too far behind (then marked lagged, so its connection joins again and gets a fresh
/// `VENUE_STATE`).
pub(super) fn deliver(
    client: ClientId,
    subscriber: &Subscriber,
    chunk: &WireFrame,
    messages: usize,
    limit: Option<usize>,
    metrics: &Metrics,
) -> bool {
    match subscriber
        .socket
        .send_as(subscriber.token, chunk, messages, limit)
    {
        Delivery::Written | Delivery::Queued => true,
        Delivery::Full => {
            metrics.slow_client_resyncs.inc();
            tracing::info!(client, "client too far behind; it will be resynchronised");
            subscriber.socket.mark_lagged(subscriber.token);
            false
        }
        Delivery::Gone => false,
    }
}

pub(super) fn update_frame(event: &SeatEvent) -> WireFrame {
    text_frame(&ServerMessage::SeatUpdate(SeatUpdate::from(event)).to_json())
}
