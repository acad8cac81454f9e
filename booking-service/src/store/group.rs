//! Several seats in one atomic step (`lua/group.lua`): the request, the script's KEYS and ARGV,
//! and its reply read into an outcome.

use shared::ErrorCode;

use super::replies::unexpected;
use super::{Actor, SeatStore, VenueKeys};
use crate::seat_error::SeatError;

/// What a group step does to every seat it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMode {
    Select,
    Book,
    Release,
}

impl GroupMode {
    fn as_arg(self) -> &'static str {
        match self {
            GroupMode::Select => "select",
            GroupMode::Book => "book",
            GroupMode::Release => "release",
        }
    }
}

/// One seat of a group step that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSeat {
    pub id: String,
    /// The hold's expiry (selects only): the new one, or the one a seat already held keeps.
    pub expires_ms: Option<u64>,
    /// The seq of this seat's change; `None` for a seat the caller already held.
    pub seq: Option<u64>,
}

/// What a group step did: all of it, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOutcome {
    /// Every seat is as asked; `user` is the actor's public id.
    Done { user: String, seats: Vec<GroupSeat> },
    /// Nothing changed: the code and the seats that stood in the way.
    Refused {
        code: ErrorCode,
        seat_ids: Vec<String>,
    },
}

/// The per-seat limits of a select.
#[derive(Debug, Clone, Copy)]
pub struct HoldLimits {
    pub hold_seconds: u64,
    pub max_holds: u32,
}

impl SeatStore {
    /// Selects, books or releases `seats` (distinct canonical ids) for `actor`, all or none.
    /// `runs`: the runs a select must not leave a single seat alone in (the single-seat rule;
    /// empty while it is off), encoded as `SeatRuns` gives them.
    pub async fn group(
        &self,
        mode: GroupMode,
        keys: &VenueKeys,
        seats: &[&str],
        runs: &[&str],
        actor: Actor<'_>,
        limits: HoldLimits,
    ) -> Result<GroupOutcome, SeatError> {
        let mut script_keys = keys.group_keys();
        script_keys.extend(seats.iter().map(|seat| keys.lock(seat)));
        let run_seats = runs
            .iter()
            .flat_map(|run| run.split(','))
            .filter(|id| !id.starts_with('!') && !seats.contains(id));
        script_keys.extend(run_seats.map(|seat| keys.lock(seat)));
        let mut args = vec![mode.as_arg().to_owned()];
        self.push_actor_args(&mut args, keys, actor);
        args.extend([
            limits.hold_seconds.to_string(),
            limits.max_holds.to_string(),
            keys.lock_prefix.clone(),
            seats.len().to_string(),
        ]);
        args.extend(seats.iter().map(|seat| (*seat).to_owned()));
        args.extend(runs.iter().map(|run| (*run).to_owned()));
        let _slot = self.seat_command_slot().await?;
        let client = self.pool.next_connected();
        let reply = self
            .run_on(client, &self.scripts.group, script_keys, args)
            .await?;
        let outcome = parse_group_reply(&reply)?;
        if matches!(&outcome, GroupOutcome::Done { seats, .. } if seats.iter().any(|s| s.seq.is_some()))
        {
            self.confirm_replicated(client, keys).await?;
        }
        Ok(outcome)
    }
}

pub(super) fn parse_group_reply(reply: &[String]) -> Result<GroupOutcome, SeatError> {
    let code = match reply.first().map(String::as_str) {
        Some("CHANGED") => {
            let user = reply.get(1).cloned().ok_or_else(|| unexpected(reply))?;
            let rest = &reply[2..];
            if !rest.len().is_multiple_of(3) {
                return Err(unexpected(reply));
            }
            let seats = rest
                .chunks_exact(3)
                .map(|seat| GroupSeat {
                    id: seat[0].clone(),
                    expires_ms: seat[1].parse().ok(),
                    seq: seat[2].parse().ok(),
                })
                .collect();
            return Ok(GroupOutcome::Done { user, seats });
        }
        Some("SEAT_BOOKED") => ErrorCode::SeatBooked,
        Some("SEAT_UNAVAILABLE") => ErrorCode::SeatUnavailable,
        Some("NOT_HOLDER") => ErrorCode::NotHolder,
        Some("SINGLE_SEAT_GAP") => ErrorCode::SingleSeatGap,
        Some("MAX_HOLDS_EXCEEDED") => ErrorCode::MaxHoldsExceeded,
        Some("NOT_ADMITTED") => ErrorCode::NotAdmitted,
        _ => return Err(unexpected(reply)),
    };
    Ok(GroupOutcome::Refused {
        code,
        seat_ids: reply[1..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn group_replies_map_to_outcomes() {
        assert_eq!(
            parse_group_reply(&reply(&[
                "CHANGED", "u-1", "A1", "5000", "7", "A2", "4000", ""
            ]))
            .unwrap(),
            GroupOutcome::Done {
                user: "u-1".into(),
                seats: vec![
                    GroupSeat {
                        id: "A1".into(),
                        expires_ms: Some(5000),
                        seq: Some(7)
                    },
                    GroupSeat {
                        id: "A2".into(),
                        expires_ms: Some(4000),
                        seq: None
                    },
                ]
            }
        );
        assert_eq!(
            parse_group_reply(&reply(&["SEAT_UNAVAILABLE", "A1", "A3"])).unwrap(),
            GroupOutcome::Refused {
                code: ErrorCode::SeatUnavailable,
                seat_ids: vec!["A1".into(), "A3".into()]
            }
        );
        assert!(parse_group_reply(&reply(&["CHANGED", "u-1", "A1"])).is_err());
        assert!(parse_group_reply(&reply(&["WHAT"])).is_err());
    }
}
