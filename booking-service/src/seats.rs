//! The seat operations: validate, run the atomic Redis step (which also writes the change's
//! event to the outbox), count it. Publishing is the relay's job (`relay.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use shared::api::VenueSnapshot;
use shared::ws::SeatAction;
use shared::{ErrorCode, Seat, SeatStatus, VenueSeats};

use crate::metrics::Metrics;
use crate::publisher::EventPublisher;
use crate::seat_error::SeatError;
use crate::store::{
    ms_to_unix_seconds, Actor, ExpiryOutcome, History, ScriptOutcome, SeatStore, VenueKeys,
};
use crate::venues::{ServedChart, VenueDefinition};

/// A configured venue: its seats, its chart and its Redis keys.
pub struct Venue {
    pub name: String,
    pub seats: Arc<VenueSeats>,
    pub chart: Arc<ServedChart>,
    pub keys: VenueKeys,
    /// The runs of the single-seat rule, when it is on for this venue.
    pub runs: Option<Arc<crate::runs::SeatRuns>>,
    /// What best available searches.
    pub best: Arc<crate::best_layout::BestLayout>,
}

/// Owns every seat change: the store that makes it, and the publisher the relay announces with.
pub struct SeatService {
    pub store: SeatStore,
    pub publisher: EventPublisher,
    pub metrics: Metrics,
    venues: HashMap<String, Venue>,
    default_venue: String,
    pub hold_seconds: u64,
    pub(crate) max_holds: u32,
}

impl SeatService {
    pub fn new(
        store: SeatStore,
        publisher: EventPublisher,
        metrics: Metrics,
        venues: &[VenueDefinition],
        hold_seconds: u64,
        max_holds: u32,
        event_history: u64,
    ) -> Self {
        SeatService {
            store,
            publisher,
            metrics,
            default_venue: venues[0].name.clone(),
            venues: venues
                .iter()
                .map(|venue| {
                    let keys = VenueKeys::new(&venue.name, venue.seats.ids(), event_history);
                    (
                        venue.name.clone(),
                        Venue {
                            name: venue.name.clone(),
                            seats: venue.seats.clone(),
                            chart: venue.chart.clone(),
                            keys,
                            runs: venue.runs.clone(),
                            best: venue.best.clone(),
                        },
                    )
                })
                .collect(),
            hold_seconds,
            max_holds,
        }
    }

    /// The named venue, or the default (first configured) one when no name is given.
    pub fn venue(&self, name: Option<&str>) -> Result<&Venue, SeatError> {
        let name = name.unwrap_or(&self.default_venue);
        self.venues.get(name).ok_or_else(|| {
            let shown: String = name.chars().take(40).collect();
            SeatError::refused(
                ErrorCode::UnknownVenue,
                format!("there is no venue '{shown}'"),
            )
        })
    }

    pub fn venues(&self) -> impl Iterator<Item = &Venue> {
        self.venues.values()
    }

    pub fn venue_names(&self) -> impl Iterator<Item = &str> {
        self.venues.keys().map(String::as_str)
    }

    /// Selects, books or releases one seat (by its position in the venue) for one user. The
    /// change and its event commit together in Redis; the relay announces it, so this works
    /// while NATS is down.
    pub async fn apply(
        &self,
        action: SeatAction,
        venue: &Venue,
        position: usize,
        actor: Actor<'_>,
    ) -> Result<Seat, SeatError> {
        if action == SeatAction::Select && venue.runs.is_some() {
            return self
                .select_under_single_seat_rule(venue, position, actor)
                .await;
        }
        let seat = venue.seats.available(position);
        let seat_name = seat.id.clone();
        let keys = &venue.keys;
        let outcome = match action {
            SeatAction::Select => {
                self.store
                    .select(keys, &seat_name, actor, self.hold_seconds, self.max_holds)
                    .await?
            }
            SeatAction::Book => self.store.book(keys, &seat_name, actor).await?,
            SeatAction::Release => self.store.release(keys, &seat_name, actor).await?,
        };
        let (status, change) = match action {
            SeatAction::Select => (SeatStatus::Held, "held"),
            SeatAction::Book => (SeatStatus::Booked, "booked"),
            SeatAction::Release => (SeatStatus::Available, "released"),
        };
        match outcome {
            ScriptOutcome::Changed {
                seq,
                user,
                expires_ms,
            } => {
                self.metrics.count_change(&venue.name, change);
                tracing::info!(venue = %venue.name, seat = %seat_name, user = %user, seq, change, "seat changed");
                Ok(seat_after(seat, status, &user, expires_ms))
            }
            ScriptOutcome::Unchanged { user, expires_ms } => {
                Ok(seat_after(seat, SeatStatus::Held, &user, expires_ms))
            }
            ScriptOutcome::Refused { code, holder } => {
                Err(refusal(code, &seat_name, &holder, self.max_holds))
            }
        }
    }

