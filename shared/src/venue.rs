//! A venue's seats as the services index them, whatever its layout: the `VENUES` entries
//! (`name:ROWSxCOLS` or `name:@PATH`), the seats that can be sold in their order, and the
//! lookup from a typed id to a seat (or to why there is none).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::chart::Chart;
use crate::seat::{is_valid_venue_name, Seat, SeatId, SeatIdError, VenueSpec, MAX_SEAT_ID_LEN};

/// How a venue's seats are arranged; state carries it as `"layout"`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `rows` x `cols`, seats `A1` …, with `row`/`col` in their JSON.
    #[default]
    Grid,
    /// A seating chart: seats `{section}-{row}-{number}`, no `row`/`col`.
    Chart,
}

/// One entry of `VENUES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueEntry {
    Grid(VenueSpec),
    /// `name:@PATH`: a chart file, read by the service.
    Chart {
        name: String,
        path: String,
    },
}

impl VenueEntry {
    pub fn name(&self) -> &str {
        match self {
            VenueEntry::Grid(spec) => &spec.name,
            VenueEntry::Chart { name, .. } => name,
        }
    }

    /// Parses one `name:ROWSxCOLS` or `name:@PATH` entry.
    pub fn parse(entry: &str) -> Result<VenueEntry, String> {
        let entry = entry.trim();
        match entry.split_once(":@") {
            Some((name, path)) => {
                if !is_valid_venue_name(name) {
                    return Err(format!(
                        "venue name '{name}' must be 1-32 characters of a-z, 0-9, '_' or '-'"
                    ));
                }
                if path.trim().is_empty() {
                    return Err(format!("venue '{name}' names no chart file after '@'"));
                }
                Ok(VenueEntry::Chart {
                    name: name.to_owned(),
                    path: path.trim().to_owned(),
                })
            }
            None => VenueSpec::parse(entry).map(VenueEntry::Grid),
        }
    }

    /// Parses the whole comma-separated `VENUES` list; names must be unique.
    pub fn parse_list(list: &str) -> Result<Vec<VenueEntry>, String> {
        let mut venues: Vec<VenueEntry> = Vec::new();
        for entry in list.split(',').filter(|e| !e.trim().is_empty()) {
            let venue = VenueEntry::parse(entry)?;
            if venues.iter().any(|v| v.name() == venue.name()) {
                return Err(format!("venue '{}' is listed twice", venue.name()));
            }
            venues.push(venue);
        }
        if venues.is_empty() {
            return Err("no venue configured".into());
        }
        Ok(venues)
    }
}

/// Why a typed seat id names no seat that can be sold.
pub type SeatLookupError = SeatIdError;

/// The seats of a venue that can be sold, in order, and how to find one by id.
#[derive(Debug, Clone)]
pub struct VenueSeats {
    pub layout: Layout,
    /// Grids only; 0 for charts.
    pub rows: u16,
    pub cols: u16,
    ids: Vec<String>,
    /// Charts only: sellable id → position.
    index: HashMap<String, usize>,
    /// Charts only: seats in the chart that are never sold.
    blocked: HashSet<String>,
}

impl VenueSeats {
    pub fn grid(rows: u16, cols: u16) -> VenueSeats {
        VenueSeats {
            layout: Layout::Grid,
            rows,
            cols,
            ids: SeatId::all(rows, cols).map(|id| id.to_string()).collect(),
            index: HashMap::new(),
            blocked: HashSet::new(),
        }
    }

    pub fn chart(chart: &Chart) -> VenueSeats {
        let (blocked, sellable): (Vec<_>, Vec<_>) = chart.seats().partition(|s| s.blocked);
        let ids: Vec<String> = sellable.iter().map(|s| s.id.clone()).collect();
        VenueSeats {
            layout: Layout::Chart,
            rows: 0,
            cols: 0,
            index: ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
            ids,
            blocked: blocked.into_iter().map(|s| s.id.clone()).collect(),
        }
    }

    /// Seats that can be sold.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    pub fn id(&self, position: usize) -> &str {
        &self.ids[position]
    }

    /// The position of the seat a typed id names (any case), or why there is none.
    pub fn lookup(&self, raw: &str) -> Result<usize, SeatLookupError> {
        match self.layout {
            Layout::Grid => {
                let id = SeatId::parse(raw, self.rows, self.cols)?;
                Ok(usize::from(id.row) * usize::from(self.cols) + usize::from(id.col))
            }
            Layout::Chart => {
                let canonical = raw.trim().to_ascii_uppercase();
                let well_formed = canonical.len() <= MAX_SEAT_ID_LEN
                    && canonical.split('-').all(|part| {
                        !part.is_empty()
                            && part
                                .bytes()
                                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    });
                if !well_formed {
                    return Err(SeatIdError::MalformedChartId);
                }
                if let Some(position) = self.index.get(&canonical) {
                    return Ok(*position);
                }
                if self.blocked.contains(&canonical) {
                    return Err(SeatIdError::NotForSale(canonical));
                }
                Err(SeatIdError::OutOfRange(canonical))
            }
        }
    }

    /// The seat at `position`, available.
    pub fn available(&self, position: usize) -> Seat {
        let id = self.ids[position].clone();
        let (row, col) = match self.layout {
            Layout::Grid => {
                let cols = usize::from(self.cols.max(1));
                (
                    Some((position / cols) as u16),
                    Some((position % cols) as u16),
                )
            }
            Layout::Chart => (None, None),
        };
        Seat {
            id,
            row,
            col,
            status: crate::seat::SeatStatus::Available,
            held_by: None,
            expires_at: None,
        }
    }

    /// Every seat that can be sold, available.
    pub fn all_available(&self) -> Vec<Seat> {
        (0..self.len()).map(|i| self.available(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_grids_or_chart_files() {
        let venues = VenueEntry::parse_list("main:10x10, arena:@venues/arena.json").unwrap();
        assert_eq!(
            venues[0],
            VenueEntry::Grid(VenueSpec::parse("main:10x10").unwrap())
        );
        assert_eq!(
            venues[1],
            VenueEntry::Chart {
                name: "arena".into(),
                path: "venues/arena.json".into()
            }
        );
        for bad in ["arena:@", "Arena:@x.json", "a:@x.json,a:1x1", ""] {
            assert!(VenueEntry::parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grid_lookup_keeps_the_grid_ids() {
        let seats = VenueSeats::grid(100, 100);
        assert_eq!(seats.lookup("cv100"), Ok(9_999));
        assert_eq!(seats.id(9_999), "CV100");
        let seat = seats.available(9_999);
        assert_eq!((seat.row, seat.col), (Some(99), Some(99)));
        assert_eq!(seats.lookup("A-1"), Err(SeatIdError::Malformed));
    }

    #[test]
    fn a_malformed_chart_id_is_named_in_the_chart_form() {
        let chart = crate::chart::Chart::grid("t", 1, 2);
        let seats = VenueSeats::chart(&chart);
        for bad in ["A--1", "A 1", "é-1", "", &"A".repeat(40)] {
            let error = seats.lookup(bad).unwrap_err();
            assert_eq!(error, SeatIdError::MalformedChartId, "{bad:?}");
            assert!(error.to_string().contains("112-F-14"));
        }
    }
}
