//! `seatbench`: measures what the seat map promises. Load goes to loopback addresses only and is
//! bounded in time and count. Figures go to stdout, and as JSON lines to `--results` when given
//! (`scripts/bench.sh` turns those into tables and a plot).

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use loadgen::fanout::{Phase, Server, TargetRun};
use loadgen::viewers::{GroupSpec, Protocol};
use loadgen::{loopback_only, sys};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "seatbench",
    version,
    about = "Measures the seat map: booking API throughput and latency, fan-out latency to many \
             WebSocket viewers (ours, nats-server's WebSocket listener, a minimal broadcaster), \
             CPU and memory per connection. Needs the stack's TOKEN_SECRET in the environment."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Select+release pairs against the booking service from many keep-alive connections.
    Api {
        /// Booking service (or NGINX) base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        booking: String,
        #[arg(long, default_value = "main")]
        venue: String,
        /// Connections, each a worker owning one seat (at most the venue's seat count).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Measured seconds.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Unmeasured seconds first.
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// A label for the results row.
        #[arg(long, default_value = "api")]
        label: String,
        #[command(flatten)]
        common: Common,
    },
    /// Viewers (in child processes) and changes at one or more rates; per-delivery latency,
    /// missing/out-of-order/duplicates, server CPU per 1,000 deliveries and memory per connection.
    Fanout {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        booking: String,
        /// Venue the changes are made in (seatmap viewers watch it).
        #[arg(long, default_value = "main")]
        venue: String,
        #[arg(long, value_enum, default_value_t = Protocol::Seatmap)]
        protocol: Protocol,
        /// Comma-separated WebSocket URLs; viewer i uses URL i mod n. Not needed with --floor-nats.
        #[arg(long, default_value = "")]
        urls: String,
        /// Start the floor broadcaster fed from this NATS and point the viewers at it (raw).
        #[arg(long)]
        floor_nats: Option<String>,
        /// Floor processes (viewers spread over them, as over two edges).
        #[arg(long, default_value_t = 2)]
        floor_procs: usize,
        #[arg(long, default_value_t = 1000)]
        viewers: usize,
        /// Viewers per client process (each process stays far below the fd limit).
        #[arg(long, default_value_t = 5000)]
        per_process: usize,
        /// Phases as RATExCHANGES, e.g. 10x60,100x400 (changes a second x changes).
        #[arg(long, default_value = "10x60,100x400")]
        phases: String,
        /// Spread client sockets over this many source addresses 127.0.0.1…
        #[arg(long, default_value_t = 4)]
        source_ips: u8,
        /// Connections being opened at once.
        #[arg(long, default_value_t = 256)]
        parallel: usize,
        /// A plain NATS subscriber notes when each change reaches NATS (splits the latency into
        /// the shared part and the fan-out hop).
        #[arg(long)]
        probe_nats: Option<String>,
        /// The longest a phase waits for its deliveries after the last change, in seconds.
        #[arg(long, default_value_t = 20)]
        drain_secs: u64,
        #[arg(long, default_value = "fanout")]
        label: String,
        #[command(flatten)]
        common: Common,
    },
    /// Correctness only: viewers in this process, a few changes; exits non-zero on any missing,
    /// out-of-order or duplicate delivery. Never judges timing.
    Smoke {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        booking: String,
        #[arg(long, default_value = "ws://127.0.0.1:3000/ws,ws://127.0.0.1:3001/ws")]
        urls: String,
        #[arg(long, default_value_t = 300)]
        viewers: usize,
        #[arg(long, default_value_t = 50)]
        changes: usize,
    },
    /// The floor broadcaster (started by `fanout --floor-nats`).
    Floor {
        #[arg(long)]
        listen: String,
        /// Also accept viewers on this Unix socket (as an edge's UNIX_SOCKET, for NGINX).
        #[arg(long)]
        unix: Option<std::path::PathBuf>,
        #[arg(long)]
        nats: String,
        #[arg(long, default_value = "seats.>")]
        subject: String,
    },
    /// A viewer process (started by `fanout`): connects, then answers commands on stdin.
    #[command(hide = true)]
    Viewers {
        #[arg(long)]
        spec: String,
        #[arg(long, default_value_t = 90)]
        timeout_secs: u64,
    },
}

