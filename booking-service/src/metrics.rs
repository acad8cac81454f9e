//! Prometheus metrics: requests and their durations by route and status, seat changes by kind,
//! seats by status, Redis latency, the outbox relay, the waiting room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::WaitingRoomView;

/// How long the gauges keep a report before any report may replace it, newer or not. Reports
/// come every 200 ms (the waiting room's clock), so only a counter that went back waits this.
const GAUGE_REPORT_STALE: Duration = Duration::from_secs(5);

/// What prometheus-client's text encoder writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeatCountLabels {
    venue: String,
    /// available, held, booked
    status: &'static str,
}

/// A request-duration histogram with the shared latency buckets (1 ms .. 10 s).
fn latency_histogram() -> Histogram {
    Histogram::new(shared::latency::LATENCY_BUCKETS_SECONDS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabel {
    /// redis, nats
    dependency: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VenueLabel {
    venue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabels {
    venue: String,
    /// held, booked, released, expired, reset
    kind: &'static str,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    seats: Family<SeatCountLabels, Gauge>,
    dependency_up: Family<DependencyLabel, Gauge>,
    changes: Family<ChangeLabels, Counter>,
    redis_latency: Histogram,
    relayed: Counter,
    waiting_room_waiting: Family<VenueLabel, Gauge>,
    waiting_room_shoppers: Family<VenueLabel, Gauge>,
    waiting_room_admissions: Family<VenueLabel, Counter>,
    waiting_room_wait: Histogram,
    /// Per venue, the number of the newest waiting-room report the gauges show, and when.
    waiting_room_gauges_from: Mutex<HashMap<String, (u64, std::time::Instant)>>,
    relay_skipped: Counter,
    sessions: Counter,
}

/// Cheap to clone; every clone records into the same registry.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("booking");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let request_durations =
            Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration by route and status, from the request read to the answer ready",
            request_durations.clone(),
        );
        let seats = Family::<SeatCountLabels, Gauge>::default();
        registry.register(
            "seats",
            "Seats for sale by venue and status (available, held, booked), read from Redis at each scrape",
            seats.clone(),
        );
        let dependency_up = Family::<DependencyLabel, Gauge>::default();
        registry.register(
            "dependency_up",
            "1 when Redis (answers a PING within 1 s) or NATS (connected) is reachable at the scrape, else 0",
            dependency_up.clone(),
        );
        let changes = Family::<ChangeLabels, Counter>::default();
        registry.register(
            "seat_changes",
            "Seat changes by kind: held, booked, released, expired, reset",
            changes.clone(),
        );
        // 50 µs .. ~1.6 s
        let redis_latency = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "redis_roundtrip_seconds",
            "Latency of seat scripts in Redis",
            redis_latency.clone(),
        );
        let relayed = Counter::default();
        registry.register(
            "outbox_relayed",
            "Outbox events published to NATS and confirmed by a flush",
            relayed.clone(),
        );
        let relay_skipped = Counter::default();
        registry.register(
            "outbox_trimmed_unpublished",
            "Outbox events trimmed before the relay published them (relay down for longer than EVENT_HISTORY changes)",
            relay_skipped.clone(),
        );
        let waiting_room_waiting = Family::<VenueLabel, Gauge>::default();
        registry.register(
            "queue_waiting",
            "Identities waiting in the venue's waiting room",
            waiting_room_waiting.clone(),
        );
        let waiting_room_shoppers = Family::<VenueLabel, Gauge>::default();
        registry.register(
            "queue_shoppers",
            "Identities admitted to shop in the venue now",
            waiting_room_shoppers.clone(),
        );
        let waiting_room_admissions = Family::<VenueLabel, Counter>::default();
        registry.register(
            "queue_admissions",
            "Identities admitted from the waiting room (rate() per minute: admissions per minute)",
            waiting_room_admissions.clone(),
        );
        // 1 s .. ~4.5 h
        let waiting_room_wait = Histogram::new(exponential_buckets(1.0, 2.0, 15));
        registry.register(
            "queue_wait_seconds",
            "Time from joining the waiting room to admission",
            waiting_room_wait.clone(),
        );
        let sessions = Counter::default();
        registry.register(
            "sessions_issued",
            "Identities issued by POST /api/session",
            sessions.clone(),
        );
        Metrics(Arc::new(Inner {
            sessions,
            registry,
            requests,
            request_durations,
            seats,
            dependency_up,
            changes,
            redis_latency,
            relayed,
            relay_skipped,
            waiting_room_waiting,
            waiting_room_shoppers,
            waiting_room_admissions,
            waiting_room_wait,
            waiting_room_gauges_from: Mutex::default(),
        }))
    }

    /// Counts a request and records how long it took. `route` is the matched route template
    /// (or `unmatched`), never the raw path, so the label set stays bounded.
    pub fn observe_request(&self, route: &str, status: u16, elapsed: Duration) {
        let labels = RequestLabels {
            route: route.to_owned(),
            status,
        };
        self.0.requests.get_or_create(&labels).inc();
        self.0
            .request_durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn set_dependency_up(&self, dependency: &'static str, up: bool) {
        self.0
            .dependency_up
            .get_or_create(&DependencyLabel { dependency })
            .set(i64::from(up));
    }

    /// Makes the venue's waiting-room series exist (at 0 until a report says otherwise), so a
    /// dashboard or alert reads 0, not "no data", while the room is off.
    pub fn show_waiting_room(&self, venue: &str) {
        let label = VenueLabel {
            venue: venue.to_owned(),
        };
        let _ = self.0.waiting_room_waiting.get_or_create(&label);
        let _ = self.0.waiting_room_shoppers.get_or_create(&label);
        let _ = self.0.waiting_room_admissions.get_or_create(&label);
    }

    /// Sets the venue's seat counts by status.
    pub fn set_seats(&self, venue: &str, available: usize, held: usize, booked: usize) {
        for (status, count) in [("available", available), ("held", held), ("booked", booked)] {
            self.0
                .seats
                .get_or_create(&SeatCountLabels {
                    venue: venue.to_owned(),
                    status,
                })
                .set(count as i64);
        }
    }

    pub fn count_change(&self, venue: &str, kind: &'static str) {
        self.0
            .changes
            .get_or_create(&ChangeLabels {
                venue: venue.to_owned(),
                kind,
            })
            .inc();
    }

    pub fn observe_redis(&self, elapsed: Duration) {
        self.0.redis_latency.observe(elapsed.as_secs_f64());
    }

    pub fn count_session(&self) {
        self.0.sessions.inc();
    }

    /// Records what a waiting-room script saw. Replies arrive in any order (presence reports
    /// of several edges and the clock run concurrently), so the gauges take a report's sizes
    /// only when it is newer, by the number Redis gave it, than the one they show: an older
    /// count never overwrites a newer one. Admissions are counted from every report (each one
    /// is in exactly one).
    pub fn observe_waiting_room(&self, venue: &str, report: &WaitingRoomView) {
        self.observe_waiting_room_at(venue, report, std::time::Instant::now());
    }

    fn observe_waiting_room_at(
        &self,
        venue: &str,
        report: &WaitingRoomView,
        now: std::time::Instant,
    ) {
        let label = VenueLabel {
            venue: venue.to_owned(),
        };
        {
            // Compared and set under one lock, so two reports cannot interleave between the
            // check and the write. A std Mutex: nothing awaits while it is held.
            let mut shown = self
                .0
                .waiting_room_gauges_from
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let (newest, set_at) = shown.entry(venue.to_owned()).or_insert((0, now));
            // A number below the newest is an older report, unless the newest is long gone: a
            // counter that went back (a restored or promoted Redis that had not seen the last
            // reports) must not freeze the gauges until it climbs back.
            if report.number > *newest || now.duration_since(*set_at) > GAUGE_REPORT_STALE {
                *newest = report.number;
                *set_at = now;
                self.0
                    .waiting_room_waiting
                    .get_or_create(&label)
                    .set(report.waiting as i64);
                self.0
                    .waiting_room_shoppers
                    .get_or_create(&label)
                    .set(report.shoppers as i64);
            }
        }
        self.0
            .waiting_room_admissions
            .get_or_create(&label)
            .inc_by(report.admitted_waits_ms.len() as u64);
        for wait in &report.admitted_waits_ms {
            self.0.waiting_room_wait.observe(*wait as f64 / 1000.0);
        }
    }

    pub fn count_relayed(&self, events: u64) {
        self.0.relayed.inc_by(events);
    }

    pub fn count_relay_skipped(&self, events: u64) {
        self.0.relay_skipped.inc_by(events);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.0.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(number: u64, shoppers: u64) -> WaitingRoomView {
        WaitingRoomView {
            number,
            waiting: 50 - shoppers,
            shoppers,
            admitted_waits_ms: vec![0],
            standings: Vec::new(),
        }
    }

    #[test]
    fn an_older_report_never_overwrites_the_gauges() {
        let metrics = Metrics::new();
        metrics.observe_waiting_room("main", &report(2, 10));
        metrics.observe_waiting_room("main", &report(1, 9));
        let text = metrics.render();
        assert!(
            text.contains("booking_queue_shoppers{venue=\"main\"} 10"),
            "{text}"
        );
        assert!(
            text.contains("booking_queue_waiting{venue=\"main\"} 40"),
            "{text}"
        );
        assert!(
            text.contains("booking_queue_admissions_total{venue=\"main\"} 2"),
            "every report's admissions count: {text}"
        );
        metrics.observe_waiting_room("main", &report(3, 8));
        let text = metrics.render();
        assert!(
            text.contains("booking_queue_shoppers{venue=\"main\"} 8"),
            "{text}"
        );
    }

    #[test]
    fn a_counter_that_went_back_holds_the_gauges_for_seconds_not_until_it_climbs_back() {
        let metrics = Metrics::new();
        let start = std::time::Instant::now();
        metrics.observe_waiting_room_at("main", &report(1_000_000, 10), start);
        // A restored Redis numbers its reports from far below.
        let later = start + Duration::from_secs(1);
        metrics.observe_waiting_room_at("main", &report(5, 7), later);
        assert!(metrics
            .render()
            .contains("booking_queue_shoppers{venue=\"main\"} 10"));
        let stale = start + GAUGE_REPORT_STALE + Duration::from_millis(1);
        metrics.observe_waiting_room_at("main", &report(6, 6), stale);
        metrics.observe_waiting_room_at("main", &report(7, 5), stale);
        let text = metrics.render();
        assert!(
            text.contains("booking_queue_shoppers{venue=\"main\"} 5"),
            "{text}"
        );
    }
}
