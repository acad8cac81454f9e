//! Seats: ids (`A1` … `J10`, `AA1` past row Z), statuses, the seat JSON, and venue sizes.

use serde::{Deserialize, Serialize};

/// The state of a seat. On the wire it is a number: 0 available, 1 held, 2 booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum SeatStatus {
    Available = 0,
    Held = 1,
    Booked = 2,
}

impl From<SeatStatus> for u8 {
    fn from(status: SeatStatus) -> u8 {
        status as u8
    }
}

/// On the wire a number, so its schema is written out: an integer, one of 0, 1, 2.
impl utoipa::PartialSchema for SeatStatus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .enum_values(Some([0, 1, 2]))
            .description(Some("0 available, 1 held, 2 booked"))
            .into()
    }
}

impl utoipa::ToSchema for SeatStatus {}

impl TryFrom<u8> for SeatStatus {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(SeatStatus::Available),
            1 => Ok(SeatStatus::Held),
            2 => Ok(SeatStatus::Booked),
            other => Err(format!("unknown seat status {other}")),
        }
    }
}

/// The longest seat id of any venue (grid or chart); longer input is never a seat.
pub const MAX_SEAT_ID_LEN: usize = 32;

/// A seat id as an answer echoes it: trimmed, upper case, and never longer than the longest id,
/// so a client sent garbage gets back at most [`MAX_SEAT_ID_LEN`] characters of it.
pub fn echoed_seat_id(raw: &str) -> String {
    raw.trim()
        .chars()
        .take(MAX_SEAT_ID_LEN)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The label of a 0-based grid row, as spreadsheets name columns: `A` … `Z`, `AA` … `AZ`,
/// `BA` …
pub fn row_label(row: u16) -> String {
    let mut n = u32::from(row) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

/// The 0-based row a label names (upper-case letters only), if it fits a `u16`.
pub fn parse_row_label(label: &str) -> Option<u16> {
    if label.is_empty() || label.len() > 4 || !label.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let n = label
        .bytes()
        .fold(0u32, |n, b| n * 26 + u32::from(b - b'A') + 1);
    u16::try_from(n - 1).ok()
}

/// A seat position inside a venue, 0-based. Displayed as row label + 1-based column (`A1`,
/// `AA12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeatId {
    pub row: u16,
    pub col: u16,
}

/// Why a seat id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatIdError {
    /// Not of the form row letters + column number at all.
    #[error("seat id must be row letters and a column number, like A1")]
    Malformed,
    /// Not of a chart's form `{section}-{row}-{number}` at all.
    #[error(
        "seat id must be section, row and number joined by '-' (letters and digits), like 112-F-14"
    )]
    MalformedChartId,
    /// Well-formed, but outside this venue.
    #[error("there is no seat {0} in this venue")]
    OutOfRange(String),
    /// In the venue's chart, but never for sale.
    #[error("{0} is not for sale")]
    NotForSale(String),
}

impl SeatId {
    /// Parses `A1`-style ids (`AA12` past row Z; letters are case-insensitive) and checks them
    /// against the venue.
    pub fn parse(raw: &str, rows: u16, cols: u16) -> Result<SeatId, SeatIdError> {
        let raw = raw.trim();
        if raw.len() < 2 || raw.len() > MAX_SEAT_ID_LEN || !raw.is_ascii() {
            return Err(SeatIdError::Malformed);
        }
        let canonical = raw.to_ascii_uppercase();
        let split = canonical
            .find(|c: char| !c.is_ascii_uppercase())
            .ok_or(SeatIdError::Malformed)?;
        let (letters, digits) = canonical.split_at(split);
        if letters.is_empty()
            || digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(SeatIdError::Malformed);
        }
        let out_of_range = || SeatIdError::OutOfRange(canonical.clone());
        let row = parse_row_label(letters).ok_or_else(out_of_range)?;
        let col: u16 = digits.parse().map_err(|_| out_of_range())?;
        if row >= rows || col > cols {
            return Err(out_of_range());
        }
        Ok(SeatId { row, col: col - 1 })
    }

    /// Every seat of a `rows` x `cols` venue, row by row.
    pub fn all(rows: u16, cols: u16) -> impl Iterator<Item = SeatId> {
        (0..rows).flat_map(move |row| (0..cols).map(move |col| SeatId { row, col }))
    }
}

