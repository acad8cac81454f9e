//! The results rows seatbench writes, one JSON line each, as `scripts/bench.sh` collects them
//! and `scripts/bench/report.py` reads them: the field names are what those read.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::stats::Summary;
use crate::viewers::Protocol;

/// One API run (`kind: "api"`).
#[derive(Debug, Serialize)]
pub struct ApiRow {
    pub kind: &'static str,
    pub label: String,
    /// `seat`, `group` or `best`.
    pub mode: String,
    pub concurrency: usize,
    pub requests: u64,
    pub seconds: f64,
    pub per_second: f64,
    /// HTTP status (0 = transport error) → count, for every answer that was not 200.
    pub errors: BTreeMap<u16, u64>,
    pub latency: Summary,
    pub select: Summary,
    pub release: Summary,
    /// Per process name (seatbench's own included).
    pub cpu: BTreeMap<String, ApiCpu>,
    /// Redis's own time running scripts in the measured window (with `--redis`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<crate::redis_stats::ScriptTime>,
}

/// A best-available rush (`kind: "best_rush"`).
#[derive(Debug, Serialize)]
pub struct BestRushRow {
    pub kind: &'static str,
    pub label: String,
    pub venue: String,
    pub concurrency: usize,
    pub asks: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub latency: Summary,
    pub codes: BTreeMap<String, u64>,
    pub seats_held: usize,
    pub violations: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<crate::redis_stats::ScriptTime>,
}

/// CPU of one process over an API run (warm-up included).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ApiCpu {
    pub ms: u64,
    pub us_per_request: f64,
    pub cores: f64,
}

/// One fan-out phase (`kind: "fanout"`).
#[derive(Debug, Serialize)]
pub struct FanoutRow {
    pub kind: &'static str,
    pub label: String,
    pub protocol: Protocol,
    pub viewers: usize,
    pub ready: u64,
    pub connect_failed: u64,
    pub connect_error: Option<String>,
    pub connect_s: f64,
    pub join_p50_ms: f64,
    pub join_p99_ms: f64,
    pub rate: f64,
    pub changes: usize,
    pub change_failures: usize,
    pub achieved_rate: f64,
    pub drain_s: f64,
    /// Whether every delivery arrived (or its viewer closed) before the drain limit.
    pub drained: bool,
    pub latency: Summary,
    /// From the API call to a plain NATS subscriber (the probe).
    pub upstream: Summary,
    /// From the probe to the viewer: the fan-out hop alone.
    pub hop: Summary,
    pub state_bytes: u64,
    pub delivered: u64,
    pub expected: u64,
    pub missing: u64,
    pub resynced: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub closed: u64,
    pub close_reasons: Vec<String>,
    pub cpu: BTreeMap<String, PhaseCpu>,
    /// The viewer processes and the driver together.
    pub client_cpu_ms: u64,
    pub memory: BTreeMap<String, PhaseMemory>,
}

/// CPU of one server over a phase.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PhaseCpu {
    pub ms: u64,
    pub per_1000_deliveries_ms: f64,
}

/// Resident memory of one server: before the viewers connected, once they were idle, and
/// after a phase; and what each connection added.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PhaseMemory {
    pub rss_before_kib: u64,
    pub rss_idle_kib: u64,
    pub rss_after_kib: u64,
    pub idle_kib_per_connection: f64,
    pub after_kib_per_connection: f64,
}

/// Appends `rows` as JSON lines to `path`, when one is given.
pub fn append<T: Serialize>(path: Option<&Path>, rows: &[T]) -> anyhow::Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    for row in rows {
        writeln!(file, "{}", serde_json::to_string(row)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Histogram;

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn an_api_row_has_the_keys_the_report_reads() {
        let none = Histogram::default().summary();
        let cpu = ApiCpu {
            ms: 5,
            us_per_request: 1.0,
            cores: 0.5,
        };
        let row = ApiRow {
            kind: "api",
            label: "api".into(),
            mode: "seat".into(),
            concurrency: 1,
            requests: 2,
            seconds: 1.0,
            per_second: 2.0,
            errors: BTreeMap::from([(0, 1)]),
            latency: none,
            select: none,
            release: none,
            cpu: BTreeMap::from([("edge".to_owned(), cpu)]),
            redis: None,
        };
        let value = serde_json::to_value(&row).unwrap();
        assert_eq!(
            keys(&value),
            [
                "concurrency",
                "cpu",
                "errors",
                "kind",
                "label",
                "latency",
                "mode",
                "per_second",
                "release",
                "requests",
                "seconds",
                "select"
            ]
        );
        assert_eq!(
            keys(&value["cpu"]["edge"]),
            ["cores", "ms", "us_per_request"]
        );
        assert_eq!(value["errors"]["0"], 1);
        assert_eq!(value["kind"], "api");
    }

    #[test]
    fn a_fanout_row_has_the_keys_the_report_reads() {
        let none = Histogram::default().summary();
        let memory = PhaseMemory {
            rss_before_kib: 1,
            rss_idle_kib: 2,
            rss_after_kib: 3,
            idle_kib_per_connection: 0.1,
            after_kib_per_connection: 0.2,
        };
        let cpu = PhaseCpu {
            ms: 1,
            per_1000_deliveries_ms: 0.5,
        };
        let row = FanoutRow {
            kind: "fanout",
            label: "edge".into(),
            protocol: Protocol::Seatmap,
            viewers: 1,
            ready: 1,
            connect_failed: 0,
            connect_error: None,
            connect_s: 0.1,
            join_p50_ms: 1.0,
            join_p99_ms: 2.0,
            rate: 10.0,
            changes: 1,
            change_failures: 0,
            achieved_rate: 10.0,
            drain_s: 0.1,
            drained: true,
            latency: none,
            upstream: none,
            hop: none,
            state_bytes: 100,
            delivered: 1,
            expected: 1,
            missing: 0,
            resynced: 0,
            duplicates: 0,
            out_of_order: 0,
            closed: 0,
            close_reasons: Vec::new(),
            cpu: BTreeMap::from([("edge".to_owned(), cpu)]),
            client_cpu_ms: 3,
            memory: BTreeMap::from([("edge".to_owned(), memory)]),
        };
        let value = serde_json::to_value(&row).unwrap();
        assert_eq!(
            keys(&value),
            [
                "achieved_rate",
                "change_failures",
                "changes",
                "client_cpu_ms",
                "close_reasons",
                "closed",
                "connect_error",
                "connect_failed",
                "connect_s",
                "cpu",
                "delivered",
                "drain_s",
                "drained",
                "duplicates",
                "expected",
                "hop",
                "join_p50_ms",
                "join_p99_ms",
                "kind",
                "label",
                "latency",
                "memory",
                "missing",
                "out_of_order",
                "protocol",
                "rate",
                "ready",
                "resynced",
                "state_bytes",
                "upstream",
                "viewers"
            ]
        );
        assert_eq!(
            keys(&value["cpu"]["edge"]),
            ["ms", "per_1000_deliveries_ms"]
        );
        assert_eq!(
            keys(&value["memory"]["edge"]),
            [
                "after_kib_per_connection",
                "idle_kib_per_connection",
                "rss_after_kib",
                "rss_before_kib",
                "rss_idle_kib"
            ]
        );
        assert_eq!(value["protocol"], "seatmap");
        assert_eq!(value["connect_error"], serde_json::Value::Null);
    }
}
