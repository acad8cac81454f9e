//! The configured venues: each `VENUES` entry made into the seats it sells and the chart it
//! serves. Chart files are read and checked here, once, at start: a broken one stops the
//! service with the file, the JSON path of the fault and what is wrong.

use std::sync::Arc;

use serde::Serialize;
use shared::chart::Chart;
use shared::{Layout, VenueEntry, VenueSeats};

use crate::best_layout::BestLayout;
use crate::runs::SeatRuns;

/// One venue, ready to serve.
#[derive(Debug, Clone)]
pub struct VenueDefinition {
    pub name: String,
    pub seats: Arc<VenueSeats>,
    pub chart: Arc<ServedChart>,
    /// The runs the single-seat rule judges; `None` while the rule is off for this venue
    /// (a chart turns it on with `"single_seat_rule": true`, grids with `SINGLE_SEAT_RULE=1`).
    pub runs: Option<Arc<SeatRuns>>,
    /// What best available searches.
    pub best: Arc<BestLayout>,
}

/// `GET /api/venues/{venue}/chart`, serialised and gzipped once: it changes only with the file.
#[derive(Debug)]
pub struct ServedChart {
    /// Shared by every answer without a copy.
    pub body: axum::body::Bytes,
    /// The same bytes gzipped, for clients that accept it.
    pub gzipped: axum::body::Bytes,
    /// Strong, of the uncompressed body; the gzipped answer carries it weak (`W/…`): the same
    /// content in another encoding.
    pub etag: String,
}

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .expect("gzip into memory cannot fail")
}

/// The chart's JSON: the chart file written out, with the venue's name and layout.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChartBody<'a> {
    venue: &'a str,
    layout: Layout,
    #[serde(flatten)]
    chart: &'a Chart,
}

impl VenueDefinition {
    fn new(name: &str, layout: Layout, chart: &Chart, seats: VenueSeats) -> VenueDefinition {
        let body = serde_json::to_vec(&ChartBody {
            venue: name,
            layout,
            chart,
        })
        .expect("a chart always serialises");
        VenueDefinition {
            name: name.to_owned(),
            seats: Arc::new(seats),
            best: Arc::new(BestLayout::of(chart)),
            runs: chart
                .single_seat_rule
                .then(|| Arc::new(SeatRuns::of(chart))),
            chart: Arc::new(ServedChart {
                etag: shared::chart::etag(&body),
                gzipped: gzip(&body).into(),
                body: body.into(),
            }),
        }
    }

    /// Seats that can be sold (`{name}:{layout}:{seats}` in the start-up log).
    pub fn summary(&self) -> String {
        let seats = &self.seats;
        match seats.layout {
            Layout::Grid => format!("{}:{}x{}", self.name, seats.rows, seats.cols),
            Layout::Chart => format!("{}:chart of {} seats for sale", self.name, seats.len()),
        }
    }
}

/// Turns the single-seat rule on for every grid venue (`SINGLE_SEAT_RULE=1`), the served chart
/// saying so too; charts say for themselves.
pub fn with_grid_single_seat_rule(venues: Vec<VenueDefinition>) -> Vec<VenueDefinition> {
    venues
        .into_iter()
        .map(|venue| {
            if venue.seats.layout != Layout::Grid {
                return venue;
            }
            let mut grid = Chart::grid(&venue.name, venue.seats.rows, venue.seats.cols);
            grid.single_seat_rule = true;
            let seats = VenueSeats::grid(venue.seats.rows, venue.seats.cols);
            VenueDefinition::new(&venue.name, Layout::Grid, &grid, seats)
        })
        .collect()
}

/// Makes every entry a venue, reading chart files (a relative path is relative to the working
/// directory).
pub fn load(entries: &[VenueEntry]) -> Result<Vec<VenueDefinition>, String> {
    entries.iter().map(load_one).collect()
}

fn load_one(entry: &VenueEntry) -> Result<VenueDefinition, String> {
    match entry {
        VenueEntry::Grid(spec) => {
            let chart = Chart::grid(&spec.name, spec.rows, spec.cols);
            Ok(VenueDefinition::new(
                &spec.name,
                Layout::Grid,
                &chart,
                VenueSeats::grid(spec.rows, spec.cols),
            ))
        }
        VenueEntry::Chart { name, path } => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                format!("venue '{name}': cannot read the chart file {path}: {error}")
            })?;
            let chart = Chart::parse(&text).map_err(|error| {
                format!("venue '{name}': the chart file {path} is not valid at {error}")
            })?;
            let seats = VenueSeats::chart(&chart);
            Ok(VenueDefinition::new(name, Layout::Chart, &chart, seats))
        }
    }
}