#[derive(clap::Args)]
struct Common {
    /// Processes whose CPU and memory are reported: NAME=PID[,PID…]; `children:PID` stands for
    /// that process's children (NGINX's workers). Repeatable.
    #[arg(long = "server")]
    servers: Vec<String>,
    /// Append the figures as JSON lines to this file.
    #[arg(long)]
    results: Option<std::path::PathBuf>,
}

impl Common {
    fn servers(&self) -> anyhow::Result<Vec<Server>> {
        self.servers
            .iter()
            .map(|s| {
                let (name, pids) = s.split_once('=').context("--server NAME=PID,…")?;
                let mut all = Vec::new();
                for pid in pids.split(',').filter(|p| !p.is_empty()) {
                    if let Some(parent) = pid.strip_prefix("children:") {
                        all.extend(sys::children_of(parent.trim().parse()?));
                    } else {
                        all.push(pid.trim().parse().with_context(|| format!("pid {pid}"))?);
                    }
                }
                Ok(Server {
                    name: name.to_owned(),
                    pids: all,
                })
            })
            .collect()
    }

    fn write(&self, rows: &[serde_json::Value]) -> anyhow::Result<()> {
        if let Some(path) = &self.results {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            for row in rows {
                writeln!(file, "{row}")?;
            }
        }
        Ok(())
    }
}

fn parse_phases(text: &str) -> anyhow::Result<Vec<Phase>> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (rate, changes) = p.split_once('x').context("phases are RATExCHANGES")?;
            Ok(Phase {
                rate: rate.trim().parse()?,
                changes: changes.trim().parse()?,
            })
        })
        .collect()
}

