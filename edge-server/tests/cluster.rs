//! Beyond one machine: a Redis Cluster (3 masters, 3 replicas), a NATS cluster of 3, two booking
//! services and two edges, each part on its own node of each cluster. Races have one winner
//! across both services and every viewer on every edge converges to the truth, also after the
//! master holding the venue is killed and its replica takes over.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use testkit::{seats_of, token, Api, NatsCluster, RedisCluster, Seats, ServiceProcess, Viewer};

const EDGE_BINARY: &str = env!("CARGO_BIN_EXE_edge-server");

/// A booking service in this process, on its own socket.
async fn booking_service(vars: &[(&str, String)]) -> Api {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain([
            ("TOKEN_SECRET".into(), testkit::token_secret().into()),
            ("USER_RATE_LIMIT".into(), "1000".into()),
        ])
        .collect();
    let config = booking_service::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api::new(format!("http://{}", listener.local_addr().unwrap()));
    tokio::spawn(booking_service::run(
        listener,
        config,
        std::future::pending(),
    ));
    api.wait_healthy(Duration::from_secs(20)).await;
    api
}

async fn truth(api: &Api) -> (u64, Seats) {
    let answer = api.get("/api/venues/main").await;
    try_truth(&answer).unwrap_or_else(|| panic!("no snapshot: {answer:?}"))
}

