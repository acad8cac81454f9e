//! Announcing holds that ran out. Redis `EX` removes a lock silently, so the service watches
//! its expiry index (`holds:{venue}`) and runs the expire script for every due hold.
//!
//! The index lives in Redis, so nothing needs rebuilding after a restart: holds that ran out
//! while the service was down are simply due at the first check. Every booking service runs
//! this; the expire script acts once per hold, so only one announcement results. Expiry goes
//! on while NATS is down: the events wait in the outbox.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::seats::SeatService;

/// Due holds handled per venue per check; the rest wait for the next check.
const BATCH: i64 = 512;
/// The service listens before its first Redis connection is made (a few hundred ms at most):
/// Redis not there yet is said to be down only after this long.
const FIRST_CONNECT_GRACE: Duration = Duration::from_secs(3);

/// Whether Redis is reachable, as the watcher says it in the log: once when it goes down (or
/// has not come up within `FIRST_CONNECT_GRACE` of the start), once when it is back.
struct RedisWatch {
    started: Instant,
    ever_connected: bool,
    warned: bool,
}

impl Default for RedisWatch {
    fn default() -> Self {
        RedisWatch {
            started: Instant::now(),
            ever_connected: false,
            warned: false,
        }
    }
}

impl RedisWatch {
    /// Takes what the store says now; answers whether to go on with the check.
    fn connected(&mut self, connected: bool) -> bool {
        if connected {
            if self.warned {
                tracing::info!("redis is back; announcing holds that ran out meanwhile");
            }
            self.warned = false;
            self.ever_connected = true;
        } else if !self.warned
            && (self.ever_connected || self.started.elapsed() >= FIRST_CONNECT_GRACE)
        {
            tracing::warn!("redis is down; hold expiry waits for it");
            self.warned = true;
        }
        connected
    }
}

/// Checks the expiry index every `interval` until `shutdown` flips to true.
pub async fn watch_hold_expiry(
    service: Arc<SeatService>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut redis = RedisWatch::default();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if !redis.connected(service.store.is_connected()) {
            continue;
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
