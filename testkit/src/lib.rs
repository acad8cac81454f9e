//! Test support: starts real `redis-server`, `nats-server` and service processes on free ports
//! in temporary directories, watches NATS events, and watches the seat map as WebSocket viewers.
//! Nothing here is a mock.

pub mod charts;
pub mod cluster;
pub mod events;
pub mod http;
pub mod process;
pub mod view;
pub mod viewer;

pub use charts::{shipped_chart, ShippedChart};
pub use cluster::{NatsCluster, RedisCluster};
pub use events::EventLog;
pub use http::{seats_of, Api, Seats};
pub use process::{free_port, NatsServer, RedisServer, ServiceProcess};
pub use view::{standings_of, taken, View, ViewerStanding};
pub use viewer::{Options, Reading, Viewer};

/// The `TOKEN_SECRET` of this test run: one per test process, handed to every service it starts.
pub fn token_secret() -> &'static str {
    static SECRET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SECRET.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("test-secret-{:x}-{nanos:x}", std::process::id())
    })
}

/// A fresh client token, signed with this run's secret as the services would issue it.
pub fn token() -> String {
    signer().issue().as_str().to_owned()
}

/// Issues and checks tokens with this run's secret.
pub fn signer() -> shared::TokenSigner {
    shared::TokenSigner::new(token_secret()).expect("the test secret is long enough")
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

/// Refuses `url` unless it names this machine: `tool` (which starts processes, kills them, or
/// sends load) never touches anyone else's host.
pub fn loopback_only(url: &str, tool: &str) -> Result<(), String> {
    if shared::is_loopback_url(url) {
        Ok(())
    } else {
        Err(format!("{url}: {tool} only works on loopback addresses"))
    }
}
