//! The seat operations: validate, run the atomic Redis step, publish the change, count it.

use std::collections::HashMap;

use shared::api::VenueSnapshot;
use shared::ws::SeatAction;
use shared::{
    now_ms, ErrorCode, EventKind, ReleaseReason, Seat, SeatEvent, SeatId, SeatStatus, VenueSpec,
};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::publisher::EventPublisher;
use crate::store::{ms_to_unix_seconds, ExpiryOutcome, ScriptOutcome, SeatStore, VenueKeys};

/// A configured venue and its Redis keys.
pub struct Venue {
    pub spec: VenueSpec,
    pub keys: VenueKeys,
}

/// Owns every seat change: the store that makes it and the publisher that announces it.
pub struct SeatService {
    pub store: SeatStore,
    pub publisher: EventPublisher,
    pub metrics: Metrics,
    venues: HashMap<String, Venue>,
    default_venue: String,
    pub hold_seconds: u64,
    max_holds: u32,
}

impl SeatService {
    pub fn new(
        store: SeatStore,
        publisher: EventPublisher,
        metrics: Metrics,
        venues: &[VenueSpec],
        hold_seconds: u64,
        max_holds: u32,
    ) -> Self {
        SeatService {
            store,
            publisher,
            metrics,
            default_venue: venues[0].name.clone(),
            venues: venues
                .iter()
                .map(|spec| {
                    let keys = VenueKeys::new(&spec.name);
                    (
                        spec.name.clone(),
                        Venue {
                            spec: spec.clone(),
                            keys,
                        },
                    )
                })
                .collect(),
            hold_seconds,
            max_holds,
        }
    }

    /// The named venue, or the default (first configured) one when no name is given.
    pub fn venue(&self, name: Option<&str>) -> Result<&Venue, ApiError> {
        let name = name.unwrap_or(&self.default_venue);
        self.venues.get(name).ok_or_else(|| {
            let shown: String = name.chars().take(40).collect();
            ApiError::new(
                ErrorCode::UnknownVenue,
                format!("there is no venue '{shown}'"),
            )
        })
    }

    pub fn venues(&self) -> impl Iterator<Item = &Venue> {
        self.venues.values()
    }

    /// Selects, books or releases one seat for one user.
    pub async fn apply(
        &self,
        action: SeatAction,
        venue: &Venue,
        seat: SeatId,
        user: &str,
    ) -> Result<Seat, ApiError> {
        if !self.publisher.is_connected() {
            // Refuse rather than change a seat nobody would hear about.
            return Err(ApiError::unavailable("NATS"));
        }
        let seat_name = seat.to_string();
        let keys = &venue.keys;
        let outcome = match action {
            SeatAction::Select => {
                self.store
                    .select(keys, &seat_name, user, self.hold_seconds, self.max_holds)
                    .await?
            }
            SeatAction::Book => self.store.book(keys, &seat_name, user).await?,
            SeatAction::Release => self.store.release(keys, &seat_name, user).await?,
        };
        let (kind, reason) = match action {
            SeatAction::Select => (EventKind::Held, None),
            SeatAction::Book => (EventKind::Booked, None),
            SeatAction::Release => (EventKind::Released, Some(ReleaseReason::Released)),
        };
        match outcome {
            ScriptOutcome::Changed {
                seq,
                user,
                expires_ms,
            } => {
                let event = self.event(venue, kind, seq, &seat_name, &user, expires_ms, reason);
                self.announce(&event, kind.as_str()).await;
                tracing::info!(venue = %venue.spec.name, seat = %seat_name, user = %user, seq, change = kind.as_str(), "seat changed");
                Ok(event.seat(seat))
            }
            ScriptOutcome::Unchanged { user, expires_ms } => Ok(Seat {
                status: SeatStatus::Held,
                held_by: Some(user),
                expires_at: expires_ms.map(ms_to_unix_seconds),
                ..Seat::available(seat)
            }),
            ScriptOutcome::Refused { code, holder } => {
                Err(refusal(code, &seat_name, &holder, self.max_holds))
            }
        }
    }

    /// Announces the expiry of one due hold, if it really ran out. Returns when to look again.
    pub async fn expire(&self, venue: &Venue, seat: &str) -> Result<ExpiryOutcome, ApiError> {
        let outcome = self.store.expire(&venue.keys, seat).await?;
        if let ExpiryOutcome::Expired { seq, user } = &outcome {
            let event = self.event(
                venue,
                EventKind::Released,
                *seq,
                seat,
                user,
                None,
                Some(ReleaseReason::Expired),
            );
            self.announce(&event, "expired").await;
            tracing::info!(venue = %venue.spec.name, seat, user = %user, seq, "hold expired");
        }
        Ok(outcome)
    }

    /// Makes every seat of the venue available; returns how many changed.
    pub async fn reset(&self, venue: &Venue) -> Result<usize, ApiError> {
        if !self.publisher.is_connected() {
            return Err(ApiError::unavailable("NATS"));
        }
        let released = self.store.reset(&venue.keys).await?;
        for seat in &released {
            let event = self.event(
                venue,
                EventKind::Released,
                seat.seq,
                &seat.seat,
                &seat.user,
                None,
                Some(ReleaseReason::Reset),
            );
            self.announce(&event, "reset").await;
        }
        tracing::info!(venue = %venue.spec.name, seats = released.len(), "venue reset");
        Ok(released.len())
    }

    pub async fn snapshot(&self, venue: &Venue) -> Result<VenueSnapshot, ApiError> {
        let (seq, seats) = self.store.snapshot(&venue.keys, &venue.spec).await?;
        Ok(VenueSnapshot {
            venue: venue.spec.name.clone(),
            rows: venue.spec.rows,
            cols: venue.spec.cols,
            hold_seconds: self.hold_seconds,
            seq,
            epoch: 0,
            seats,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        venue: &Venue,
        kind: EventKind,
        seq: u64,
        seat: &str,
        user: &str,
        expires_ms: Option<u64>,
        reason: Option<ReleaseReason>,
    ) -> SeatEvent {
        SeatEvent {
            kind,
            venue: venue.spec.name.clone(),
            seq,
            seat_id: seat.to_owned(),
            status: kind.status(),
            user_id: (!user.is_empty()).then(|| user.to_owned()),
            expires_at: expires_ms.map(ms_to_unix_seconds),
            reason,
            ts_ms: now_ms(),
            epoch: 0,
        }
    }

    async fn announce(&self, event: &SeatEvent, counted_as: &'static str) {
        self.publisher.publish(event).await;
        self.metrics.count_change(&event.venue, counted_as);
    }
}

fn refusal(code: ErrorCode, seat: &str, holder: &str, max_holds: u32) -> ApiError {
    let message = match code {
        ErrorCode::SeatBooked => format!("{seat} is already booked"),
        ErrorCode::SeatUnavailable => format!("{seat} is held by another user"),
        ErrorCode::NotHolder if holder.is_empty() => {
            format!("you do not hold {seat} (a hold may have expired)")
        }
        ErrorCode::NotHolder => format!("{seat} is held by another user, not you"),
        ErrorCode::MaxHoldsExceeded => {
            format!("you already hold {max_holds} seats; book or release one first")
        }
        _ => format!("{seat}: {code}"),
    };
    ApiError::new(code, message)
}
