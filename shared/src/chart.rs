//! Seating charts: the file format a person writes (`file`), its checked expansion into every
//! seat with its id, position and category (`expand`), and the chart a grid venue stands for.
//! Pure: reading the file is the caller's job.

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::seat::SeatId;

mod block;
mod expand;
pub mod file;

pub use file::{Category, Point};

/// A chart with every seat written out: what `GET /api/venues/{venue}/chart` serves. Its JSON
/// is itself a valid chart file (explicit rows only).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Chart {
    pub title: String,
    pub focal_point: Point,
    pub single_seat_rule: bool,
    pub categories: Vec<Category>,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Section {
    pub id: String,
    pub label: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Row {
    pub label: String,
    /// Seats in order, with `"aisle"` where an aisle runs between two of them.
    pub seats: Vec<RowItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowItem {
    Seat(ChartSeat),
    Aisle,
}

impl Serialize for RowItem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RowItem::Seat(seat) => seat.serialize(serializer),
            RowItem::Aisle => serializer.serialize_str("aisle"),
        }
    }
}

/// Serialised by hand (a seat object or the string `"aisle"`), so its schema is written out too.
impl utoipa::PartialSchema for RowItem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("ChartSeat"))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["aisle"])),
            )
            .into()
    }
}

impl utoipa::ToSchema for RowItem {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "ChartSeat".into(),
            <ChartSeat as utoipa::PartialSchema>::schema(),
        ));
        <ChartSeat as utoipa::ToSchema>::schemas(schemas);
    }
}

fn is_false(flag: &bool) -> bool {
    !flag
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChartSeat {
    /// `{section}-{row}-{number}` (grids: `A1`).
    pub id: String,
    pub number: String,
    pub x: f64,
    pub y: f64,
    pub category: String,
    /// A wheelchair space.
    #[serde(skip_serializing_if = "is_false")]
    pub accessible: bool,
    /// Beside a wheelchair space, for a companion.
    #[serde(skip_serializing_if = "is_false")]
    pub companion: bool,
    /// Never for sale.
    #[serde(skip_serializing_if = "is_false")]
    pub blocked: bool,
}

/// Why a chart file was refused: where (a JSON path like `$.sections[2].block.rows`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ChartError {
    pub path: String,
    pub message: String,
}

impl Chart {
    /// Reads and checks a chart file's text.
    pub fn parse(text: &str) -> Result<Chart, ChartError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let file: file::ChartFile =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
                let path = error.path().to_string();
                let message = error.inner().to_string();
                ChartError {
                    path: if path == "." || path == "?" {
                        "$".into()
                    } else {
                        format!("$.{path}")
                    },
                    message,
                }
            })?;
        expand::expand(file)
    }

    /// The chart of a `rows` x `cols` grid: one section, unit spacing, the stage in front of
    /// row A's middle, one category.
    pub fn grid(title: &str, rows: u16, cols: u16) -> Chart {
        let rows = (0..rows)
            .map(|row| Row {
                label: crate::seat::row_label(row),
                seats: (0..cols)
                    .map(|col| {
                        RowItem::Seat(ChartSeat {
                            id: SeatId { row, col }.to_string(),
                            number: (col + 1).to_string(),
                            x: f64::from(col),
                            y: f64::from(row),
                            category: "standard".into(),
                            accessible: false,
                            companion: false,
                            blocked: false,
                        })
                    })
                    .collect(),
            })
            .collect();
        Chart {
            title: title.into(),
            focal_point: Point {
                x: f64::from(cols.saturating_sub(1)) / 2.0,
                y: -2.0,
            },
            single_seat_rule: false,
            categories: vec![Category {
                id: "standard".into(),
                label: "Standard".into(),
                color: "#4a90d9".into(),
                price: 0,
                currency: "EUR".into(),
            }],
            sections: vec![Section {
                id: "GRID".into(),
                label: "Seats".into(),
                rows,
            }],
        }
    }

    /// Every seat, section by section, row by row, in order.
    pub fn seats(&self) -> impl Iterator<Item = &ChartSeat> {
        self.sections
            .iter()
            .flat_map(|s| &s.rows)
            .flat_map(|r| &r.seats)
            .filter_map(|item| match item {
                RowItem::Seat(seat) => Some(seat),
                RowItem::Aisle => None,
            })
    }
}

/// A strong `ETag` for a body: the same bytes give the same tag on every service.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

#[cfg(test)]
#[path = "chart/tests.rs"]
mod tests;
