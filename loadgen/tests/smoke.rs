//! The fan-out smoke test: 300 viewers over two real edges, 50 changes through the booking API,
//! and every viewer must get every change once, in order. Correctness only, never timing: it
//! runs in `cargo test --workspace` (and so in ./test.sh) beside everything else.
//!
//! Redis and NATS are real processes (testkit); the booking service and the two edges run in
//! this process on real sockets, as the edge tests run the booking service.

use std::collections::HashMap;
use std::time::Duration;

use testkit::{Api, NatsServer, RedisServer};

async fn healthy(url: String) {
    let api = Api::new(url.clone());
    for _ in 0..250 {
        if api.get("/health").await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    panic!("{url} did not become healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_viewers_get_every_change_once_in_order() {
    // seatbench mints its tokens with the stack's secret.
    std::env::set_var("TOKEN_SECRET", testkit::token_secret());
    let redis = RedisServer::start();
    let nats = NatsServer::start();

    let vars: HashMap<&str, String> = HashMap::from([
        ("REDIS_URL", redis.url()),
        ("NATS_URL", nats.url()),
        ("TOKEN_SECRET", testkit::token_secret().to_owned()),
    ]);
    let config = booking_service::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let booking = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(booking_service::run(
        listener,
        config,
        std::future::pending(),
    ));
    healthy(booking.clone()).await;

    let mut edges = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let vars: HashMap<&str, String> = HashMap::from([
            ("BOOKING_URL", booking.clone()),
            ("NATS_URL", nats.url()),
            ("TOKEN_SECRET", testkit::token_secret().to_owned()),
            ("PORT", addr.port().to_string()),
        ]);
        let config = edge_server::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        tokio::spawn(edge_server::run(listener, config, std::future::pending()));
        healthy(format!("http://{addr}")).await;
        edges.push(format!("ws://{addr}/ws"));
    }

    let report = loadgen::smoke::run(&booking, &edges, 300, 50)
        .await
        .unwrap_or_else(|e| panic!("fan-out smoke: {e:#}"));
    assert_eq!(report.delivered, 300 * 50);
    assert_eq!(report.latency.count, 300 * 50);
}
