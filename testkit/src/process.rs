//! Real server processes for tests: each on a free port, in its own temporary directory,
//! killed when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A port nothing listens on right now, for a server process to bind a moment later.
///
/// Chosen below Linux's ephemeral range (32768 and up): a port the kernel handed out with
/// `bind(0)` could be taken by any outgoing connection before the server binds it. Each port is
/// handed out once per test process.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(1)
        ^ (u64::from(std::process::id()) << 20);
    let mut handed_out = HANDED_OUT.lock().unwrap();
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    for _ in 0..10_000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let port = 20_000 + ((seed >> 33) % 12_000) as u16;
        if !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return port;
        }
    }
    panic!("no free port between 20000 and 32000");
}

/// Finds a server program on PATH or in the usual system directories, or fails loudly.
fn program(name: &str) -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    for dir in candidates {
        let path = dir.join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!("{name} is not installed: run ./test.sh, which installs it (apt-get install {name})");
}

fn wait_for_port(port: u16, what: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited ({status}) before listening on {port}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what} did not listen on {port} within 10 s");
}

fn spawn_logged(mut command: Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()))
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `redis-server` with the project's own config (AOF, `appendfsync always`).
pub struct RedisServer {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../redis/redis.conf");
        let log = self.dir.path().join("redis.log");
        let mut command = Command::new(program("redis-server"));
        command
            .arg(config)
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--daemonize", "no"]);
        let mut child = spawn_logged(command, &log);
        wait_for_port(self.port, "redis-server", &mut child, &log);
        self.child = Some(child);
    }

    /// `kill -9`: no shutdown, no final save. Only what was fsynced survives.
    pub fn kill9(&mut self) {
        kill(&mut self.child);
    }

    /// Starts again on the same port with the same data directory.
    pub fn restart(&mut self) {
        kill(&mut self.child);
        self.spawn();
    }

    /// Runs a redis-cli-free command by speaking RESP directly (for inspecting state in tests).
    pub fn command(&self, args: &[&str]) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("redis");
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{}\r\n", arg.len(), arg));
        }
        stream.write_all(request.as_bytes()).expect("write");
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = vec![0u8; 65536];
        let n = stream.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// `nats-server` on loopback.
pub struct NatsServer {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let mut server = NatsServer {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = self.dir.path().join("nats.log");
        let mut command = Command::new(program("nats-server"));
        command.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        let mut child = spawn_logged(command, &log);
        wait_for_port(self.port, "nats-server", &mut child, &log);
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    pub fn restart(&mut self) {
        kill(&mut self.child);
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// One of the project's own binaries, run as a real process with its environment.
pub struct ServiceProcess {
    pub port: u16,
    binary: PathBuf,
    env: Vec<(String, String)>,
    dir: TempDir,
    child: Option<Child>,
    starts: usize,
}

impl ServiceProcess {
    /// Starts `binary` with `PORT` set to a free port plus `env`, and waits for `GET /health`
    /// to answer (any status: the caller decides what it needs).
    pub async fn start(binary: &str, env: &[(&str, String)]) -> ServiceProcess {
        let mut process = ServiceProcess {
            port: free_port(),
            binary: PathBuf::from(binary),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            starts: 0,
        };
        process.spawn().await;
        process
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        self.starts += 1;
        let log = self.dir.path().join(format!("service-{}.log", self.starts));
        let mut command = Command::new(&self.binary);
        command
            .env("PORT", self.port.to_string())
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut child = spawn_logged(command, &log);
        wait_for_port(
            self.port,
            &self.binary.display().to_string(),
            &mut child,
            &log,
        );
        self.child = Some(child);
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        kill(&mut self.child);
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    pub async fn restart(&mut self) {
        kill(&mut self.child);
        self.spawn().await;
    }

    /// Everything the process has logged so far (all runs).
    pub fn logs(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.path().join(format!("service-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}
