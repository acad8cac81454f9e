//! What `GET /metrics` tells an operator after real requests: request durations labelled by the
//! route template (never the raw path), the seats left per venue, and whether Redis and NATS
//! answer.

use testkit::token;

mod support;
use support::Stack;

/// The value of the sample named exactly `series` (name and labels as rendered).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_durations_are_labelled_by_route_template_and_status() {
    let stack = Stack::start(&[]).await;
    assert_eq!(stack.api.get("/api/venues/main").await.status, 200);
    assert_eq!(stack.api.get("/api/venues/main").await.status, 200);
    assert_eq!(stack.api.get("/api/venues/no-such-venue").await.status, 404);
    assert_eq!(stack.api.get("/no/such/path/12345").await.status, 404);

    let metrics = stack.api.get("/metrics").await.body;
    let metrics = metrics.as_str().expect("text");
    let count = |route: &str, status: u16| {
        sample(
            metrics,
            &format!(
                "booking_http_request_duration_seconds_count{{route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(count("/api/venues/{venue}", 200), Some(2.0), "{metrics}");
    assert_eq!(count("/api/venues/{venue}", 404), Some(1.0), "{metrics}");
    assert_eq!(count("unmatched", 404), Some(1.0), "{metrics}");
    // Buckets from 1 ms to 10 s, and +Inf (prometheus-client writes `le` first).
    for le in ["0.001", "0.5", "10.0", "+Inf"] {
        let bucket = format!(
            "booking_http_request_duration_seconds_bucket{{le=\"{le}\",route=\"/api/venues/{{venue}}\",status=\"200\"}}"
        );
        assert!(
            sample(metrics, &bucket).is_some(),
            "no bucket le={le}: {metrics}"
        );
    }
    for raw in ["no-such-venue", "/no/such/path", "12345"] {
        assert!(
            !metrics.contains(raw),
            "a raw path in a label: {raw}\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_by_status_are_counted_at_each_scrape() {
    let stack = Stack::start(&[]).await;
    let (alice, bob) = (token(), token());
    assert_eq!(stack.api.seat("select", "A1", &alice).await.code(), "OK");
    assert_eq!(stack.api.seat("select", "A2", &bob).await.code(), "OK");
    assert_eq!(stack.api.seat("book", "A2", &bob).await.code(), "OK");

    let metrics = stack.api.get("/metrics").await.body;
    let metrics = metrics.as_str().expect("text");
    let seats = |status: &str| {
        sample(
            metrics,
            &format!("booking_seats{{venue=\"main\",status=\"{status}\"}}"),
        )
    };
    assert_eq!(seats("available"), Some(98.0), "{metrics}");
    assert_eq!(seats("held"), Some(1.0), "{metrics}");
    assert_eq!(seats("booked"), Some(1.0), "{metrics}");
    // The waiting room is off: its series read 0 rather than missing.
    for series in [
        "booking_queue_waiting{venue=\"main\"}",
        "booking_queue_shoppers{venue=\"main\"}",
        "booking_queue_admissions_total{venue=\"main\"}",
    ] {
        assert_eq!(sample(metrics, series), Some(0.0), "{series}: {metrics}");
    }
    for dependency in ["redis", "nats"] {
        let up = format!("booking_dependency_up{{dependency=\"{dependency}\"}}");
        assert_eq!(sample(metrics, &up), Some(1.0), "{metrics}");
    }

    assert_eq!(stack.api.seat("release", "A1", &alice).await.code(), "OK");
    let metrics = stack.api.get("/metrics").await.body;
    let metrics = metrics.as_str().expect("text");
    assert_eq!(
        sample(
            metrics,
            "booking_seats{venue=\"main\",status=\"available\"}"
        ),
        Some(99.0),
        "{metrics}"
    );
}
