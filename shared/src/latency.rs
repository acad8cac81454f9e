//! The histogram buckets both services use for the latencies a user waits on, so the booking
//! service's request durations and the edge's command and delivery durations line up on one
//! dashboard and the 500 ms alert threshold is a bucket edge.

/// Bucket upper bounds in seconds: 1 ms to 10 s, roughly 1-2.5-5 per decade.
pub const LATENCY_BUCKETS_SECONDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
