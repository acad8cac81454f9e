//! `VENUE_STATE` in its two forms and `MINE`. The full form lists every seat as an object (what
//! websocat users read); the compact form, asked for with `CONNECT {"state":"compact"}`, is one
//! status digit per seat in the venue's seat order plus the held seats' expiry, the same bytes
//! for every client of the venue, followed by a `MINE` with the socket's own seats.

use serde::{Deserialize, Serialize};

use crate::seat::{Seat, SeatStatus};
use crate::venue::Layout;

/// Which form of `VENUE_STATE` a socket gets (`CONNECT`'s `state`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateForm {
    #[default]
    Full,
    Compact,
}

impl StateForm {
    pub fn parse(text: &str) -> Option<StateForm> {
        match text {
            "full" => Some(StateForm::Full),
            "compact" => Some(StateForm::Compact),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VenueState {
    pub venue: String,
    pub seq: u64,
    /// The venue's epoch; a client sends it back with `after_seq` when it reconnects.
    #[serde(default)]
    pub epoch: u64,
    /// `grid` or `chart`; a chart has no `rows`/`cols` (0 here, left out of the JSON).
    #[serde(default)]
    pub layout: Layout,
    #[serde(default, skip_serializing_if = "crate::api::is_zero")]
    pub rows: u16,
    #[serde(default, skip_serializing_if = "crate::api::is_zero")]
    pub cols: u16,
    #[serde(flatten)]
    pub seats: StateSeats,
    pub server_time_ms: u64,
}

/// The seats of a `VENUE_STATE`: every seat object, or the compact encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StateSeats {
    Full { seats: Vec<Seat> },
    Compact(CompactSeats),
}

/// The compact form: `status` holds one digit per seat (`0` available, `1` held, `2` booked)
/// in the venue's seat order (a grid's row by row; a chart's seats for sale in chart order);
/// `held` is `[index, expires_at]` for every held seat, by index. No holder is named: each
/// client learns its own seats from `MINE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactSeats {
    /// Always `compact`.
    pub state: StateForm,
    pub count: usize,
    pub status: String,
    pub held: Vec<(u32, u64)>,
}

/// One seat as the compact form tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactSeat {
    pub status: SeatStatus,
    pub expires_at: Option<u64>,
}

impl CompactSeats {
    /// Encodes seats (in the venue's seat order).
    pub fn encode(seats: &[Seat]) -> CompactSeats {
        let mut status = String::with_capacity(seats.len());
        let mut held = Vec::new();
        for (index, seat) in seats.iter().enumerate() {
            status.push(char::from(b'0' + seat.status as u8));
            if seat.status == SeatStatus::Held {
                held.push((index as u32, seat.expires_at.unwrap_or(0)));
            }
        }
        CompactSeats {
            state: StateForm::Compact,
            count: seats.len(),
            status,
            held,
        }
    }