impl std::fmt::Display for SeatId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", row_label(self.row), self.col + 1)
    }
}

/// The seat JSON of the contract:
/// `{"id":"A1","row":0,"col":0,"status":1,"held_by":"u-…","expires_at":1763723456}`.
/// Seats of a chart have no `row`/`col`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Deserialize)]
pub struct Seat {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub col: Option<u16>,
    pub status: SeatStatus,
    /// Public id of the holder or booker; present when held or booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// Unix seconds when the hold ends; present when held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl Seat {
    pub fn available(id: SeatId) -> Seat {
        Seat {
            id: id.to_string(),
            row: Some(id.row),
            col: Some(id.col),
            status: SeatStatus::Available,
            held_by: None,
            expires_at: None,
        }
    }
}

/// A venue's name and size, as configured with `VENUES=main:10x10,hall:5x8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueSpec {
    pub name: String,
    pub rows: u16,
    pub cols: u16,
}

impl VenueSpec {
    /// Rows are labelled with one or two letters (`A` … `ZZ`).
    pub const MAX_ROWS: u16 = 702;
    /// Columns are written with at most three digits.
    pub const MAX_COLS: u16 = 999;
    /// Seats in one venue: every one is a Redis key the reset script declares, and a seat in
    /// every snapshot.
    pub const MAX_SEATS: usize = 50_000;

    /// Parses one `name:ROWSxCOLS` entry.
    pub fn parse(entry: &str) -> Result<VenueSpec, String> {
        let entry = entry.trim();
        let (name, size) = entry
            .split_once(':')
            .ok_or_else(|| format!("venue '{entry}' must look like name:ROWSxCOLS"))?;
        if !is_valid_venue_name(name) {
            return Err(format!(
                "venue name '{name}' must be 1-32 characters of a-z, 0-9, '_' or '-'"
            ));
        }
        let (rows, cols) = size
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("venue size '{size}' must look like ROWSxCOLS"))?;
        let rows: u16 = rows
            .parse()
            .map_err(|_| format!("venue rows '{rows}' is not a number"))?;
        let cols: u16 = cols
            .parse()
            .map_err(|_| format!("venue cols '{cols}' is not a number"))?;
        if !(1..=Self::MAX_ROWS).contains(&rows) || !(1..=Self::MAX_COLS).contains(&cols) {
            return Err(format!(
                "venue '{name}' must have 1-{} rows and 1-{} columns",
                Self::MAX_ROWS,
                Self::MAX_COLS
            ));
        }
        if usize::from(rows) * usize::from(cols) > Self::MAX_SEATS {
            return Err(format!(
                "venue '{name}' would have {} seats; at most {} are served",
                usize::from(rows) * usize::from(cols),
                Self::MAX_SEATS
            ));
        }
        Ok(VenueSpec {
            name: name.to_owned(),
            rows,
            cols,
        })
    }

    /// Parses the whole comma-separated `VENUES` list; names must be unique.
    pub fn parse_list(list: &str) -> Result<Vec<VenueSpec>, String> {
        let mut venues: Vec<VenueSpec> = Vec::new();
        for entry in list.split(',').filter(|e| !e.trim().is_empty()) {
            let venue = VenueSpec::parse(entry)?;
            if venues.iter().any(|v| v.name == venue.name) {
                return Err(format!("venue '{}' is listed twice", venue.name));
            }
            venues.push(venue);
        }
        if venues.is_empty() {
            return Err("no venue configured".into());
        }
        Ok(venues)
    }

    pub fn seat_count(&self) -> usize {
        usize::from(self.rows) * usize::from(self.cols)
    }

    pub fn parse_seat(&self, raw: &str) -> Result<SeatId, SeatIdError> {
        SeatId::parse(raw, self.rows, self.cols)
    }
}

