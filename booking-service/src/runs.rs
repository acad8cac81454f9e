//! The venue's runs for the single-seat rule: each row cut at its aisles into runs of adjacent
//! seats (blocked seats included, as taken), and which run each seat is in. The seat scripts
//! get the runs a select touches and judge the rule against the live state in the same step.

use std::collections::HashMap;

use shared::chart::{Chart, RowItem};

/// Every run of a venue whose single-seat rule is on.
#[derive(Debug, Default)]
pub struct SeatRuns {
    /// Each run as the scripts take it: the seat ids in order, comma-separated, a blocked seat
    /// marked with a leading `!`.
    encoded: Vec<String>,
    /// Seat id (for sale) → its run.
    run_of: HashMap<String, usize>,
}

impl SeatRuns {
    /// The runs of `chart`: a row's seats, cut where an aisle runs between two of them.
    pub fn of(chart: &Chart) -> SeatRuns {
        let mut runs = SeatRuns::default();
        for row in chart.sections.iter().flat_map(|section| &section.rows) {
            let mut run: Vec<String> = Vec::new();
            for item in row.seats.iter().chain([&RowItem::Aisle]) {
                match item {
                    RowItem::Seat(seat) if seat.blocked => run.push(format!("!{}", seat.id)),
                    RowItem::Seat(seat) => {
                        runs.run_of.insert(seat.id.clone(), runs.encoded.len());
                        run.push(seat.id.clone());
                    }
                    RowItem::Aisle if !run.is_empty() => runs.encoded.push(run.join(",")),
                    RowItem::Aisle => {}
                }
                if matches!(item, RowItem::Aisle) {
                    run.clear();
                }
            }
        }
        runs
    }

    /// The runs `seats` fall in, each once, encoded for the scripts.
    pub fn touched<'a>(&'a self, seats: &[&str]) -> Vec<&'a str> {
        let mut touched: Vec<usize> = seats
            .iter()
            .filter_map(|seat| self.run_of.get(*seat).copied())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        touched.iter().map(|i| self.encoded[*i].as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_row_is_one_run() {
        let runs = SeatRuns::of(&Chart::grid("t", 2, 3));
        assert_eq!(runs.touched(&["B2", "B3", "A1"]), ["A1,A2,A3", "B1,B2,B3"]);
    }
}
