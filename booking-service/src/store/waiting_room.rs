//! The waiting room's side of the store: presence reports (joining the queue, admitting while
//! slots are free) and the clock that frees slots and drops absent waiters.

use std::time::Duration;

use super::replies::{parse_field, unexpected};
use super::{SeatStore, VenueKeys};
use crate::seat_error::SeatError;

/// The waiting room's settings (`MAX_SHOPPERS` > 0 turns it on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitingRoomSettings {
    pub max_shoppers: u32,
    pub shopping: Duration,
    /// A shopper without a socket for this long frees its slot.
    pub shopper_idle: Duration,
    /// A waiting identity without a socket for this long loses its place.
    pub waiting_idle: Duration,
    /// A shopper that booked and holds nothing frees its slot after this long.
    pub done_grace: Duration,
}

/// Where one identity stands, as the waiting-room scripts say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptStanding {
    Admitted {
        until_ms: u64,
    },
    Waiting {
        position: u64,
        estimated_wait_s: u64,
    },
    /// Neither waiting nor admitted (not joined, or dropped).
    Outside,
}

/// What a waiting-room script saw: sizes, the waits of those it admitted, and standings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRoomView {
    /// Orders the reports of a venue as Redis ran them: a higher number saw a later state.
    pub number: u64,
    pub waiting: u64,
    pub shoppers: u64,
    pub admitted_waits_ms: Vec<u64>,
    pub standings: Vec<ScriptStanding>,
}

/// Where the admitted waits start in a waiting-room script's reply.
const WAITS_AT: usize = 4;

/// `{number, waiting, shoppers, admitted_count, wait...}`, the start of both waiting-room scripts'
/// replies.
pub(super) fn parse_waiting_room_view(reply: &[String]) -> Result<WaitingRoomView, SeatError> {
    let admitted: usize = parse_field(reply, 3)?;
    let admitted_waits_ms = reply
        .get(WAITS_AT..WAITS_AT + admitted)
        .ok_or_else(|| unexpected(reply))?
        .iter()
        .map(|w| w.parse().map_err(|_| unexpected(reply)))
        .collect::<Result<_, _>>()?;
    Ok(WaitingRoomView {
        number: parse_field(reply, 0)?,
        waiting: parse_field(reply, 1)?,
        shoppers: parse_field(reply, 2)?,
        admitted_waits_ms,
        standings: Vec::new(),
    })
}

impl SeatStore {
    /// Refreshes the presence of `owners` (joining them to the queue when `join`), admits while
    /// slots are free, and says where each stands.
    pub async fn waiting_room_report(
        &self,
        keys: &VenueKeys,
        owners: &[String],
        join: bool,
    ) -> Result<WaitingRoomView, SeatError> {
        let settings = self.waiting_room.ok_or(SeatError::Internal)?;
        let mut args = vec![
            settings.max_shoppers.to_string(),
            settings.shopping.as_millis().to_string(),
            if join { "1" } else { "0" }.to_string(),
        ];
        args.extend(owners.iter().cloned());
        let reply = self
            .run(
                &self.scripts.waiting_room_report,
                keys.waiting_room.clone(),
                args,
            )
            .await?;
        let mut report = parse_waiting_room_view(&reply)?;
        let rest = &reply[WAITS_AT + report.admitted_waits_ms.len()..];
        for triple in rest.chunks_exact(3) {
            report.standings.push(match triple[0].as_str() {
                "A" => ScriptStanding::Admitted {
                    until_ms: triple[1].parse().map_err(|_| unexpected(&reply))?,
                },
                "W" => ScriptStanding::Waiting {
                    position: triple[1].parse().map_err(|_| unexpected(&reply))?,
                    estimated_wait_s: triple[2].parse().map_err(|_| unexpected(&reply))?,
                },
                _ => ScriptStanding::Outside,
            });
        }
        Ok(report)
    }

    /// The waiting room's clock: frees slots, drops absent waiters, admits.
    pub async fn waiting_room_tick(&self, keys: &VenueKeys) -> Result<WaitingRoomView, SeatError> {
        let settings = self.waiting_room.ok_or(SeatError::Internal)?;
        let ms = |d: Duration| d.as_millis().to_string();
        let reply = self
            .run(
                &self.scripts.waiting_room_tick,
                keys.waiting_room.clone(),
                vec![
                    settings.max_shoppers.to_string(),
                    ms(settings.shopping),
                    ms(settings.shopper_idle),
                    ms(settings.waiting_idle),
                    ms(settings.done_grace),
                ],
            )
            .await?;
        parse_waiting_room_view(&reply)
    }
}