/// The snapshot once `api` answers one, asking again every 100 ms: right after a failover a service
/// that has not yet learned the new master answers 503 `UNAVAILABLE` (fair: "try again shortly"),
/// and nothing else.
async fn truth_after_failover(api: &Api, within: Duration) -> (u64, Seats) {
    let started = Instant::now();
    let mut refused = 0;
    loop {
        let answer = api.get("/api/venues/main").await;
        if let Some(truth) = try_truth(&answer) {
            println!("a snapshot from the other service after {refused} refusals");
            return truth;
        }
        refused += 1;
        assert_eq!(answer.status, 503, "{answer:?}");
        assert_eq!(answer.body["error"]["code"], "UNAVAILABLE", "{answer:?}");
        assert!(
            started.elapsed() < within,
            "no snapshot within {within:?} of the failover: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The seq and seats of a snapshot answer; `None` for a refusal (a 503 while the cluster fails
/// over is a fair answer: the caller asks again).
fn try_truth(answer: &testkit::http::Answer) -> Option<(u64, Seats)> {
    let seq = answer.body["seq"]
        .as_u64()
        .filter(|_| answer.status == 200)?;
    Some((seq, seats_of(&answer.body["seats"])))
}

/// Waits until every view equals the booking service's snapshot; returns how long it took.
async fn converge(api: &Api, views: &[Viewer], within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let answer = api.get("/api/venues/main").await;
        let Some(expected) = try_truth(&answer) else {
            assert!(
                started.elapsed() < within,
                "no snapshot within {within:?}: {answer:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let behind = views
            .iter()
            .filter(|v| (v.seq().unwrap_or(0), v.seats()) != expected)
            .count();
        if behind == 0 {
            for view in views {
                assert_eq!(
                    view.violations(),
                    Vec::<String>::new(),
                    "a viewer saw a bad frame or seq"
                );
            }
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{behind} of {} viewers still differ from the truth at seq {}",
            views.len(),
            expected.0
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_booking_services_on_redis_and_nats_clusters_sell_each_seat_once() {
    let mut redis = tokio::task::spawn_blocking(|| RedisCluster::start(3, 1))
        .await
        .unwrap();
    let nats = tokio::task::spawn_blocking(|| NatsCluster::start(3))
        .await
        .unwrap();
    let urls = nats.urls();
    let service_vars = |nats_first: usize, id: &str| {
        // Each service prefers a different NATS node; all are listed for failover.
        let mut order: Vec<String> = urls.clone();
        order.rotate_left(nats_first);
        vec![
            ("REDIS_URL", redis.url()),
            ("NATS_URL", order.join(",")),
            ("SERVICE_ID", id.to_owned()),
            ("REDIS_WAIT_REPLICAS", "1".to_owned()),
            ("VENUES", "main:10x10,hall:5x8,annex:4x4".to_owned()),
        ]
    };
    let one = booking_service(&service_vars(0, "booking-one")).await;
    let two = booking_service(&service_vars(1, "booking-two")).await;
    let mut edges = Vec::new();
    for (booking, node) in [(&one, 1), (&two, 2)] {
        let edge = ServiceProcess::start(
            EDGE_BINARY,
            &[
                ("BOOKING_URL", booking.base.clone()),
                ("NATS_URL", urls[node].clone()),
            ],
        )
        .await;
        Api::new(edge.base_url())
            .wait_healthy(Duration::from_secs(20))
            .await;
        edges.push(edge);
    }
    let mut views = Vec::new();
    for edge in &edges {
        for _ in 0..10 {
            views.push(Viewer::connect(&format!("ws://127.0.0.1:{}/ws", edge.port)).await);
        }
    }

    // 40 clients race for one seat, half through each booking service.
    let racers: Vec<String> = (0..40).map(|_| token()).collect();
    let answers = join_all(racers.iter().enumerate().map(|(i, t)| {
        let api = if i.is_multiple_of(2) { &one } else { &two };
        api.seat("select", "E5", t)
    }))
    .await;
    let winners: Vec<usize> = (0..answers.len())
        .filter(|i| answers[*i].code() == "OK")
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one winner across both services: {:?}",
        answers
            .iter()
            .map(|a| a.body.to_string())
            .filter(|b| !b.contains("SEAT_UNAVAILABLE"))
            .collect::<Vec<_>>()
    );
    assert!(answers
        .iter()
        .all(|a| a.code() == "OK" || a.code() == "SEAT_UNAVAILABLE"));
    let winner = &racers[winners[0]];
    let (winner_api, other_api) = if winners[0].is_multiple_of(2) {
        (&one, &two)
    } else {
        (&two, &one)
    };
    assert_eq!(other_api.seat("book", "E5", winner).await.code(), "OK");

    // More changes through both services, with replicas confirming each (REDIS_WAIT_REPLICAS=1).
    let users: Vec<String> = (0..8).map(|_| token()).collect();
    let mut booked = vec!["E5".to_owned()];
    for (i, user) in users.iter().enumerate() {
        let api = if i.is_multiple_of(2) { &one } else { &two };
        let seat = format!("{}{}", (b'A' + i as u8) as char, 2 + i);
        assert_eq!(api.seat("select", &seat, user).await.code(), "OK");
        assert_eq!(api.seat("book", &seat, user).await.code(), "OK");
        booked.push(seat);
    }
    let took = converge(winner_api, &views, Duration::from_secs(5)).await;
    println!("20 viewers on 2 edges converged {took:?} after the last change");
    assert_eq!(truth(&one).await, truth(&two).await, "both services agree");

    // The master that holds the venue dies; its replica takes over.
    let master = redis.master_of("seq:{main}");
    redis.kill9(master);
    let killed = Instant::now();
    let survivor = token();
    let mut answer = one.seat("select", "J10", &survivor).await;
    while answer.code() != "OK" {
        assert_eq!(answer.code(), "UNAVAILABLE", "{:?}", answer.body);
        assert!(killed.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = one.seat("select", "J10", &survivor).await;
    }
    println!(
        "master of {{main}} killed: writes accepted again after {:?}",
        killed.elapsed()
    );
    // The other service may not have heard of the new master yet.
    let (_, seats) = truth_after_failover(&two, Duration::from_secs(30)).await;
    for seat in &booked {
        assert_eq!(
            seats[seat].0, 2,
            "{seat}: a booking confirmed by a replica survives the master's death"
        );
    }
    let took = converge(&two, &views, Duration::from_secs(10)).await;
    println!("every viewer converged {took:?} after the failover's first change");
}
