//! The booking service against real redis-server and nats-server processes, with every NATS
//! event watched: what each test file of the booking service starts from.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{Api, EventLog, NatsServer, RedisServer, ServiceProcess};

pub const BINARY: &str = env!("CARGO_BIN_EXE_booking-service");

/// Redis, NATS, one booking service and a NATS watcher.
pub struct Stack {
    pub redis: RedisServer,
    pub nats: NatsServer,
    pub service: ServiceProcess,
    pub api: Api,
    pub events: EventLog,
}

impl Stack {
    pub async fn start(extra_env: &[(&str, &str)]) -> Stack {
        let redis = RedisServer::start();
        let nats = NatsServer::start();
        let events = EventLog::subscribe(&nats.url()).await;
        let mut env = vec![
            ("REDIS_URL", redis.url()),
            ("NATS_URL", nats.url()),
            ("ADMIN_TOKEN", "admin-secret".to_string()),
        ];
        env.extend(extra_env.iter().map(|(k, v)| (*k, v.to_string())));
        let service = ServiceProcess::start(BINARY, &env).await;
        let api = Api::new(service.base_url());
        let stack = Stack {
            redis,
            nats,
            service,
            api,
            events,
        };
        stack.wait_healthy().await;
        stack
    }

    pub async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let health = self.api.get("/health").await;
            if health.status == 200 {
                assert_eq!(health.body, json!({"status": "ok"}));
                return;
            }
            assert!(
                Instant::now() < deadline,
                "service never became healthy: {:?}\n{}",
                health.body,
                self.service.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn seat_status(&self, seat: &str) -> Value {
        let snapshot = self.api.get("/api/venues/main").await;
        assert_eq!(snapshot.status, 200, "{:?}", snapshot.body);
        snapshot.body["seats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == seat)
            .cloned()
            .unwrap()
    }
}