fn urls(list: &str) -> anyhow::Result<Vec<String>> {
    let urls: Vec<String> = list
        .split(',')
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    for url in &urls {
        loopback_only(url)?;
    }
    Ok(urls)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Viewer processes and the floor run tokio on one thread: several of them share two cores
    // with the servers, and one thread each keeps their own cost visible and small. (A viewer
    // process reads its sockets on one more thread, its event loop; tokio only connects them and
    // answers the driver.)
    let single = matches!(cli.command, Command::Viewers { .. } | Command::Floor { .. });
    let runtime = if single {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Api {
            booking,
            venue,
            concurrency,
            seconds,
            warmup,
            label,
            common,
        } => {
            loopback_only(&booking)?;
            loadgen::driver::signer();
            let servers = common.servers()?;
            let me = std::process::id();
            let cpu0: Vec<u64> = servers.iter().map(|s| sys::cpu_ms_sum(&s.pids)).collect();
            let self0 = sys::cpu_ms(me);
            let warmup = Duration::from_secs_f64(warmup);
            let seconds = Duration::from_secs_f64(seconds);
            println!("[{label}] {concurrency} connections against {booking} for {warmup:?} + {seconds:?}");
            let report = loadgen::api::run(&booking, &venue, concurrency, warmup, seconds).await?;
            // CPU over the whole run (warm-up included), per measured-rate request.
            let total = (warmup + seconds).as_secs_f64();
            let cpu_per_request = |ms: u64| ms as f64 * 1000.0 / (report.per_second * total);
            let s = report.latency.summary();
            println!(
                "[{label}] {} requests in {:.1} s = {:.0} req/s; {s}; errors {:?}",
                report.requests, report.seconds, report.per_second, report.errors
            );
            println!("[{label}]   select {}", report.select.summary());
            println!("[{label}]   release {}", report.release.summary());
            let mut cpu = serde_json::Map::new();
            let self_ms = sys::cpu_ms(me) - self0;
            cpu.insert(
                "seatbench".into(),
                json!({"ms": self_ms, "us_per_request": cpu_per_request(self_ms), "cores": self_ms as f64 / 1000.0 / total}),
            );
            for (i, server) in servers.iter().enumerate() {
                let ms = sys::cpu_ms_sum(&server.pids) - cpu0[i];
                cpu.insert(
                    server.name.clone(),
                    json!({"ms": ms, "us_per_request": cpu_per_request(ms), "cores": ms as f64 / 1000.0 / total}),
                );
            }
            for (name, c) in &cpu {
                println!(
                    "[{label}]   {name}: {:.2} cores, {:.1} µs CPU per request",
                    c["cores"].as_f64().unwrap_or(0.0),
                    c["us_per_request"].as_f64().unwrap_or(0.0)
                );
            }
            common.write(&[json!({
                "kind": "api",
                "label": label,
                "concurrency": concurrency,
                "requests": report.requests,
                "seconds": report.seconds,
                "per_second": report.per_second,
                "errors": report.errors,
                "latency": s,
                "select": report.select.summary(),
                "release": report.release.summary(),
                "cpu": cpu,
            })])
        }
        Command::Fanout {
            booking,
            venue,
            protocol,
            urls: url_list,
            floor_nats,
            floor_procs,
            viewers,
            per_process,
            phases,
            source_ips,
            parallel,
            drain_secs,
            probe_nats,
            label,
            common,
        } => {
            loopback_only(&booking)?;
            if let Some(url) = &probe_nats {
                loopback_only(url)?;
            }
            loadgen::driver::signer();
            let mut servers = common.servers()?;
            let mut floors = Vec::new();
            let (protocol, urls) = match floor_nats {
                Some(nats) => {
                    loopback_only(&nats)?;
                    let (children, urls) =
                        loadgen::fanout::start_floors(&nats, floor_procs).await?;
                    servers.push(Server {
                        name: "floor".into(),
                        pids: children.iter().filter_map(|c| c.id()).collect(),
                    });
                    floors = children;
                    (Protocol::Raw, urls)
                }
                None => (protocol, urls(&url_list)?),
            };
            if urls.is_empty() {
                bail!("--urls or --floor-nats is required");
            }
            let phases = parse_phases(&phases)?;
            let run = TargetRun {
                label: &label,
                spec: GroupSpec {
                    protocol,
                    urls,
                    count: viewers,
                    offset: 0,
                    venue: (venue != "main").then(|| venue.clone()),
                    source_ips,
                    parallel,
                },
                per_process,
                booking: &booking,
                venue: &venue,
                phases: &phases,
                servers: &servers,
                drain_limit: Duration::from_secs(drain_secs),
                probe_nats: probe_nats.as_deref(),
            };
            let rows = loadgen::fanout::run_target(&run).await?;
            drop(floors);
            common.write(&rows)
        }
        Command::Smoke {
            booking,
            urls: url_list,
            viewers,
            changes,
        } => {
            loopback_only(&booking)?;
            let report = loadgen::smoke::run(&booking, &urls(&url_list)?, viewers, changes).await?;
            println!(
                "smoke: {viewers} viewers, {} deliveries: 0 missing, 0 out of order, 0 duplicates",
                report.delivered
            );
            Ok(())
        }
        Command::Floor {
            listen,
            unix,
            nats,
            subject,
        } => {
            loopback_only(&format!("ws://{listen}"))?;
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            let unix = match unix {
                Some(path) => {
                    // A socket left by an earlier run; never any other kind of file.
                    use std::os::unix::fs::FileTypeExt;
                    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
                        std::fs::remove_file(&path)?;
                    }
                    let listener = tokio::net::UnixListener::bind(&path)
                        .with_context(|| format!("binding {}", path.display()))?;
                    // NGINX's workers (user nobody) connect to it, as to an edge's socket.
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
                    Some(listener)
                }
                None => None,
            };
            loadgen::floor::run(listener, unix, &nats, &subject).await
        }
        Command::Viewers { spec, timeout_secs } => {
            let spec: GroupSpec = serde_json::from_str(&spec)?;
            for url in &spec.urls {
                loopback_only(url)?;
            }
            loadgen::fanout::serve_viewer_process(spec, Duration::from_secs(timeout_secs)).await
        }
    }
}
