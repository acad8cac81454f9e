//! Prometheus metrics of one edge: connections, commands and their durations, fan-out and event
//! delivery time, gap fills and resyncs, resumes, slow clients, refused origins, NATS,
//! waiting-room reports.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// What prometheus-client's text encoder writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    action: &'static str,
    /// OK or the error code
    result: String,
}

/// A histogram with the shared latency buckets (1 ms .. 10 s).
fn latency_histogram() -> Histogram {
    Histogram::new(shared::latency::LATENCY_BUCKETS_SECONDS)
}

/// Cheap to clone; every clone records into the same registry.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

pub struct Inner {
    registry: Registry,
    pub connections: Gauge,
    /// 1 while the edge is connected to NATS, set at each scrape.
    pub nats_up: Gauge,
    pub connections_total: Counter,
    pub events_received: Counter,
    pub events_fanned_out: Counter,
    pub deliveries: Counter,
    pub states_serialised: Counter,
    pub client_resyncs: Counter,
    pub venue_resyncs: Counter,
    pub slow_client_resyncs: Counter,
    pub slow_clients_dropped: Counter,
    pub history_fills: Counter,
    pub history_gone: Counter,
    pub epoch_changes: Counter,
    pub client_resumes: Counter,
    pub client_resume_misses: Counter,
    pub origins_refused: Counter,
    pub nats_reconnects: Counter,
    pub bad_frames: Counter,
    pub waiting_room_reports: Counter,
    pub waiting_room_report_failures: Counter,
    pub waiting_room_places_sent: Counter,
    pub waiting_room_admitted_sent: Counter,
    /// From an event's receipt from NATS to its update written (or queued, for a client with
    /// a backlog) to every socket watching the venue.
    pub event_delivery: Histogram,
    commands: Family<CommandLabels, Counter>,
    command_durations: Family<CommandLabels, Histogram, fn() -> Histogram>,
}

macro_rules! counter {
    ($registry:ident, $name:literal, $help:literal) => {{
        let metric = Counter::default();
        $registry.register($name, $help, metric.clone());
        metric
    }};
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric. Longer than ~80 lines on purpose: it is a table, one name and
    /// help text per metric in the order `/metrics` lists them, and splitting it would only
    /// scatter the names.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("edge");
        let connections = Gauge::default();
        r.register(
            "connections",
            "Open WebSocket connections",
            connections.clone(),
        );
        let commands = Family::<CommandLabels, Counter>::default();
        r.register(
            "commands",
            "Seat commands by action and result",
            commands.clone(),
        );
        let nats_up = Gauge::default();
        r.register(
            "nats_up",
            "1 while the edge is connected to NATS (read at the scrape), else 0",
            nats_up.clone(),
        );
        let command_durations =
            Family::<CommandLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        r.register(
            "command_duration_seconds",
            "Seat commands from the frame read to the answer written, by action and result",
            command_durations.clone(),
        );
        let event_delivery = latency_histogram();
        r.register(
            "event_delivery_seconds",
            "Seat events from receipt from NATS to the update written or queued to every watching socket",
            event_delivery.clone(),
        );
        let inner = Inner {
            connections,
            nats_up,
            connections_total: counter!(r, "connections_opened", "WebSocket connections opened"),
            events_received: counter!(r, "nats_events_received", "Seat events received from NATS"),
            events_fanned_out: counter!(
                r,
                "events_fanned_out",
                "Seat events applied and sent to clients"
            ),
            deliveries: counter!(
                r,
                "deliveries",
                "Updates written or queued to individual clients"
            ),
            states_serialised: counter!(
                r,
                "venue_states_serialised",
                "VENUE_STATE frames serialised (each is shared by every join at the same seq)"
            ),
            client_resyncs: counter!(
                r,
                "client_resyncs",
                "Clients sent a fresh VENUE_STATE after their venue mirror was rebuilt"
            ),
            venue_resyncs: counter!(
                r,
                "venue_resyncs",
                "Venue mirrors rebuilt from a booking-service snapshot"
            ),
            slow_client_resyncs: counter!(
                r,
                "slow_client_resyncs",
                "Clients whose backlog reached CLIENT_QUEUE and were resynchronised"
            ),
            slow_clients_dropped: counter!(
                r,
                "slow_clients_dropped",
                "Clients disconnected for being too slow"
            ),
            history_fills: counter!(
                r,
                "history_fills",
                "Gaps in a venue mirror filled from the booking service's event history"
            ),
            history_gone: counter!(
                r,
                "history_gone",
                "Gaps the event history could no longer fill (a snapshot rebuild follows)"
            ),
            epoch_changes: counter!(
                r,
                "epoch_changes",
                "Venue mirrors rebuilt because the venue's epoch changed (its data was lost)"
            ),
            client_resumes: counter!(
                r,
                "client_resumes",
                "CONNECTs with after_seq answered with just the missed updates"
            ),
            client_resume_misses: counter!(
                r,
                "client_resume_misses",
                "CONNECTs with after_seq answered with a VENUE_STATE (too old, other epoch)"
            ),
            origins_refused: counter!(
                r,
                "origins_refused",
                "WebSocket upgrades refused with 403 for their Origin"
            ),
            nats_reconnects: counter!(r, "nats_reconnects", "Reconnections to NATS"),
            bad_frames: counter!(r, "bad_frames", "Malformed client frames (bad JSON, unknown type, missing field, binary, too large)"),
            waiting_room_reports: counter!(
                r,
                "queue_reports",
                "Waiting-room presence reports sent to the booking service"
            ),
            waiting_room_report_failures: counter!(
                r,
                "queue_report_failures",
                "Waiting-room presence reports that got no answer"
            ),
            waiting_room_places_sent: counter!(r, "queue_places_sent", "QUEUE messages sent to clients"),
            waiting_room_admitted_sent: counter!(
                r,
                "queue_admitted_sent",
                "ADMITTED messages sent to clients"
            ),
            event_delivery,
            commands,
            command_durations,
            registry: r,
        };
        Metrics(Arc::new(inner))
    }

    /// Counts a seat command's outcome (`OK` or the error code) and records how long the
    /// client waited for it.
    pub fn observe_command(&self, action: &'static str, result: &str, elapsed: Duration) {
        let labels = CommandLabels {
            action,
            result: result.to_owned(),
        };
        self.0.commands.get_or_create(&labels).inc();
        self.0
            .command_durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.0.registry);
        text
    }
}

impl std::ops::Deref for Metrics {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
