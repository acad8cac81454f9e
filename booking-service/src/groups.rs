//! Commands on several seats at once (`seat_ids`): the request checked and put in canonical
//! form, then one atomic group step in Redis (all the seats or none), and its refusal worded
//! with every seat that stood in the way.

use std::collections::HashSet;

use shared::ws::SeatAction;
use shared::{ErrorCode, Seat, SeatIdError, SeatStatus};

use crate::seat_error::SeatError;
use crate::seats::{refusal, seat_after, SeatService, Venue};
use crate::store::{Actor, GroupMode, GroupOutcome, HoldLimits};

impl SeatService {
    /// Selects, books or releases every seat of `raw_ids` for one user, or none of them.
    /// Answers the canonical ids and the seats as they are after the step, in the order asked.
    pub async fn apply_group(
        &self,
        action: SeatAction,
        venue: &Venue,
        raw_ids: &[String],
        actor: Actor<'_>,
    ) -> Result<(Vec<String>, Vec<Seat>), SeatError> {
        let positions = self.group_positions(venue, raw_ids)?;
        let ids: Vec<&str> = positions.iter().map(|p| venue.seats.id(*p)).collect();
        let mode = match action {
            SeatAction::Select => GroupMode::Select,
            SeatAction::Book => GroupMode::Book,
            SeatAction::Release => GroupMode::Release,
        };
        let limits = HoldLimits {
            hold_seconds: self.hold_seconds,
            max_holds: self.max_holds,
        };
        let runs = match (&venue.runs, mode) {
            (Some(runs), GroupMode::Select) => runs.touched(&ids),
            _ => Vec::new(),
        };
        let outcome = self
            .store
            .group(mode, &venue.keys, &ids, &runs, actor, limits)
            .await?;
        let (user, changed) = match outcome {
            GroupOutcome::Done { user, seats } => (user, seats),
            GroupOutcome::Refused { code, seat_ids } => {
                return Err(self.group_refusal(code, seat_ids))
            }
        };
        let (status, change) = match action {
            SeatAction::Select => (SeatStatus::Held, "held"),
            SeatAction::Book => (SeatStatus::Booked, "booked"),
            SeatAction::Release => (SeatStatus::Available, "released"),
        };
        let mut seats = Vec::with_capacity(positions.len());
        for (position, seat) in positions.iter().zip(&changed) {
            if let Some(seq) = seat.seq {
                self.metrics.count_change(&venue.name, change);
                tracing::info!(venue = %venue.name, seat = %seat.id, user = %user, seq, change, "seat changed (group)");
            }
            let available = venue.seats.available(*position);
            seats.push(seat_after(available, status, &user, seat.expires_ms));
        }
        let ids = ids.into_iter().map(str::to_owned).collect();
        Ok((ids, seats))
    }

    /// One select where the single-seat rule is on: the group step with one seat, which judges
    /// the rule in the same atomic step as the hold. Refusals other than the rule's read as
    /// for any one seat.
    pub(crate) async fn select_under_single_seat_rule(
        &self,
        venue: &Venue,
        position: usize,
        actor: Actor<'_>,
    ) -> Result<Seat, SeatError> {
        let id = venue.seats.id(position).to_owned();
        match self
            .apply_group(SeatAction::Select, venue, std::slice::from_ref(&id), actor)
            .await
        {
            Ok((_, mut seats)) => seats.pop().ok_or(SeatError::Internal),
            Err(SeatError::RefusedSeats { code, .. }) if code != ErrorCode::SingleSeatGap => {
                Err(refusal(code, &id, "", self.max_holds))
            }
            Err(error) => Err(error),
        }
    }

    /// The seats' positions, in the order asked: at least one and at most `MAX_HOLDS_PER_USER`
    /// seats, each named once, each in the venue and for sale.
    fn group_positions(&self, venue: &Venue, raw_ids: &[String]) -> Result<Vec<usize>, SeatError> {
        let max = self.max_holds as usize;
        if raw_ids.is_empty() || raw_ids.len() > max {
            return Err(SeatError::refused(
                ErrorCode::ValidationError,
                format!("seat_ids must name 1 to {max} seats (MAX_HOLDS_PER_USER)"),
            ));
        }
        let mut positions = Vec::with_capacity(raw_ids.len());
        let mut not_for_sale = Vec::new();
        for raw in raw_ids {
            match venue.seats.lookup(raw) {
                Ok(position) => positions.push(position),
                Err(SeatIdError::NotForSale(id)) => not_for_sale.push(id),
                Err(error @ SeatIdError::OutOfRange(_)) => {
                    return Err(SeatError::refused(
                        ErrorCode::UnknownSeat,
                        error.to_string(),
                    ))
                }
                Err(error) => {
                    let shown = shared::seat::echoed_seat_id(raw);
                    return Err(SeatError::refused(
                        ErrorCode::ValidationError,
                        format!("'{shown}': {error}"),
                    ));
                }
            }
        }
        let mut seen = HashSet::new();
        if let Some(twice) = positions.iter().find(|p| !seen.insert(**p)) {
            return Err(SeatError::refused(
                ErrorCode::ValidationError,
                format!("seat_ids names {} twice", venue.seats.id(*twice)),
            ));
        }
        if !not_for_sale.is_empty() {
            return Err(self.group_refusal(ErrorCode::SeatNotForSale, not_for_sale));
        }
        Ok(positions)
    }

    fn group_refusal(&self, code: ErrorCode, seat_ids: Vec<String>) -> SeatError {
        let seats = seat_ids.join(", ");
        let message = match code {
            ErrorCode::SeatNotForSale => format!("not for sale: {seats}; nothing was changed"),
            ErrorCode::SeatBooked => {
                format!("already booked or held by another user: {seats}; nothing was changed")
            }
            ErrorCode::SeatUnavailable => {
                format!("held by another user: {seats}; nothing was changed")
            }
            ErrorCode::NotHolder => format!("you do not hold {seats}; nothing was changed"),
            ErrorCode::SingleSeatGap => format!(
                "this would leave a single seat alone ({seats}); choose seats that leave no gap of one, or ask for best available"
            ),
            ErrorCode::MaxHoldsExceeded => format!(
                "holding {seats} too would be more than {} seats; book or release some first",
                self.max_holds
            ),
            ErrorCode::NotAdmitted => {
                "you are in the waiting room; seats can be chosen once you are admitted".into()
            }
            _ => format!("{code}: {seats}"),
        };
        match code {
            ErrorCode::NotAdmitted => SeatError::refused(code, message),
            _ => SeatError::RefusedSeats {
                code,
                message,
                seat_ids,
            },
        }
    }
}
