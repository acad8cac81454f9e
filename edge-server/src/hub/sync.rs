//! How a venue hub keeps its mirror in step with the booking service: fetches (snapshot, seq
//! check, history page) run in a task of their own and come back through the mailbox; a newer
//! snapshot rebuilds the mirror and resynchronises every client.

use std::time::Instant;

use shared::api::VenueSnapshot;

use super::{update_frame, HubInput, Subscriber, VenueHub, FETCH_BACKOFF};
use crate::booking::{Fetch, Fetched};
use crate::mirror::Mark;

impl VenueHub {
    /// Fetches in the background; the answer comes back as `HubInput::Fetched`.
    pub(super) fn fetch(&mut self, fetch: Fetch) {
        if self.fetching || Instant::now() < self.next_fetch {
            return;
        }
        let Some(mailbox) = self.mailbox.upgrade() else {
            return;
        };
        self.fetching = true;
        self.generation += 1;
        let generation = self.generation;
        let mark = self.mirror.mark();
        let booking = self.booking.clone();
        let venue = self.venue.clone();
        tokio::spawn(async move {
            let result = booking.fetch(&venue, fetch).await;
            let _ = mailbox
                .send(HubInput::Fetched {
                    generation,
                    mark,
                    result,
                })
                .await;
        });
    }

    pub(super) fn fetched(&mut self, generation: u64, mark: Mark, result: Fetched) {
        let now = Instant::now();
        if generation <= self.rebuilt_at_generation && !matches!(result, Fetched::Snapshot(_)) {
            return; // asked before the last rebuild: says nothing about the mirror as it is
        }
        match result {
            Fetched::Failed => self.next_fetch = now + FETCH_BACKOFF,
            Fetched::Snapshot(snapshot) => self.rebuild(snapshot, mark),
            Fetched::Gone => {
                self.metrics.history_gone.inc();
                tracing::info!(venue = %self.venue, seq = self.mirror.seq(), "history gone; fetching a snapshot");
                self.mirror.history_gone();
            }
            Fetched::Page { page, fill } => {
                let (epoch, to) = (page.epoch, page.to);
                if fill {
                    let from = self.mirror.seq();
                    let applied = self.mirror.apply_history(page, mark, now);
                    if !applied.is_empty() {
                        self.metrics.history_fills.inc();
                        tracing::info!(venue = %self.venue, from, to = self.mirror.seq(), "gap filled from the event history");
                    }
                    for event in &applied {
                        self.fan_out(event);
                    }
                } else {
                    self.mirror.note_remote(epoch, to, mark, now);
                }
                if epoch == self.mirror.epoch() {
                    self.settle_resumes_from_the_future(generation, to);
                }
            }
        }
    }

    /// A client that resumed from a seq the venue has not reached (in this epoch) has a view
    /// this edge cannot continue: it gets the full state.
    fn settle_resumes_from_the_future(&mut self, generation: u64, venue_seq: u64) {
        let impossible =
            |s: &Subscriber| s.has_through > venue_seq && s.joined_at_generation < generation;
        if !self.clients.values().any(impossible) {
            return;
        }
        self.flush_batch();
        self.resync_subscribers(impossible);
    }

    /// Rebuilds from a newer snapshot (or one of another epoch) and resynchronises every client
    /// with a fresh `VENUE_STATE`. Buffered events past the snapshot are part of that state and
    /// are not sent again as updates.
    pub(super) fn rebuild(&mut self, snapshot: VenueSnapshot, mark: Mark) {
        self.flush_batch();
        let (from_epoch, from, to) = (self.mirror.epoch(), self.mirror.seq(), snapshot.seq);
        let Some(rebuilt) = self.mirror.reset_to(snapshot, mark, Instant::now()) else {
            return;
        };
        self.rebuilt_at_generation = self.generation;
        self.states = [None, None];
        self.metrics.venue_resyncs.inc();
        if rebuilt.rolled_back {
            tracing::warn!(venue = %self.venue, from, to, "the venue lost its latest changes (same epoch); following it back");
        }
        if rebuilt.new_epoch {
            self.metrics.epoch_changes.inc();
            tracing::warn!(venue = %self.venue, from_epoch, epoch = self.mirror.epoch(), "the venue's epoch changed (its data was lost); seq restarts");
        }
        tracing::info!(venue = %self.venue, from, to, folded = rebuilt.folded.len(), clients = self.clients.len(), "mirror rebuilt from a snapshot");
        self.recent.restart_at(to);
        for event in &rebuilt.folded {
            self.recent.push(event.seq, update_frame(event));
        }
        if !self.clients.is_empty() {
            self.metrics
                .client_resyncs
                .inc_by(self.clients.len() as u64);
            self.resync_subscribers(|_| true);
        }
    }
}
