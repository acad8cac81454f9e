//! A venue hub's side of the waiting room (`waiting_room.rs`): sends the report that is due from a
//! task of its own, and writes each client's `QUEUE`/`ADMITTED` from the answer like any other
//! message.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use shared::ws::ServerMessage;

use super::{deliver, HubInput, Subscriber, VenueHub};
use crate::waiting_room::{self, Outcome, Report};
use crate::wire::text_frame;

impl VenueHub {
    /// Sends the waiting-room report that is due, if any, from a task of its own.
    pub(super) fn report_waiting_room(&mut self) {
        let Some(report) = self.waiting_room.due(Instant::now()) else {
            return;
        };
        let Some(mailbox) = self.mailbox.upgrade() else {
            return;
        };
        let owners = match report {
            Report::Probe => Vec::new(),
            Report::All => self.owners(false),
            Report::Newcomers => self.owners(true),
        };
        if owners.is_empty() && report != Report::Probe && self.waiting_room.is_on() {
            // Nobody to report; the booking services' own clock keeps admitting.
            self.waiting_room
                .answered(&Outcome::On(HashMap::new()), Instant::now());
            return;
        }
        self.metrics.waiting_room_reports.inc();
        let booking = self.booking.clone();
        let venue = self.venue.clone();
        tokio::spawn(async move {
            let outcome = waiting_room::report(&booking, &venue, &owners).await;
            let _ = mailbox.send(HubInput::WaitingRoom(outcome)).await;
        });
    }

    /// The identities of the subscribers (only those not answered for yet, with `newcomers`),
    /// each once, in the order they joined.
    fn owners(&self, newcomers: bool) -> Vec<Arc<str>> {
        let mut subscribers: Vec<&Subscriber> = self
            .clients
            .values()
            .filter(|s| !newcomers || !s.standing.answered())
            .collect();
        subscribers.sort_unstable_by_key(|s| s.joined);
        let mut seen = HashSet::with_capacity(subscribers.len());
        subscribers
            .into_iter()
            .filter(|s| seen.insert(s.watcher.owner.clone()))
            .map(|s| s.watcher.owner.clone())
            .collect()
    }

    /// Writes each client's `QUEUE` or `ADMITTED` when its standing calls for one; a full backlog
    /// is handled as for any update (the client resynchronises and hears its standing again).
    pub(super) fn waiting_room_answered(&mut self, outcome: Outcome) {
        let now = Instant::now();
        self.waiting_room.answered(&outcome, now);
        if matches!(outcome, Outcome::Failed) {
            self.metrics.waiting_room_report_failures.inc();
        }
        if let Outcome::On(standings) = outcome {
            let metrics = &self.metrics;
            let limit = Some(self.timing.client_queue);
            self.clients.retain(|client, subscriber| {
                let Some(standing) = standings.get(&subscriber.watcher.owner) else {
                    return true;
                };
                let Some(message) = subscriber.standing.next(standing, now) else {
                    return true;
                };
                match &message {
                    ServerMessage::Admitted(_) => metrics.waiting_room_admitted_sent.inc(),
                    _ => metrics.waiting_room_places_sent.inc(),
                };
                let frame = text_frame(&message.to_json());
                deliver(*client, subscriber, &frame, 1, limit, metrics)
            });
        }
        // Clients that joined while this report was out are reported now.
        self.report_waiting_room();
    }
}
