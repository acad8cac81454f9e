//! The picture best available searches, built once from the chart: every row cut at its aisles
//! into runs, each run's seats with their distance to the focal point, kind and category, and
//! the order the runs are searched in for each kind of request. `lua/best_index.lua` writes it
//! to Redis beside the free-seat index; `lua/best.lua` searches it.

use std::collections::{BTreeMap, HashMap};

use shared::chart::{Chart, ChartSeat, RowItem};

/// Distances travel to the scripts in hundredths of a chart unit, as whole numbers.
pub const DISTANCE_SCALE: f64 = 100.0;

/// The order list for requests that name neither a section, a category nor `accessible`.
pub const ORDER_ALL: &str = "all";
/// The order list of runs that have a wheelchair space.
pub const ORDER_ACCESSIBLE: &str = "w";

/// A venue's runs and search orders, encoded for the scripts.
#[derive(Debug)]
pub struct BestLayout {
    /// Each run as `ids|dists|kinds|cats`: its seat ids comma-separated; each seat's distance
    /// to the focal point (hundredths, six digits each, no separator); one character per seat
    /// for its kind
    /// (`r` a seat, `c` a companion seat, `w` a wheelchair space, `x` never for sale); and one
    /// for its category (see `category_char`). Run `n` is `runs[n - 1]`.
    pub runs: Vec<String>,
    /// The search orders: list name → `run:nearest,…`, runs by their nearest seat's distance.
    /// Names: `all`, `w`, `c:<category>`, `s:<section>`.
    pub orders: BTreeMap<String, String>,
    /// Tells a Redis that holds this layout from one that holds another (or none).
    pub fingerprint: String,
    categories: HashMap<String, char>,
}

/// One seat as the search sees it.
struct RunSeat<'a> {
    seat: &'a ChartSeat,
    distance: u64,
}

/// The characters that stand for categories in a run's encoding, in the chart's order.
const CATEGORY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl BestLayout {
    /// The layout of `chart`. A chart's categories are checked at load, so every seat's
    /// category has a character; charts with more categories than characters search the
    /// later ones as one (the category filter is then refused for them).
    pub fn of(chart: &Chart) -> BestLayout {
        let categories: HashMap<String, char> = chart
            .categories
            .iter()
            .zip(CATEGORY_CHARS.iter().map(|c| char::from(*c)))
            .map(|(category, c)| (category.id.clone(), c))
            .collect();
        let mut runs = Vec::new();
        let mut orders: BTreeMap<String, Vec<(u64, usize)>> = BTreeMap::new();
        for section in &chart.sections {
            for row in &section.rows {
                for run in row.seats.split(|item| matches!(item, RowItem::Aisle)) {
                    let seats: Vec<RunSeat> = run
                        .iter()
                        .filter_map(|item| match item {
                            RowItem::Seat(seat) => Some(RunSeat {
                                seat,
                                distance: distance(chart, seat),
                            }),
                            RowItem::Aisle => None,
                        })
                        .collect();
                    let for_sale: Vec<&RunSeat> =
                        seats.iter().filter(|s| !s.seat.blocked).collect();
                    let Some(nearest) = for_sale.iter().map(|s| s.distance).min() else {
                        continue;
                    };
                    runs.push(encode_run(&seats, &categories));
                    let number = runs.len();
                    let mut lists = vec![ORDER_ALL.to_owned(), format!("s:{}", section.id)];
                    if for_sale.iter().any(|s| s.seat.accessible) {
                        lists.push(ORDER_ACCESSIBLE.to_owned());
                    }
                    let mut seen_categories: Vec<&str> =
                        for_sale.iter().map(|s| s.seat.category.as_str()).collect();
                    seen_categories.sort_unstable();
                    seen_categories.dedup();
                    lists.extend(seen_categories.iter().map(|c| format!("c:{c}")));
                    for list in lists {
                        orders.entry(list).or_default().push((nearest, number));
                    }
                }
            }
        }
        let orders: BTreeMap<String, String> = orders
            .into_iter()
            .map(|(name, mut runs)| {
                runs.sort_unstable();
                let list: Vec<String> = runs.iter().map(|(d, n)| format!("{n}:{d}")).collect();
                (name, list.join(","))
            })
            .collect();
        let mut all = runs.join("\n");
        for (name, list) in &orders {
            all.push_str(&format!("\n{name}={list}"));
        }
        BestLayout {
            fingerprint: shared::chart::etag(all.as_bytes()),
            runs,
            orders,
            categories,
        }
    }

    /// The character that stands for `category` in run encodings, if the chart has it.
    pub fn category_char(&self, category: &str) -> Option<char> {
        self.categories.get(category).copied()
    }

    /// Whether the chart has a section with this id (as a search order).
    pub fn has_section(&self, section: &str) -> bool {
        self.orders.contains_key(&format!("s:{section}"))
    }
}

