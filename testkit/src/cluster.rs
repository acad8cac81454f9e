//! Clusters for tests: a Redis Cluster (masters with replicas) and a NATS cluster, each node a
//! real server process on loopback, killed when dropped.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{free_port, program, Daemon};

/// A Redis Cluster of `masters` masters with `replicas` replicas each, the project's redis.conf
/// (AOF, `appendfsync always`) on every node.
pub struct RedisCluster {
    nodes: Vec<Daemon>,
}

impl RedisCluster {
    /// Starts the nodes and forms the cluster the way `start.sh --cluster` does: both run
    /// `scripts/lib/redis-cluster.sh` (the nodes' cluster settings, then `form`, which returns
    /// once every node is ok and every replica in sync), so the tests check the cluster users run.
    pub fn start(masters: usize, replicas: usize) -> RedisCluster {
        // The cluster bus gets its own free port: the default (port + 10000) can land in the
        // ephemeral range, where an outgoing connection may hold it.
        let nodes: Vec<Daemon> = (0..masters * (1 + replicas))
            .map(|_| {
                let bus = free_port();
                Daemon::start(
                    "redis-node",
                    program("redis-server"),
                    move |command: &mut Command, port: u16, dir: &Path| {
                        Self::invoke(command, port, bus, dir);
                    },
                )
            })
            .collect();
        let cluster = RedisCluster { nodes };
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = cluster_script()
            .args([
                "form",
                "--replicas",
                &replicas.to_string(),
                "--timeout",
                "20",
            ])
            .args(&addresses)
            .output()
            .expect("bash runs scripts/lib/redis-cluster.sh");
        assert!(
            output.status.success(),
            "scripts/lib/redis-cluster.sh form failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster
    }

    fn invoke(command: &mut Command, port: u16, bus: u16, dir: &Path) {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../redis/redis.conf");
        let node_args = cluster_script()
            .args(["node-args", &port.to_string(), &bus.to_string()])
            .output()
            .expect("bash runs scripts/lib/redis-cluster.sh");
        assert!(
            node_args.status.success(),
            "redis-cluster.sh node-args failed"
        );
        command
            .arg(config)
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir)
            .args(["--daemonize", "no"])
            .args(String::from_utf8_lossy(&node_args.stdout).lines());
    }

    /// `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,…` for the booking service.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.child_running())
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis-cluster://{}", hosts.join(","))
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// Runs `redis-cli -c` (following redirects) against the first live node.
    pub fn cli(&self, args: &[&str]) -> String {
        let node = self
            .nodes
            .iter()
            .find(|n| n.child_running())
            .expect("a live node");
        cli(node.port, true, args)
    }

    /// The port of the master that serves `key`'s slot.
    pub fn master_of(&self, key: &str) -> u16 {
        let slot: u16 = self.cli(&["CLUSTER", "KEYSLOT", key]).parse().unwrap();
        let shards = self.cli(&["CLUSTER", "SLOTS"]);
        // redis-cli prints CLUSTER SLOTS flat: start, end, then per node ip, port, id (…).
        let lines: Vec<&str> = shards.lines().map(str::trim).collect();
        let mut i = 0;
        while i + 3 < lines.len() {
            if let (Ok(start), Ok(end)) = (lines[i].parse::<u16>(), lines[i + 1].parse::<u16>()) {
                if lines[i + 2] == "127.0.0.1" && (start..=end).contains(&slot) {
                    return lines[i + 3].parse().unwrap();
                }
            }
            i += 1;
        }
        panic!("no master for slot {slot} in:\n{shards}");
    }

    /// `kill -9` of the node on `port`.
    pub fn kill9(&mut self, port: u16) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.port == port) {
            node.kill9();
        }
    }

    /// Waits until every live node reports `cluster_state:ok`.
    pub fn wait_until_ok(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let all_ok = self
                .nodes
                .iter()
                .filter(|n| n.child_running())
                .all(|n| cli(n.port, false, &["CLUSTER", "INFO"]).contains("cluster_state:ok"));
            if all_ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Redis Cluster did not become ok"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `bash scripts/lib/redis-cluster.sh`, the Redis Cluster procedure start.sh uses too.
fn cluster_script() -> Command {
    let mut command = Command::new("bash");
    command.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/lib/redis-cluster.sh"
    ));
    command
}

fn cli(port: u16, follow: bool, args: &[&str]) -> String {
    let mut command = Command::new(program("redis-cli"));
    if follow {
        command.arg("-c");
    }
    let output = command
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A NATS cluster: `size` nats-server processes routed to each other.
pub struct NatsCluster {
    nodes: Vec<Daemon>,
}

impl NatsCluster {
    pub fn start(size: usize) -> NatsCluster {
        let cluster_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let routes: Vec<String> = cluster_ports
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect();
        let routes = routes.join(",");
        let nodes = cluster_ports
            .iter()
            .map(|cluster_port| {
                let routes = routes.clone();
                let cluster_port = *cluster_port;
                Daemon::start(
                    "nats-node",
                    program("nats-server"),
                    move |command: &mut Command, port: u16, _dir: &Path| {
                        command
                            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                            .args(["--cluster_name", "seatmap-test"])
                            .args(["--cluster", &format!("nats://127.0.0.1:{cluster_port}")])
                            .args(["--routes", &routes]);
                    },
                )
            })
            .collect();
        let cluster = NatsCluster { nodes };
        cluster.wait_for_routes(size - 1);
        cluster
    }

    /// Waits until every node has routes to the others (subscriptions then propagate).
    fn wait_for_routes(&self, expected: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        // Route setup is quick on loopback; without the monitoring port, give it time and
        // check that a message crosses from the last node to a subscriber on the first.
        while Instant::now() < deadline {
            if self.routes_ready(expected) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the NATS cluster did not form routes");
    }

    fn routes_ready(&self, _expected: usize) -> bool {
        self.nodes
            .iter()
            .all(|n| n.log_contains("Route connection created") || self_only(&self.nodes))
    }

    /// One server URL per node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect()
    }

    /// Every node, as a comma list (`NATS_URL`).
    pub fn url_list(&self) -> String {
        self.urls().join(",")
    }

    pub fn kill9(&mut self, index: usize) {
        self.nodes[index].kill9();
    }
}

fn self_only(nodes: &[Daemon]) -> bool {
    nodes.len() == 1
}
