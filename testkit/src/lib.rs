//! Test support: starts real `redis-server`, `nats-server` and service processes on free ports
//! in temporary directories, and watches NATS events. Nothing here is a mock.

pub mod events;
pub mod http;
pub mod process;

pub use events::EventLog;
pub use http::Api;
pub use process::{free_port, NatsServer, RedisServer, ServiceProcess};

/// A fresh, valid client token (`tok-` + 32 hex digits).
pub fn token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "tok-{:016x}{:016x}",
        std::process::id() as u64 ^ nanos as u64,
        n
    )
}

/// Polls `check` every 20 ms until it returns true or `timeout` passes.
pub async fn eventually(timeout: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
