//! The outbox's side of the store: the event history, and the relay's lease and progress.

use std::time::Duration;

use fred::prelude::*;

use super::replies::{parse_field, unexpected};
use super::{SeatStore, VenueKeys};
use crate::seat_error::SeatError;

/// What the history script found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub epoch: u64,
    /// The venue's current seq.
    pub to: u64,
    /// The NATS payloads after the asked seq, in order; `None` when they are no longer kept.
    pub payloads: Option<Vec<String>>,
}

/// The relay's view after taking or renewing its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    Held { published: u64, epoch: u64 },
    HeldByAnother,
}

impl SeatStore {
    /// The outbox's events after `after` (at most `limit`), the epoch and the current seq.
    pub async fn history(
        &self,
        keys: &VenueKeys,
        after: u64,
        limit: u64,
    ) -> Result<History, SeatError> {
        let reply = self
            .run(
                &self.scripts.history,
                vec![keys.events.clone(), keys.seq.clone(), keys.epoch.clone()],
                vec![after.to_string(), limit.to_string()],
            )
            .await?;
        let epoch = parse_field(&reply, 1)?;
        let to = parse_field(&reply, 2)?;
        let payloads = match reply.first().map(String::as_str) {
            Some("OK") => Some(reply[3..].to_vec()),
            Some("GONE") => None,
            _ => return Err(unexpected(&reply)),
        };
        Ok(History {
            epoch,
            to,
            payloads,
        })
    }

    /// Takes or renews the relay lease of a venue for `relay_id`.
    pub async fn relay_lease(
        &self,
        keys: &VenueKeys,
        relay_id: &str,
        lease: Duration,
    ) -> Result<Lease, SeatError> {
        let reply = self
            .run(
                &self.scripts.relay,
                keys.relay_keys(),
                vec![relay_id.into(), lease.as_millis().to_string()],
            )
            .await?;
        match reply.first().map(String::as_str) {
            Some("1") => Ok(Lease::Held {
                published: parse_field(&reply, 1)?,
                epoch: parse_field(&reply, 2)?,
            }),
            Some("0") => Ok(Lease::HeldByAnother),
            _ => Err(unexpected(&reply)),
        }
    }

    /// With `REDIS_WAIT_REPLICAS=n`: renews the lease (a write) and waits until n replicas of
    /// the venue's master have it, and so every outbox entry written before it, the ones the
    /// relay just read included. True when they do (always, with n = 0) and the lease still
    /// holds. A master cut off from its replicas can take a change (its command is answered
    /// 503) that the replica taking over never gets, and that replica gives the change's seq to
    /// another: publishing only what replicas have keeps such a change off NATS, where a viewer
    /// would keep it (a repeated seq is dropped) instead of the change that really has the seq.
    pub async fn relay_confirm_replicated(
        &self,
        keys: &VenueKeys,
        relay_id: &str,
        lease: Duration,
    ) -> Result<bool, SeatError> {
        if self.settings.wait_replicas == 0 {
            return Ok(true);
        }
        let client = self.pool.next_connected();
        let reply = self
            .run_on(
                client,
                &self.scripts.relay,
                keys.relay_keys(),
                vec![relay_id.into(), lease.as_millis().to_string()],
            )
            .await?;
        if reply.first().map(String::as_str) != Some("1") {
            return Ok(false);
        }
        self.confirm_replicated(client, keys).await?;
        Ok(true)
    }

    /// Records that NATS took every event up to `seq` of `epoch`; false when the lease was lost
    /// or the venue's epoch changed meanwhile.
    pub async fn relay_commit(
        &self,
        keys: &VenueKeys,
        relay_id: &str,
        seq: u64,
        epoch: u64,
    ) -> Result<bool, SeatError> {
        let reply = self
            .run(
                &self.scripts.relay_commit,
                keys.relay_keys(),
                vec![relay_id.into(), seq.to_string(), epoch.to_string()],
            )
            .await?;
        Ok(reply.first().map(String::as_str) == Some("1"))
    }

    /// Gives the lease back (clean shutdown).
    pub async fn relay_release(&self, keys: &VenueKeys, relay_id: &str) {
        let _ = self
            .run(
                &self.scripts.relay_release,
                vec![keys.relay_lease.clone()],
                vec![relay_id.into()],
            )
            .await;
    }

    /// A connection of its own, for blocking reads (the relay's XREAD) that must not stall
    /// seat commands.
    pub fn blocking_client(&self) -> Client {
        self.pool.next().clone_new()
    }
}
