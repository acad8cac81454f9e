//! Best available (`HOLD_BEST`, `POST /api/seats/best`): the request checked against the
//! venue's chart, then one atomic step in Redis that chooses the block and holds it
//! (`store/best.rs`, `lua/best.lua`), so the answer is never stale.

use shared::ws::BestAsk;
use shared::{ErrorCode, Seat, SeatStatus};

use crate::best_layout::{ORDER_ACCESSIBLE, ORDER_ALL};
use crate::seat_error::SeatError;
use crate::seats::{seat_after, SeatService, Venue};
use crate::store::{Actor, BestOutcome, BestSearch, HoldLimits};

impl SeatService {
    /// Holds the best `ask.count` adjacent free seats for one user. Answers their ids and the
    /// seats as they are now, side by side in row order.
    pub async fn hold_best(
        &self,
        venue: &Venue,
        ask: &BestAsk,
        actor: Actor<'_>,
    ) -> Result<(Vec<String>, Vec<Seat>), SeatError> {
        let search = self.best_search(venue, ask)?;
        let limits = HoldLimits {
            hold_seconds: self.hold_seconds,
            max_holds: self.max_holds,
        };
        let outcome = self
            .store
            .hold_best(&venue.keys, &search, actor, limits)
            .await?;
        let (user, held) = match outcome {
            BestOutcome::Held { user, seats } => (user, seats),
            BestOutcome::Refused(code) => return Err(self.best_refusal(code, ask)),
        };
        let mut ids = Vec::with_capacity(held.len());
        let mut seats = Vec::with_capacity(held.len());
        for seat in held {
            let position = venue.seats.lookup(&seat.id).map_err(|error| {
                tracing::error!(venue = %venue.name, seat = %seat.id, %error, "best available held a seat the venue does not sell");
                SeatError::Internal
            })?;
            self.metrics.count_change(&venue.name, "held");
            tracing::info!(venue = %venue.name, seat = %seat.id, user = %user, seq = seat.seq, change = "held", "seat changed (best available)");
            let available = venue.seats.available(position);
            seats.push(seat_after(
                available,
                SeatStatus::Held,
                &user,
                seat.expires_ms,
            ));
            ids.push(seat.id);
        }
        Ok((ids, seats))
    }

    /// The request checked against the chart: a count from 1 to `MAX_HOLDS_PER_USER`, and a
    /// category and section the venue has.
    fn best_search<'a>(
        &self,
        venue: &'a Venue,
        ask: &BestAsk,
    ) -> Result<BestSearch<'a>, SeatError> {
        let max = self.max_holds;
        let count = u32::try_from(ask.count)
            .ok()
            .filter(|count| (1..=max).contains(count))
            .ok_or_else(|| {
                SeatError::refused(
                    ErrorCode::ValidationError,
                    format!("count must be 1 to {max} (MAX_HOLDS_PER_USER)"),
                )
            })?;
        let layout = venue.best.as_ref();
        let category = match ask.category.as_deref() {
            None => None,
            Some(id) => Some(layout.category_char(id).ok_or_else(|| {
                let shown: String = id.chars().take(40).collect();
                SeatError::refused(
                    ErrorCode::ValidationError,
                    format!(
                        "venue '{}' has no category '{shown}' (see its chart)",
                        venue.name
                    ),
                )
            })?),
        };
        if let Some(section) = ask.section.as_deref() {
            if !layout.has_section(section) {
                let shown: String = section.chars().take(40).collect();
                return Err(SeatError::refused(
                    ErrorCode::ValidationError,
                    format!(
                        "venue '{}' has no section '{shown}' (see its chart)",
                        venue.name
                    ),
                ));
            }
        }
        let order = match (&ask.section, ask.accessible, &ask.category) {
            (Some(section), _, _) => format!("s:{section}"),
            (None, true, _) => ORDER_ACCESSIBLE.to_owned(),
            (None, false, Some(category)) => format!("c:{category}"),
            (None, false, None) => ORDER_ALL.to_owned(),
        };
        Ok(BestSearch {
            count,
            order,
            category,
            accessible: ask.accessible,
            single_seat_rule: venue.runs.is_some(),
            layout,
        })
    }

    fn best_refusal(&self, code: ErrorCode, ask: &BestAsk) -> SeatError {
        let message = match code {
            ErrorCode::NoSeatsTogether => {
                let mut wanted = format!("no {} free seats side by side", ask.count);
                if let Some(category) = &ask.category {
                    wanted.push_str(&format!(" in category {category}"));
                }
                if let Some(section) = &ask.section {
                    wanted.push_str(&format!(" in section {section}"));
                }
                if ask.accessible {
                    wanted.push_str(" with a wheelchair space");
                }
                format!("{wanted}; try fewer seats, or another category or section")
            }
            ErrorCode::MaxHoldsExceeded => format!(
                "holding {} more seats would be more than {}; book or release some first",
                ask.count, self.max_holds
            ),
            ErrorCode::NotAdmitted => {
                "you are in the waiting room; seats can be chosen once you are admitted".into()
            }
            other => format!("best available was refused: {other}"),
        };
        SeatError::refused(code, message)
    }
}