/// A seat's distance to the focal point, in hundredths of a chart unit.
fn distance(chart: &Chart, seat: &ChartSeat) -> u64 {
    let (dx, dy) = (seat.x - chart.focal_point.x, seat.y - chart.focal_point.y);
    (dx.hypot(dy) * DISTANCE_SCALE).round() as u64
}

fn encode_run(seats: &[RunSeat], categories: &HashMap<String, char>) -> String {
    let ids: Vec<&str> = seats.iter().map(|s| s.seat.id.as_str()).collect();
    // Six digits each (up to 9,999.99 chart units), so the script reads seat k's at a fixed
    // offset without splitting the list.
    let distances: String = seats
        .iter()
        .map(|s| format!("{:06}", s.distance.min(999_999)))
        .collect();
    let kinds: String = seats
        .iter()
        .map(|s| match s.seat {
            seat if seat.blocked => 'x',
            seat if seat.accessible => 'w',
            seat if seat.companion => 'c',
            _ => 'r',
        })
        .collect();
    let cats: String = seats
        .iter()
        .map(|s| categories.get(&s.seat.category).copied().unwrap_or('?'))
        .collect();
    format!("{}|{distances}|{kinds}|{cats}", ids.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_is_a_run_per_row_searched_from_the_front() {
        let layout = BestLayout::of(&Chart::grid("t", 2, 3));
        // The stage is 2 units in front of row A's middle (x = 1).
        assert_eq!(
            layout.runs,
            [
                "A1,A2,A3|000224000200000224|rrr|AAA",
                "B1,B2,B3|000316000300000316|rrr|AAA"
            ]
        );
        assert_eq!(layout.orders["all"], "1:200,2:300");
        assert_eq!(layout.orders["s:GRID"], "1:200,2:300");
        assert_eq!(layout.orders["c:standard"], "1:200,2:300");
        assert!(!layout.orders.contains_key(ORDER_ACCESSIBLE));
        assert_eq!(layout.category_char("standard"), Some('A'));
        assert!(layout.has_section("GRID"));
        assert!(!layout.has_section("X"));
    }

    #[test]
    fn the_arena_has_runs_for_every_kind_of_request() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../venues/arena.json"))
                .expect("the arena chart");
        let chart = Chart::parse(&text).expect("a valid chart");
        let layout = BestLayout::of(&chart);
        let seats_in_runs: usize = layout
            .runs
            .iter()
            .map(|run| {
                run.split('|')
                    .nth(2)
                    .unwrap()
                    .chars()
                    .filter(|k| *k != 'x')
                    .count()
            })
            .sum();
        assert_eq!(seats_in_runs, chart.seats().filter(|s| !s.blocked).count());
        assert!(layout.orders.contains_key(ORDER_ACCESSIBLE));
        for category in &chart.categories {
            assert!(
                layout.orders.contains_key(&format!("c:{}", category.id)),
                "{}",
                category.id
            );
        }
    }
}
