//! The chart file as a person writes it: sections given row by row, or as blocks of N rows of
//! M seats placed by origin, spacing, rotation and curvature, with per-row overrides. Only the
//! shape is checked here (types, unknown fields); `expand` checks the meaning.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A point in chart units. Charts use screen axes: `x` to the right, `y` downwards.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// A price category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub label: String,
    /// `#rgb` or `#rrggbb`.
    pub color: String,
    /// In minor units (cents): 6500 with `EUR` is 65.00 EUR.
    pub price: u64,
    /// ISO 4217, upper case (`EUR`).
    pub currency: String,
}

/// A label written as a string or a whole number (`"F"`, `14`, `"14"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Label {
    Text(String),
    Number(u64),
}

impl Label {
    pub fn text(&self) -> String {
        match self {
            Label::Text(text) => text.trim().to_ascii_uppercase(),
            Label::Number(n) => n.to_string(),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartFile {
    pub title: String,
    /// The stage: what best available measures distance from.
    pub focal_point: Point,
    #[serde(default)]
    pub single_seat_rule: bool,
    pub categories: Vec<Category>,
    pub sections: Vec<SectionFile>,
}

/// A section: explicit `rows`, or one `block`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionFile {
    pub id: Label,
    #[serde(default)]
    pub label: Option<String>,
    /// The category of seats that name none.
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub rows: Option<Vec<RowFile>>,
    #[serde(default)]
    pub block: Option<BlockFile>,
}

/// One row written seat by seat; `"aisle"` between two seats marks an aisle there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowFile {
    pub label: Label,
    #[serde(default)]
    pub category: Option<String>,
    pub seats: Vec<RowItemFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RowItemFile {
    /// Must be the string `"aisle"`.
    Marker(String),
    Seat(SeatFile),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatFile {
    pub number: Label,
    pub x: f64,
    pub y: f64,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub accessible: bool,
    #[serde(default)]
    pub companion: bool,
    #[serde(default)]
    pub blocked: bool,
    /// Ignored if absent; when present (a served chart read back) it must be the seat's id.
    #[serde(default)]
    pub id: Option<String>,
}

fn one() -> f64 {
    1.0
}

fn first_label() -> Label {
    Label::Text("A".into())
}

fn first_number() -> u32 {
    1
}

/// `rows` rows of `seats` seats. Row 1 is nearest the stage; seat 1 is at the block's left as
/// drawn before rotation. `origin` is the middle of the front row; `rotation` (degrees,
/// clockwise) turns the block about it; `radius` > 0 curves every row around a centre that
/// far in front of the front row (row k then has radius `radius + k * row_spacing`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockFile {
    pub rows: u16,
    pub seats: u16,
    /// The front row's label: letters continue `A`, `B`, … `Z`, `AA`; digits continue `1`, `2`.
    #[serde(default = "first_label")]
    pub first_row: Label,
    #[serde(default = "first_number")]
    pub first_seat: u32,
    pub origin: Point,
    #[serde(default = "one")]
    pub seat_spacing: f64,
    #[serde(default = "one")]
    pub row_spacing: f64,
    /// Extra room an aisle takes in a row (default: one seat's spacing).
    #[serde(default)]
    pub aisle_width: Option<f64>,
    #[serde(default)]
    pub rotation: f64,
    #[serde(default)]
    pub radius: f64,
    /// Seat numbers with an aisle after them, in every row.
    #[serde(default)]
    pub aisles_after: Vec<u32>,
    /// Keyed by a row label (`"F"`) or an inclusive range (`"A-E"`).
    #[serde(default)]
    pub row_overrides: BTreeMap<String, RowOverride>,
}

/// What differs in some rows of a block. Lists name seat numbers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowOverride {
    /// This many seats instead of the block's (the row stays centred).
    #[serde(default)]
    pub seats: Option<u16>,
    #[serde(default)]
    pub category: Option<String>,
    /// No seat at these numbers (the room stays).
    #[serde(default)]
    pub skip: Vec<u32>,
    /// Replaces the block's aisles for these rows.
    #[serde(default)]
    pub aisles_after: Option<Vec<u32>>,
    #[serde(default)]
    pub blocked: Vec<u32>,
    /// Every seat of the row is blocked.
    #[serde(default)]
    pub blocked_row: bool,
    #[serde(default)]
    pub accessible: Vec<u32>,
    #[serde(default)]
    pub companion: Vec<u32>,
}
