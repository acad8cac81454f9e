//! The seating charts the repository ships (`venues/*.json`), as tests read them.

use shared::chart::Chart;

/// A shipped chart, with what tests ask of it.
pub struct ShippedChart {
    /// The path to give `VENUES=name:@PATH`.
    pub path: String,
    pub chart: Chart,
    /// The ids of the seats for sale, in chart order (the order state lists them in).
    pub for_sale: Vec<String>,
    /// One seat never for sale.
    pub blocked: String,
}

/// `venues/{name}.json` of this repository, parsed.
pub fn shipped_chart(name: &str) -> ShippedChart {
    let path = format!("{}/../venues/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let chart = Chart::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let for_sale = chart
        .seats()
        .filter(|s| !s.blocked)
        .map(|s| s.id.clone())
        .collect();
    let blocked = chart
        .seats()
        .find(|s| s.blocked)
        .map(|s| s.id.clone())
        .unwrap_or_else(|| panic!("{path} has no blocked seat"));
    ShippedChart {
        path,
        chart,
        for_sale,
        blocked,
    }
}