/// Venue names appear in Redis keys and NATS subjects, so they are kept to a safe alphabet.
pub fn is_valid_venue_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_inside_the_venue() {
        assert_eq!(SeatId::parse("A1", 10, 10), Ok(SeatId { row: 0, col: 0 }));
        assert_eq!(SeatId::parse("J10", 10, 10), Ok(SeatId { row: 9, col: 9 }));
        assert_eq!(SeatId::parse("d5", 10, 10), Ok(SeatId { row: 3, col: 4 }));
        assert_eq!(SeatId { row: 3, col: 4 }.to_string(), "D5");
    }

    #[test]
    fn refuses_malformed_and_out_of_range_ids() {
        for bad in [
            "", "A", "A0", "A01", "1A", "A-1", "Ä1", "A 1", "A1A", "AA", "11",
        ] {
            assert_eq!(
                SeatId::parse(bad, 10, 10),
                Err(SeatIdError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            SeatId::parse(&"A".repeat(10_000), 10, 10),
            Err(SeatIdError::Malformed)
        );
        for out in ["A11", "K1", "Z99", "AA1", "A1000", "ZZZZZ1"] {
            assert!(
                matches!(SeatId::parse(out, 10, 10), Err(SeatIdError::OutOfRange(_))),
                "{out}"
            );
        }
    }

    #[test]
    fn rows_past_z_are_labelled_like_spreadsheet_columns() {
        let labels: Vec<String> = [0, 25, 26, 27, 51, 52, 99, 701, 702]
            .into_iter()
            .map(row_label)
            .collect();
        assert_eq!(
            labels,
            ["A", "Z", "AA", "AB", "AZ", "BA", "CV", "ZZ", "AAA"]
        );
        for row in 0..=2000 {
            assert_eq!(parse_row_label(&row_label(row)), Some(row));
        }
        assert_eq!(
            SeatId::parse("cv100", 100, 100),
            Ok(SeatId { row: 99, col: 99 })
        );
        assert_eq!(SeatId { row: 99, col: 99 }.to_string(), "CV100");
        assert_eq!(
            SeatId::parse("aa1", 26, 10),
            Err(SeatIdError::OutOfRange("AA1".into()))
        );
    }

    #[test]
    fn echoes_are_canonical_and_bounded() {
        assert_eq!(echoed_seat_id(" cv100 "), "CV100");
        assert_eq!(echoed_seat_id("112-f-14"), "112-F-14");
        assert_eq!(echoed_seat_id(&"x".repeat(100)).len(), MAX_SEAT_ID_LEN);
    }

    #[test]
    fn all_lists_every_seat_once() {
        let ids: Vec<String> = SeatId::all(10, 10).map(|s| s.to_string()).collect();
        assert_eq!(ids.len(), 100);
        assert_eq!(ids.first().unwrap(), "A1");
        assert_eq!(ids.last().unwrap(), "J10");
    }

    #[test]
    fn seat_json_matches_the_contract() {
        let seat = Seat {
            id: "A1".into(),
            row: Some(0),
            col: Some(0),
            status: SeatStatus::Held,
            held_by: Some("u-3f9c2a1b7d4e".into()),
            expires_at: Some(1763723456),
        };
        let json = serde_json::to_string(&seat).unwrap();
        assert_eq!(
            json,
            r#"{"id":"A1","row":0,"col":0,"status":1,"held_by":"u-3f9c2a1b7d4e","expires_at":1763723456}"#
        );
        assert_eq!(serde_json::from_str::<Seat>(&json).unwrap(), seat);
        let free = serde_json::to_string(&Seat::available(SeatId { row: 1, col: 2 })).unwrap();
        assert_eq!(free, r#"{"id":"B3","row":1,"col":2,"status":0}"#);
        assert!(serde_json::from_str::<Seat>(r#"{"id":"A1","row":0,"col":0,"status":3}"#).is_err());
        let chart_seat = Seat {
            id: "112-F-14".into(),
            row: None,
            col: None,
            ..Seat::available(SeatId { row: 0, col: 0 })
        };
        assert_eq!(
            serde_json::to_string(&chart_seat).unwrap(),
            r#"{"id":"112-F-14","status":0}"#
        );
    }

    #[test]
    fn parses_venue_lists() {
        let venues = VenueSpec::parse_list("main:10x10, hall:5x8").unwrap();
        assert_eq!(
            venues[1],
            VenueSpec {
                name: "hall".into(),
                rows: 5,
                cols: 8
            }
        );
        assert_eq!(venues[0].seat_count(), 100);
        for bad in [
            "",
            "main",
            "main:10",
            "main:0x5",
            "main:703x5",
            "main:700x100",
            "Main:1x1",
            "a:1x1,a:2x2",
        ] {
            assert!(VenueSpec::parse_list(bad).is_err(), "{bad}");
        }
    }
}
