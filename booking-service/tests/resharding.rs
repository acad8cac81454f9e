//! The booking service while the venue's Redis Cluster slot moves to another master, step by
//! step as the Redis docs give it: seat commands sent while the venue's keys are split
//! between the two masters (TRYAGAIN) or have all moved before the slot is handed over (ASK)
//! are answered once the move completes, not refused, and every connection keeps working.

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use testkit::{token, Api, NatsServer, RedisCluster, ServiceProcess};

const BINARY: &str = env!("CARGO_BIN_EXE_booking-service");

/// `redis-cli -p port args…` (no redirections followed), its output trimmed; panics on an error
/// reply, so a step of the move that Redis refused stops the test where it happened.
fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success() && !text.starts_with("ERR"),
        "redis-cli -p {port} {args:?}: {text}"
    );
    text
}

/// The move of `main`'s slot from its master to another one.
#[derive(Clone)]
struct SlotMove {
    slot: String,
    source: u16,
    target: u16,
    target_id: String,
    masters: Vec<u16>,
}

impl SlotMove {
    /// The first step: the target imports, then the source migrates.
    fn begin(cluster: &RedisCluster) -> SlotMove {
        let source = cluster.master_of("seq:{main}");
        let masters = cluster.ports();
        let target = *masters.iter().find(|p| **p != source).unwrap();
        let slot = cli(source, &["CLUSTER", "KEYSLOT", "seq:{main}"]);
        let source_id = cli(source, &["CLUSTER", "MYID"]);
        let target_id = cli(target, &["CLUSTER", "MYID"]);
        cli(
            target,
            &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id],
        );
        cli(
            source,
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id],
        );
        SlotMove {
            slot,
            source,
            target,
            target_id,
            masters,
        }
    }

    /// `MIGRATE` of these keys (all of the slot's that are left when None) to the target.
    fn migrate(&self, keys: Option<&[&str]>) {
        let left = cli(
            self.source,
            &["CLUSTER", "GETKEYSINSLOT", &self.slot, "1000"],
        );
        let keys: Vec<&str> = keys.map_or_else(|| left.lines().collect(), <[&str]>::to_vec);
        if keys.is_empty() {
            return;
        }
        let port = self.target.to_string();
        let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
        args.extend(keys.iter().copied());
        assert_eq!(cli(self.source, &args), "OK", "MIGRATE {keys:?}");
    }

    /// The last steps, in a thread after `delay`: every key left, then the new owner on the
    /// target, the source and every other master.
    fn finish_after(&self, delay: Duration) -> std::thread::JoinHandle<()> {
        let step = self.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            step.migrate(None);
            let (target, source) = (step.target, step.source);
            let others = step
                .masters
                .iter()
                .filter(|p| ![target, source].contains(p));
            for port in [target, source].iter().chain(others) {
                cli(
                    *port,
                    &["CLUSTER", "SETSLOT", &step.slot, "NODE", &step.target_id],
                );
            }
        })
    }
}

/// Three masters without replicas, NATS and one booking service selling `main`.
async fn start() -> (RedisCluster, NatsServer, ServiceProcess, Api) {
    let cluster = RedisCluster::start(3, 0);
    let nats = NatsServer::start();
    let service = ServiceProcess::start(
        BINARY,
        &[
            ("REDIS_URL", cluster.url()),
            ("NATS_URL", nats.url()),
            ("VENUES", "main:10x10".into()),
        ],
    )
    .await;
    let api = Api::new(service.base_url());
    api.wait_healthy(Duration::from_secs(20)).await;
    (cluster, nats, service, api)
}

/// The ids of the held seats of `main`, from a snapshot that must answer.
async fn held(api: &Api) -> Vec<String> {
    let snapshot = api.get("/api/venues/main").await;
    assert_eq!(snapshot.status, 200, "{:?}", snapshot.body);
    let mut held: Vec<String> = snapshot.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == 1)
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    held.sort();
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_while_the_keys_are_split_waits_for_the_move() {
    let (cluster, _nats, service, api) = start().await;
    assert_eq!(api.seat("select", "A1", &token()).await.code(), "OK");
    let step = SlotMove::begin(&cluster);
    step.migrate(Some(&["state:{main}"]));

    let finish = step.finish_after(Duration::from_millis(500));
    let sent = Instant::now();
    let answer = api.seat("select", "A2", &token()).await;
    let took = sent.elapsed();
    finish.join().expect("the move finished");

    assert_eq!(
        answer.code(),
        "OK",
        "a select during the move: {:?}\n{}",
        answer.body,
        service.logs()
    );
    assert!(
        took >= Duration::from_millis(400),
        "the select was answered after {took:?}, before the keys were together again"
    );
    assert_eq!(cluster.master_of("seq:{main}"), step.target);
    assert_eq!(held(&api).await, ["A1", "A2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_sent_to_the_old_master_after_every_key_moved_keep_every_connection() {
    let (cluster, _nats, service, api) = start().await;
    assert_eq!(api.seat("select", "A1", &token()).await.code(), "OK");
    let step = SlotMove::begin(&cluster);
    step.migrate(None);

    // The old master answers ASK to every command of the venue now, on every connection of
    // the service's pool.
    let finish = step.finish_after(Duration::from_millis(500));
    let during = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"];
    let tokens: Vec<String> = during.iter().map(|_| token()).collect();
    let selects = during.iter().zip(&tokens);
    let answers = join_all(selects.map(|(seat, t)| api.seat("select", seat, t))).await;
    finish.join().expect("the move finished");
    for (seat, answer) in during.iter().zip(&answers) {
        assert_eq!(
            answer.code(),
            "OK",
            "{seat} during the move: {:?}\n{}",
            answer.body,
            service.logs()
        );
    }

    // Every connection still works: commands after the move are answered at once.
    let after = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"];
    let sent = Instant::now();
    let selects = after.iter().zip(&tokens);
    let answers = join_all(selects.map(|(seat, t)| api.seat("select", seat, t))).await;
    for (seat, answer) in after.iter().zip(&answers) {
        assert_eq!(
            answer.code(),
            "OK",
            "{seat} after the move: {:?}",
            answer.body
        );
    }
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "commands after the move took {:?}",
        sent.elapsed()
    );
    let mut expected: Vec<String> = ["A1"]
        .iter()
        .chain(&during)
        .chain(&after)
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(held(&api).await, expected);
}
