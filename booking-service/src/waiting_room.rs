//! The waiting room: when `MAX_SHOPPERS` > 0, at most that many identities per venue are
//! shoppers (may hold and book); the rest wait in one first-come queue per venue in Redis,
//! shared by every edge and booking service.
//!
//! All of it lives in Redis and changes only inside scripts (`lua/waiting_room.lua` and the
//! waiting-room scripts), so two services can never both admit into the last slot. Edges report the
//! identities that have a socket open (`POST /internal/queue/{venue}/presence`, every 500 ms),
//! which is also what keeps their places and passes. Every booking service runs the clock below;
//! it is idempotent, so several running it changes nothing but how soon a slot is noticed.

use std::sync::Arc;
use std::time::Duration;

use shared::api::WaitingRoomStanding;
use tokio::sync::watch;

use crate::seat_error::SeatError;
use crate::seats::{SeatService, Venue};
use crate::store::{ScriptStanding, WaitingRoomSettings};

/// How often each venue's queue is trimmed and admitted from.
const CLOCK: Duration = Duration::from_millis(200);
/// A shopper without a socket for this long frees its slot.
pub const SHOPPER_IDLE: Duration = Duration::from_secs(30);
/// A waiting identity without a socket for this long loses its place.
pub const WAITING_IDLE: Duration = Duration::from_secs(60);
/// A shopper that has booked and holds nothing frees its slot after this long.
pub const DONE_GRACE: Duration = Duration::from_secs(10);

/// The settings for `MAX_SHOPPERS` and `SHOPPING_SECONDS`; `None` when the room is off.
pub fn settings(max_shoppers: u32, shopping: Duration) -> Option<WaitingRoomSettings> {
    (max_shoppers > 0).then_some(WaitingRoomSettings {
        max_shoppers,
        shopping,
        shopper_idle: SHOPPER_IDLE,
        waiting_idle: WAITING_IDLE,
        done_grace: DONE_GRACE,
    })
}

/// Runs the waiting-room clock of every venue until `shutdown` flips to true (returns at once when the
/// waiting room is off).
pub async fn run_clock(service: Arc<SeatService>, mut shutdown: watch::Receiver<bool>) {
    if service.store.waiting_room().is_none() {
        return;
    }
    let mut ticker = tokio::time::interval(CLOCK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        for venue in service.venues() {
            match service.store.waiting_room_tick(&venue.keys).await {
                Ok(report) => {
                    service.metrics.observe_waiting_room(&venue.name, &report);
                    if !report.admitted_waits_ms.is_empty() {
                        tracing::info!(venue = %venue.name, admitted = report.admitted_waits_ms.len(),
                            waiting = report.waiting, shoppers = report.shoppers, "admitted from the waiting room");
                    }
                }
                Err(_) => {
                    tracing::debug!(venue = %venue.name, "waiting-room clock skipped a tick")
                }
            }
        }
    }
}

/// Where each of `owners` stands in `venue`'s waiting room, refreshing their presence and
/// (with `join`) giving a place to those without one.
pub async fn standings(
    service: &SeatService,
    venue: &Venue,
    owners: &[String],
    join: bool,
) -> Result<Vec<WaitingRoomStanding>, SeatError> {
    let name = venue.name.clone();
    if service.store.waiting_room().is_none() {
        return Ok(owners
            .iter()
            .map(|_| WaitingRoomStanding::Open {
                venue: name.clone(),
            })
            .collect());
    }
    let report = service
        .store
        .waiting_room_report(&venue.keys, owners, join)
        .await?;
    service.metrics.observe_waiting_room(&name, &report);
    Ok(report
        .standings
        .into_iter()
        .map(|standing| match standing {
            ScriptStanding::Admitted { until_ms } => WaitingRoomStanding::Admitted {
                venue: name.clone(),
                until_ms,
            },
            ScriptStanding::Waiting {
                position,
                estimated_wait_s,
            } => WaitingRoomStanding::Waiting {
                venue: name.clone(),
                position,
                size: report.waiting,
                estimated_wait_s,
            },
            ScriptStanding::Outside => WaitingRoomStanding::Outside {
                venue: name.clone(),
            },
        })
        .collect())
}
