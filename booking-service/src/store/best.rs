//! Best available in Redis (`lua/best.lua`): the request made into the script's KEYS and ARGV,
//! the index built when Redis has none for this layout (`lua/best_index.lua`), and the reply
//! read into an outcome.

use fred::prelude::*;
use shared::ErrorCode;

use super::group::{parse_group_reply, GroupOutcome, GroupSeat, HoldLimits};
use super::replies::unexpected;
use super::{Actor, SeatStore, VenueKeys};
use crate::best_layout::BestLayout;
use crate::seat_error::SeatError;

/// What to search for, already checked against the chart.
#[derive(Debug, Clone)]
pub struct BestSearch<'a> {
    pub count: u32,
    /// The order list to search (`all`, `w`, `c:<category>`, `s:<section>`).
    pub order: String,
    /// The category's character in the layout, when one was asked for.
    pub category: Option<char>,
    pub accessible: bool,
    pub single_seat_rule: bool,
    pub layout: &'a BestLayout,
}

/// What best available did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BestOutcome {
    /// These seats, side by side, are now held by the actor (`user` is its public id).
    Held { user: String, seats: Vec<GroupSeat> },
    /// Nothing changed.
    Refused(ErrorCode),
}

impl SeatStore {
    /// Chooses and holds the best block for `actor`, in one atomic step. Builds the venue's
    /// index first when Redis has none for this layout (a new or wiped Redis, or after a reset).
    pub async fn hold_best(
        &self,
        keys: &VenueKeys,
        search: &BestSearch<'_>,
        actor: Actor<'_>,
        limits: HoldLimits,
    ) -> Result<BestOutcome, SeatError> {
        // Built again only in the rare case that the index had to be built first.
        let args = || {
            let mut args = Vec::with_capacity(14);
            self.push_actor_args(&mut args, keys, actor);
            args.extend([
                limits.hold_seconds.to_string(),
                limits.max_holds.to_string(),
                keys.lock_prefix.clone(),
                search.layout.fingerprint.clone(),
                search.count.to_string(),
                search.order.clone(),
                search.category.map(String::from).unwrap_or_default(),
                if search.accessible { "1" } else { "0" }.into(),
                if search.single_seat_rule { "1" } else { "0" }.into(),
            ]);
            args
        };
        let _slot = self.seat_command_slot().await?;
        let client = self.pool.next_connected();
        let script = &self.scripts.best;
        let mut reply = self
            .run_on(client, script, keys.best_keys(), args())
            .await?;
        if reply.first().map(String::as_str) == Some("NO_INDEX") {
            self.build_best_index(client, keys, search.layout).await?;
            reply = self
                .run_on(client, script, keys.best_keys(), args())
                .await?;
        }
        let outcome = match reply.first().map(String::as_str) {
            Some("NO_SEATS_TOGETHER") => BestOutcome::Refused(ErrorCode::NoSeatsTogether),
            Some("NO_INDEX") => return Err(unexpected(&reply)),
            _ => match parse_group_reply(&reply)? {
                GroupOutcome::Done { user, seats } => BestOutcome::Held { user, seats },
                GroupOutcome::Refused { code, .. } => BestOutcome::Refused(code),
            },
        };
        if matches!(outcome, BestOutcome::Held { .. }) {
            self.confirm_replicated(client, keys).await?;
        }
        Ok(outcome)
    }

    /// Writes the layout and the free-seat index built from the seats as they stand. One
    /// build at a time per service; a build that finds the index current does nothing.
    async fn build_best_index(
        &self,
        client: &fred::clients::Client,
        keys: &VenueKeys,
        layout: &BestLayout,
    ) -> Result<(), SeatError> {
        let _one_at_a_time = self.best_index_build.lock().await;
        // In a rush every request that found no index comes here; once the first has built
        // it, a GET of the marker spares Redis parsing the whole layout again for each. (An
        // error here is left to the build's own call to report.)
        let built: Result<Option<String>, _> = client.get(&keys.best_index).await;
        if built.ok().flatten().as_deref() == Some(layout.fingerprint.as_str()) {
            return Ok(());
        }
        let mut args = Vec::with_capacity(2 + layout.runs.len() + 2 * layout.orders.len());
        args.extend([layout.fingerprint.clone(), layout.runs.len().to_string()]);
        args.extend(layout.runs.iter().cloned());
        for (name, list) in &layout.orders {
            args.extend([name.clone(), list.clone()]);
        }
        let reply = self
            .run_on(
                client,
                &self.scripts.best_index,
                keys.best_index_keys(),
                args,
            )
            .await?;
        if reply.first().map(String::as_str) == Some("BUILT") {
            tracing::info!(venue = %keys.venue, runs = layout.runs.len(), "built the best-available index");
        }
        Ok(())
    }
}
