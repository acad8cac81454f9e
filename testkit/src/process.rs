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
pub(crate) fn program(name: &str) -> PathBuf {
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

/// A server process on a free port, in its own temporary directory, logging to a file per start,
/// killed when dropped. The three kinds of server below differ only in how they are invoked.
pub(crate) struct Daemon {
    name: String,
    program: PathBuf,
    pub(crate) port: u16,
    dir: TempDir,
    child: Option<Child>,
    starts: usize,
}

impl Daemon {
    /// Starts `program` with the arguments and environment `invoke` gives for (port, dir).
    pub(crate) fn start(
        name: &str,
        program: PathBuf,
        invoke: impl Fn(&mut Command, u16, &Path),
    ) -> Daemon {
        let mut daemon = Daemon {
            name: name.to_owned(),
            program,
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            starts: 0,
        };
        daemon.spawn(&invoke);
        daemon
    }

    fn log(&self, start: usize) -> PathBuf {
        self.dir.path().join(format!("{}-{start}.log", self.name))
    }

    pub(crate) fn spawn(&mut self, invoke: &dyn Fn(&mut Command, u16, &Path)) {
        self.starts += 1;
        let log = self.log(self.starts);
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new(&self.program);
        invoke(&mut command, self.port, self.dir.path());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        wait_for_port(self.port, &self.name, &mut child, &log);
        self.child = Some(child);
    }

    /// Sends `signal` (a name for `kill -s`, like `STOP`) to the running process.
    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let sent = Command::new("kill")
                .args(["-s", signal, &child.id().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(sent, "kill -s {signal} {}", self.name);
        }
    }

    /// `kill -9`: no shutdown, no final save.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (`TERM`, `INT`) and waits for the process to exit; returns whether it
    /// exited cleanly.
    fn terminate(&mut self, signal: &str) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
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

    /// Whether the process is running (started and not killed).
    pub(crate) fn child_running(&self) -> bool {
        self.child.is_some()
    }

    /// Whether the current run's log mentions `text`.
    pub(crate) fn log_contains(&self, text: &str) -> bool {
        std::fs::read_to_string(self.log(self.starts)).is_ok_and(|log| log.contains(text))
    }

    /// Everything the process has logged, over all its starts.
    pub(crate) fn logs(&self) -> String {
        (1..=self.starts)
            .map(|n| std::fs::read_to_string(self.log(n)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `redis-server` with the project's own config (AOF, `appendfsync always`).
pub struct RedisServer {
    pub port: u16,
    daemon: Daemon,
    /// Settings given after the config file's (`start_with`).
    extra: Vec<String>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// Starts with `extra` settings over the project's config, like `["--appendfsync", "no"]`
    /// for a test that makes thousands of changes one after another and checks no durability
    /// (each fsync of a disk-backed temporary directory can take milliseconds).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let daemon = Daemon::start("redis-server", program("redis-server"), |c, port, dir| {
            Self::invoke(c, port, dir, &extra)
        });
        RedisServer {
            port: daemon.port,
            daemon,
            extra,
        }
    }

    fn invoke(command: &mut Command, port: u16, dir: &Path, extra: &[String]) {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../redis/redis.conf");
        command
            .arg(config)
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir)
            .args(["--daemonize", "no"])
            .args(extra);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `kill -9`: no shutdown, no final save. Only what was fsynced survives.
    pub fn kill9(&mut self) {
        self.daemon.kill9();
    }

    /// Starts again on the same port with the same data directory.
    pub fn restart(&mut self) {
        self.daemon.kill9();
        let extra = &self.extra;
        self.daemon
            .spawn(&|c: &mut Command, port, dir: &Path| Self::invoke(c, port, dir, extra));
    }

    /// `SIGSTOP`: Redis stops answering but its connections stay open, like a host that hangs.
    pub fn freeze(&self) {
        self.daemon.signal("STOP");
    }

    /// `SIGCONT` after `freeze`.
    pub fn thaw(&self) {
        self.daemon.signal("CONT");
    }

    /// Runs one command with `redis-cli` against this server and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(program("redis-cli"))
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        assert!(output.status.success(), "redis-cli {args:?} failed");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

/// `nats-server` on loopback.
pub struct NatsServer {
    pub port: u16,
    daemon: Daemon,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let daemon = Daemon::start("nats-server", program("nats-server"), Self::invoke);
        NatsServer {
            port: daemon.port,
            daemon,
        }
    }

    fn invoke(command: &mut Command, port: u16, _dir: &Path) {
        command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        self.daemon.kill9();
    }

    pub fn restart(&mut self) {
        self.daemon.kill9();
        self.daemon.spawn(&Self::invoke);
    }

    /// `SIGSTOP`: the server stops answering but its connections stay open, like a host that
    /// hangs or a network that silently drops everything.
    pub fn freeze(&self) {
        self.daemon.signal("STOP");
    }

    /// `SIGCONT` after `freeze`.
    pub fn thaw(&self) {
        self.daemon.signal("CONT");
    }
}

/// One of the project's own binaries, run as a real process with its environment.
pub struct ServiceProcess {
    pub port: u16,
    env: Vec<(String, String)>,
    daemon: Daemon,
}

impl ServiceProcess {
    /// Starts `binary` with `PORT` set to a free port plus `env`, and waits until it listens
    /// (its health is the caller's to check).
    pub async fn start(binary: &str, env: &[(&str, String)]) -> ServiceProcess {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let name = Path::new(binary)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| binary.to_owned());
        let daemon = Daemon::start(&name, PathBuf::from(binary), |command, port, _| {
            Self::invoke(&env, command, port)
        });
        ServiceProcess {
            port: daemon.port,
            env,
            daemon,
        }
    }

    fn invoke(env: &[(String, String)], command: &mut Command, port: u16) {
        command
            .env("PORT", port.to_string())
            .env("RUST_LOG", "info")
            .env("TOKEN_SECRET", crate::token_secret())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        self.daemon.kill9();
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        self.daemon.terminate("TERM")
    }

    /// `terminate`, and how long the process took to exit (at most 10 s: then it is killed).
    pub fn terminate_timed(&mut self) -> (bool, Duration) {
        self.stop_timed("TERM")
    }

    /// Sends `signal` (`TERM`, or `INT` as Ctrl+C does) and waits for the process to exit;
    /// returns whether it exited cleanly and how long it took (at most 10 s: then it is killed).
    pub fn stop_timed(&mut self, signal: &str) -> (bool, Duration) {
        let asked = Instant::now();
        let clean = self.daemon.terminate(signal);
        (clean, asked.elapsed())
    }

    pub async fn restart(&mut self) {
        self.daemon.kill9();
        let env = &self.env;
        self.daemon
            .spawn(&|command: &mut Command, port, _: &Path| Self::invoke(env, command, port));
    }

    /// Everything the process has logged so far (all runs).
    pub fn logs(&self) -> String {
        self.daemon.logs()
    }
}