    /// Every seat in seat order, or what is inconsistent about the encoding.
    pub fn decode(&self) -> Result<Vec<CompactSeat>, String> {
        if self.status.len() != self.count {
            return Err(format!(
                "status has {} digits for {} seats",
                self.status.len(),
                self.count
            ));
        }
        let mut seats = self
            .status
            .bytes()
            .map(|digit| {
                let status = SeatStatus::try_from(digit.wrapping_sub(b'0'))
                    .map_err(|_| format!("'{}' is not a status digit", char::from(digit)))?;
                Ok(CompactSeat {
                    status,
                    expires_at: None,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        for &(index, expires_at) in &self.held {
            match seats.get_mut(index as usize) {
                Some(seat) if seat.status == SeatStatus::Held => seat.expires_at = Some(expires_at),
                _ => return Err(format!("held seat {index} is not held in status")),
            }
        }
        if let Some(index) = seats
            .iter()
            .position(|s| s.status == SeatStatus::Held && s.expires_at.is_none())
        {
            return Err(format!("seat {index} is held without an expiry"));
        }
        Ok(seats)
    }
}

impl VenueState {
    /// The seat objects of a full state (`None` for a compact one).
    pub fn full_seats(&self) -> Option<&[Seat]> {
        match &self.seats {
            StateSeats::Full { seats } => Some(seats),
            StateSeats::Compact(_) => None,
        }
    }

    pub fn form(&self) -> StateForm {
        match self.seats {
            StateSeats::Full { .. } => StateForm::Full,
            StateSeats::Compact(_) => StateForm::Compact,
        }
    }
}

/// `MINE`: the seats held or booked by the socket's own identity at `seq`, sent right after
/// each compact `VENUE_STATE`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mine {
    pub venue: String,
    pub seq: u64,
    pub held: Vec<MineHeld>,
    pub booked: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MineHeld {
    pub id: String,
    pub expires_at: u64,
}

impl Mine {
    /// The seats of `seats` whose holder is `user_id`.
    pub fn of<'a>(
        venue: &str,
        seq: u64,
        user_id: &str,
        seats: impl IntoIterator<Item = &'a Seat>,
    ) -> Mine {
        let mut mine = Mine {
            venue: venue.to_owned(),
            seq,
            ..Mine::default()
        };
        for seat in seats {
            if seat.held_by.as_deref() != Some(user_id) {
                continue;
            }
            match seat.status {
                SeatStatus::Held => mine.held.push(MineHeld {
                    id: seat.id.clone(),
                    expires_at: seat.expires_at.unwrap_or(0),
                }),
                SeatStatus::Booked => mine.booked.push(seat.id.clone()),
                SeatStatus::Available => {}
            }
        }
        mine
    }
}

/// A seat as a client can know it from either form: its status, its hold's expiry, and whether
/// it is the client's own. A full state and a compact one with its `MINE` of the same seq give
/// the same list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenSeat {
    pub id: String,
    pub status: SeatStatus,
    pub expires_at: Option<u64>,
    pub mine: bool,
}

/// The seats a full state shows to `user_id`.
pub fn seen_in_full(seats: &[Seat], user_id: &str) -> Vec<SeenSeat> {
    seats
        .iter()
        .map(|seat| SeenSeat {
            id: seat.id.clone(),
            status: seat.status,
            expires_at: seat.expires_at,
            mine: seat.status != SeatStatus::Available && seat.held_by.as_deref() == Some(user_id),
        })
        .collect()
}

/// The seats a compact state and its `MINE` show, given the venue's seat ids in seat order.
pub fn seen_in_compact(
    compact: &CompactSeats,
    mine: &Mine,
    order: &[String],
) -> Result<Vec<SeenSeat>, String> {
    let seats = compact.decode()?;
    if seats.len() != order.len() {
        return Err(format!(
            "{} seats in the state, {} in the venue",
            seats.len(),
            order.len()
        ));
    }
    let own: std::collections::HashSet<&str> = mine
        .held
        .iter()
        .map(|h| h.id.as_str())
        .chain(mine.booked.iter().map(String::as_str))
        .collect();
    Ok(seats
        .into_iter()
        .zip(order)
        .map(|(seat, id)| SeenSeat {
            id: id.clone(),
            status: seat.status,
            expires_at: seat.expires_at,
            mine: own.contains(id.as_str()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::ServerMessage;
    use serde_json::json;

    fn seat(id: &str, status: SeatStatus, holder: Option<&str>, expires: Option<u64>) -> Seat {
        Seat {
            id: id.into(),
            row: None,
            col: None,
            status,
            held_by: holder.map(String::from),
            expires_at: expires,
        }
    }

    fn sample() -> Vec<Seat> {
        vec![
            seat("A1", SeatStatus::Available, None, None),
            seat("A2", SeatStatus::Held, Some("u-me"), Some(100)),
            seat("A3", SeatStatus::Booked, Some("u-other"), None),
            seat("A4", SeatStatus::Held, Some("u-other"), Some(101)),
            seat("A5", SeatStatus::Booked, Some("u-me"), None),
        ]
    }

    #[test]
    fn the_compact_form_is_digits_and_held_expiries_under_the_venue_state_type() {
        let state = ServerMessage::VenueState(VenueState {
            venue: "arena".into(),
            seq: 9,
            epoch: 7,
            layout: Layout::Chart,
            rows: 0,
            cols: 0,
            seats: StateSeats::Compact(CompactSeats::encode(&sample())),
            server_time_ms: 5,
        });
        let json: serde_json::Value = serde_json::from_str(&state.to_json()).unwrap();
        assert_eq!(
            json,
            json!({"type": "VENUE_STATE", "data": {"venue": "arena", "seq": 9, "epoch": 7,
                "layout": "chart", "state": "compact", "count": 5, "status": "01212",
                "held": [[1, 100], [3, 101]], "server_time_ms": 5}})
        );
        let back: ServerMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn the_full_form_is_unchanged_and_still_reads_back() {
        let full = VenueState {
            venue: "main".into(),
            seq: 1,
            epoch: 2,
            layout: Layout::Grid,
            rows: 1,
            cols: 5,
            seats: StateSeats::Full { seats: sample() },
            server_time_ms: 3,
        };
        let json = serde_json::to_value(&full).unwrap();
        assert!(json.get("state").is_none());
        assert_eq!(json["seats"][1]["held_by"], "u-me");
        assert_eq!(serde_json::from_value::<VenueState>(json).unwrap(), full);
    }

    #[test]
    fn compact_and_mine_show_what_the_full_form_shows() {
        let seats = sample();
        let order: Vec<String> = seats.iter().map(|s| s.id.clone()).collect();
        let mine = Mine::of("main", 1, "u-me", &seats);
        assert_eq!(mine.booked, ["A5"]);
        assert_eq!(
            mine.held,
            [MineHeld {
                id: "A2".into(),
                expires_at: 100
            }]
        );
        let compact = CompactSeats::encode(&seats);
        assert_eq!(
            seen_in_compact(&compact, &mine, &order).unwrap(),
            seen_in_full(&seats, "u-me")
        );
    }

    #[test]
    fn inconsistent_compact_states_are_named() {
        let mut compact = CompactSeats::encode(&sample());
        compact.count = 4;
        assert!(compact.decode().unwrap_err().contains("5 digits for 4"));
        let mut compact = CompactSeats::encode(&sample());
        compact.held.pop();
        assert!(compact.decode().unwrap_err().contains("without an expiry"));
        let mut compact = CompactSeats::encode(&sample());
        compact.status = "0121x".into();
        assert!(compact.decode().unwrap_err().contains("'x'"));
    }
}
