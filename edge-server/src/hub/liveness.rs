//! Whether a venue hub is current (`STATUS`): it may be behind from the moment the edge loses
//! NATS (events published meanwhile may never reach it), and is current again once NATS is back
//! and the hub has caught up from the booking service (a history page, or a snapshot) with
//! nothing left to fetch. Its clients are told at each change, and a client that gets a state
//! while the hub is not live gets `STATUS` right behind it.

use std::time::Instant;

use shared::ws::{NotLiveReason, ServerMessage, Status};

use super::{deliver, ClientId, VenueHub};
use crate::booking::Fetch;
use crate::nats_link::NatsLink;
use crate::wire::{text_frame, WireFrame};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Liveness {
    Live,
    /// NATS is down.
    Lost,
    /// NATS is back; catching up with what was missed. Only an answer to a fetch started after
    /// `after_generation` says where the venue is now.
    CatchingUp {
        after_generation: u64,
        answered: bool,
    },
}

impl Liveness {
    /// Where a hub starts when the edge's NATS link is `link`.
    pub(super) fn at_start(link: NatsLink) -> Liveness {
        match link {
            NatsLink::Down => Liveness::Lost,
            NatsLink::Starting | NatsLink::Up { .. } => Liveness::Live,
        }
    }
}

/// Which NATS connection `link` is (0 before the first).
pub(super) fn connection_of(link: NatsLink) -> u64 {
    match link {
        NatsLink::Up { connection } => connection,
        NatsLink::Starting | NatsLink::Down => 0,
    }
}

impl VenueHub {
    /// The edge's NATS link changed: going down makes the hub not live (its clients are told);
    /// a new connection starts the catch-up (at once: a backoff left from the outage is over).
    pub(super) fn nats_link(&mut self, link: NatsLink) {
        let connection = connection_of(link);
        let reconnected = connection > self.nats_connection;
        self.nats_connection = self.nats_connection.max(connection);
        match (link, self.liveness) {
            (NatsLink::Down, Liveness::Live) => {
                tracing::warn!(venue = %self.venue, clients = self.clients.len(), "NATS lost; telling clients the venue may be behind");
                self.liveness = Liveness::Lost;
                self.tell_everyone();
            }
            (NatsLink::Down, Liveness::CatchingUp { .. }) => self.liveness = Liveness::Lost,
            (NatsLink::Up { .. }, Liveness::Lost) => {
                self.liveness = Liveness::CatchingUp {
                    after_generation: self.generation,
                    answered: false,
                };
                self.next_fetch = Instant::now();
                self.catch_up_after_outage();
            }
            // Lost and back before this hub looked (or while it was catching up): what came in
            // between is fetched all the same; its clients were told nothing or are still not live.
            (NatsLink::Up { connection }, _) if reconnected && connection > 1 => {
                if let Liveness::CatchingUp { .. } = self.liveness {
                    self.liveness = Liveness::CatchingUp {
                        after_generation: self.generation,
                        answered: false,
                    };
                }
                self.next_fetch = Instant::now();
                self.fetching = false;
                self.fetch(self.missed_events());
            }
            _ => {}
        }
    }

    /// What brings the mirror up to date after events may have been missed: the history after
    /// its seq, or a snapshot when the venue is not loaded yet.
    fn missed_events(&self) -> Fetch {
        if self.mirror.is_ready() {
            Fetch::History {
                after: self.mirror.seq(),
            }
        } else {
            Fetch::Snapshot
        }
    }

    /// Asks for whatever was published while NATS was down: the history after the mirror's seq
    /// (a snapshot when the venue is not loaded yet). Called again by the hub's tick until an
    /// answer comes (a failed fetch backs off).
    pub(super) fn catch_up_after_outage(&mut self) {
        let Liveness::CatchingUp {
            after_generation,
            answered: false,
        } = self.liveness
        else {
            return;
        };
        if self.fetching && self.generation > after_generation {
            return; // the catch-up's own fetch is on its way
        }
        // A fetch started before the outage ended says nothing about what was missed.
        self.fetching = false;
        self.fetch(self.missed_events());
    }

    /// A fetch of `generation` was answered (`ok`: not a failure), and the mirror has taken
    /// it in: live again once a catch-up fetch was answered and nothing more is needed.
    pub(super) fn settle_liveness(&mut self, generation: u64, ok: bool) {
        let Liveness::CatchingUp {
            after_generation,
            answered,
        } = self.liveness
        else {
            return;
        };
        let answered = answered || (ok && generation > after_generation);
        self.liveness = Liveness::CatchingUp {
            after_generation,
            answered,
        };
        let caught_up = answered && !self.fetching && self.mirror.is_current();
        if caught_up {
            tracing::info!(venue = %self.venue, seq = self.mirror.seq(), "caught up after the NATS outage; live again");
            self.liveness = Liveness::Live;
            self.tell_everyone();
        }
    }

    /// The `STATUS` frame for the hub's liveness now.
    fn status_frame(&self) -> WireFrame {
        let reason = match self.liveness {
            Liveness::Live => None,
            Liveness::Lost => Some(NotLiveReason::NatsLost),
            Liveness::CatchingUp { .. } => Some(NotLiveReason::CatchingUp),
        };
        let status = Status {
            venue: self.venue.to_string(),
            live: reason.is_none(),
            reason,
        };
        text_frame(&ServerMessage::Status(status).to_json())
    }

    /// What a client that was just sent a state needs behind it: `STATUS` while not live.
    pub(super) fn status_after_state(&self) -> Option<WireFrame> {
        (self.liveness != Liveness::Live).then(|| self.status_frame())
    }

    /// Sends every client the hub's liveness now (after the updates already applied). Before
    /// the venue is loaded its clients have no state yet: theirs comes behind their first one.
    fn tell_everyone(&mut self) {
        if !self.mirror.is_ready() {
            return;
        }
        self.flush_batch();
        let frame = self.status_frame();
        let metrics = &self.metrics;
        let gone: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(client, subscriber)| !deliver(**client, subscriber, &frame, 1, None, metrics))
            .map(|(client, _)| *client)
            .collect();
        for client in gone {
            self.clients.remove(&client);
        }
    }
}
