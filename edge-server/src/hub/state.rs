//! A venue hub's `VENUE_STATE`s: each form serialised once per seq and shared by every client
//! that joins or is resynchronised, with a compact client's own `MINE` written right behind it;
//! and a subscriber changing identity or form in place.

use std::time::Instant;

use shared::now_ms;
use shared::ws::{ServerMessage, StateForm};

use super::{deliver, ClientId, Subscriber, VenueHub, Watcher, STATE_REUSE};
use crate::mirror::VenueMirror;
use crate::waiting_room::ClientStanding;
use crate::wire::{text_frame, WireFrame};

impl VenueHub {
    /// A subscriber took on another identity or form (it stays subscribed; nothing is sent
    /// now, its next state comes in the new form). A compact client that changed identity
    /// gets the new identity's `MINE`: its state's seats are the same, whose they are is not.
    pub(super) fn rewatch(&mut self, client: ClientId, watcher: Watcher) {
        let Some(subscriber) = self.clients.get_mut(&client) else {
            return;
        };
        let new_owner = subscriber.watcher.owner != watcher.owner;
        let new_user = subscriber.watcher.user_id != watcher.user_id;
        subscriber.watcher = watcher;
        if new_owner {
            subscriber.standing = ClientStanding::default();
        }
        if new_user && subscriber.watcher.form == StateForm::Compact && self.mirror.is_ready() {
            self.flush_batch();
            if let Some(subscriber) = self.clients.get(&client) {
                let mine = mine_frame(&self.mirror, &subscriber.watcher);
                subscriber.socket.send_as(subscriber.token, &mine, 1, None);
            }
        }
        if new_owner {
            self.waiting_room.newcomer();
            self.report_waiting_room();
        }
    }

    /// The venue's state in `form` as a frame, serialised once per seq and form (and per
    /// `STATE_REUSE`).
    fn state_frame(&mut self, form: StateForm) -> WireFrame {
        let (epoch, seq) = (self.mirror.epoch(), self.mirror.seq());
        let slot = &mut self.states[form as usize];
        if let Some(cached) = slot {
            if cached.epoch == epoch && cached.seq == seq && cached.at.elapsed() < STATE_REUSE {
                return cached.frame.clone();
            }
        }
        let state = match form {
            StateForm::Full => self.mirror.state(now_ms()),
            StateForm::Compact => self.mirror.compact_state(now_ms()),
        };
        let frame = text_frame(&ServerMessage::VenueState(state).to_json());
        self.metrics.states_serialised.inc();
        *slot = Some(CachedState {
            epoch,
            seq,
            at: Instant::now(),
            frame: frame.clone(),
        });
        frame
    }

    /// What a watcher gets as its state: the shared frame of its form and, for the compact
    /// form, its own `MINE` to write right behind it (two writes: the state's bytes are never
    /// copied per client).
    pub(super) fn state_frames(&mut self, watcher: &Watcher) -> (WireFrame, Option<WireFrame>) {
        let state = self.state_frame(watcher.form);
        let mine = (watcher.form == StateForm::Compact).then(|| mine_frame(&self.mirror, watcher));
        (state, mine)
    }

    /// Sends every subscriber that `pick` chooses a fresh state in its form (never refused
    /// for a full backlog; see `deliver`), and `STATUS` behind it while the hub is not live,
    /// forgetting where it had been.
    pub(super) fn resync_subscribers(&mut self, pick: impl Fn(&Subscriber) -> bool) {
        let chosen: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, s)| pick(s))
            .map(|(id, _)| *id)
            .collect();
        for client in chosen {
            let Some(watcher) = self.clients.get(&client).map(|s| s.watcher.clone()) else {
                continue;
            };
            let (state, mine) = self.state_frames(&watcher);
            let status = self.status_after_state();
            let Some(subscriber) = self.clients.get_mut(&client) else {
                continue;
            };
            subscriber.has_through = 0;
            let metrics = &self.metrics;
            let kept = deliver(client, subscriber, &state, 1, None, metrics)
                && mine.is_none_or(|mine| deliver(client, subscriber, &mine, 1, None, metrics))
                && status
                    .is_none_or(|status| deliver(client, subscriber, &status, 1, None, metrics));
            if !kept {
                self.clients.remove(&client);
            }
        }
    }
}

/// A serialised `VENUE_STATE` of one form.
pub(super) struct CachedState {
    epoch: u64,
    seq: u64,
    /// When it was serialised: its `server_time_ms` is that old.
    at: Instant,
    frame: WireFrame,
}

/// `MINE` for `watcher` as of the mirror's seq.
fn mine_frame(mirror: &VenueMirror, watcher: &Watcher) -> WireFrame {
    text_frame(&ServerMessage::Mine(mirror.mine(&watcher.user_id)).to_json())
}
