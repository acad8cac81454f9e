//! Announcing holds that ran out. Redis `EX` removes a lock silently, so the service watches
//! its expiry index (`holds:{venue}`) and runs the expire script for every due hold.
//!
//! The index lives in Redis, so nothing needs rebuilding after a restart: holds that ran out
//! while the service was down are simply due at the first check. Every booking service runs
//! this; the expire script acts once per hold, so only one announcement results. Expiry goes
//! on while NATS is down: the events wait in the outbox.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::seats::SeatService;

/// Due holds handled per venue per check; the rest wait for the next check.
const BATCH: i64 = 512;

/// Checks the expiry index every `interval` until `shutdown` flips to true.
pub async fn watch_hold_expiry(
    service: Arc<SeatService>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut redis_was_down = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if !service.store.is_connected() {
            if !redis_was_down {
                tracing::warn!("redis is down; hold expiry waits for it");
                redis_was_down = true;
            }
            continue;
        }
        if redis_was_down {
            tracing::info!("redis is back; announcing holds that ran out meanwhile");
            redis_was_down = false;
        }
        for venue in service.venues() {
            let due = match service
                .store
                .due_holds(&venue.keys, shared::now_ms(), BATCH)
                .await
            {
                Ok(due) => due,
                Err(_) => continue,
            };
            for seat in due {
                if let Err(error) = service.expire(venue, &seat).await {
                    tracing::warn!(venue = %venue.name, %seat, ?error, "expiring a hold failed; will retry");
                }
            }
        }
    }
    tracing::debug!("hold expiry stopped");
}