    /// Ends one due hold, if it really ran out. Returns when to look again.
    pub async fn expire(&self, venue: &Venue, seat: &str) -> Result<ExpiryOutcome, SeatError> {
        let outcome = self.store.expire(&venue.keys, seat).await?;
        if let ExpiryOutcome::Expired { seq, user } = &outcome {
            self.metrics.count_change(&venue.name, "expired");
            tracing::info!(venue = %venue.name, seat, user = %user, seq, "hold expired");
        }
        Ok(outcome)
    }

    /// Makes every seat of the venue available; returns how many changed.
    pub async fn reset(&self, venue: &Venue) -> Result<usize, SeatError> {
        let released = self.store.reset(&venue.keys).await?;
        for _ in &released {
            self.metrics.count_change(&venue.name, "reset");
        }
        tracing::info!(venue = %venue.name, seats = released.len(), "venue reset");
        Ok(released.len())
    }

    pub async fn snapshot(&self, venue: &Venue) -> Result<VenueSnapshot, SeatError> {
        let (epoch, seq, seats) = self.store.snapshot(&venue.keys, &venue.seats).await?;
        Ok(VenueSnapshot {
            venue: venue.name.clone(),
            layout: venue.seats.layout,
            rows: venue.seats.rows,
            cols: venue.seats.cols,
            hold_seconds: self.hold_seconds,
            max_holds_per_user: self.max_holds,
            seq,
            epoch,
            seats,
        })
    }

    /// The kept events after `after`, at most `limit` of them.
    pub async fn history(
        &self,
        venue: &Venue,
        after: u64,
        limit: u64,
    ) -> Result<History, SeatError> {
        self.store.history(&venue.keys, after, limit).await
    }
}

/// The seat (as available) as a change left it.
pub(crate) fn seat_after(
    seat: Seat,
    status: SeatStatus,
    user: &str,
    expires_ms: Option<u64>,
) -> Seat {
    Seat {
        status,
        held_by: (status != SeatStatus::Available && !user.is_empty()).then(|| user.to_owned()),
        expires_at: (status == SeatStatus::Held)
            .then_some(expires_ms.map(ms_to_unix_seconds))
            .flatten(),
        ..seat
    }
}

pub(crate) fn refusal(code: ErrorCode, seat: &str, holder: &str, max_holds: u32) -> SeatError {
    let message = match code {
        ErrorCode::SeatBooked => format!("{seat} is already booked"),
        ErrorCode::SeatUnavailable => format!("{seat} is held by another user"),
        ErrorCode::NotHolder if holder.is_empty() => {
            format!("you do not hold {seat} (a hold may have expired)")
        }
        ErrorCode::NotHolder => format!("{seat} is held by another user, not you"),
        ErrorCode::NotAdmitted => {
            "you are in the waiting room; seats can be chosen once you are admitted".into()
        }
        ErrorCode::MaxHoldsExceeded => {
            format!("you already hold {max_holds} seats; book or release one first")
        }
        _ => format!("{seat}: {code}"),
    };
    SeatError::refused(code, message)
}
