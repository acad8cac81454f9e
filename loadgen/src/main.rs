//! `seatbench`: measures what the seat map promises. Load goes to loopback addresses only and is
//! bounded in time and count. Figures go to stdout, and as JSON lines to `--results` when given
//! (`scripts/bench.sh` turns those into tables and a plot).

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use loadgen::fanout::{Phase, TargetRun};
use loadgen::rows;
use loadgen::usage::Server;
use loadgen::viewers::{GroupSpec, Protocol};
use loadgen::{loopback_only, sys};

mod api_command;

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
    /// Hold+release pairs against the booking service from many keep-alive connections: one
    /// seat, a group of seats, or best available.
    Api(api_command::ApiArgs),
    /// A best-available rush: identities each asking once for the best 2 to 4 seats, at once;
    /// requests/s, latency, how many got seats, and a check of every answer (exits non-zero on a
    /// wrong one).
    BestRush(api_command::BestRushArgs),
    /// Viewers (in child processes) and changes at one or more rates; per-delivery latency,
    /// missing/out-of-order/duplicates, server CPU per 1,000 deliveries and memory per connection.
    Fanout(FanoutArgs),
    /// Books and holds a share of a venue's seats (each by an identity of its own), as a sale in
    /// progress leaves it, before a measurement. Start the stack with a long HOLD_SECONDS.
    Fill(FillArgs),
    /// A reconnect storm: steady viewers stay while storm viewers drop their sockets and
    /// reconnect within a few seconds; the steady viewers' latency before and during, how long
    /// the storm's viewers took to have the state again, and the edges' peak memory.
    Storm(StormArgs),
    /// A crowd for demos: simulated fans at human pace on the edges (each from its own 127.0.0.x
    /// address), holding (a seat, a few at once, or the best block available), booking,
    /// releasing and letting holds lapse. Runs until Ctrl+C or
    /// --seconds; exits non-zero if a fan saw something no fan should (a seq gap, an unexpected
    /// error, a dropped socket) or, with --seconds, if no fan held anything.
    Crowd(CrowdArgs),
    /// Correctness only: viewers in this process, a few changes; exits non-zero on any missing,
    /// out-of-order or duplicate delivery. Never judges timing.
    Smoke(SmokeArgs),
    /// The floor broadcaster (started by `fanout --floor-nats`).
    Floor(FloorArgs),
    /// A viewer process (started by `fanout`): connects, then answers commands on stdin.
    #[command(hide = true)]
    Viewers(ViewersArgs),
}

#[derive(clap::Args)]
struct FanoutArgs {
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
    /// the shared part and the fan-out hop). A tls:// URL requires TLS (trusting SSL_CERT_FILE);
    /// NATS_USER and NATS_PASSWORD from the environment log it in.
    #[arg(long)]
    probe_nats: Option<String>,
    /// The longest a phase waits for its deliveries after the last change, in seconds.
    #[arg(long, default_value_t = 20)]
    drain_secs: u64,
    /// seatmap: viewers ask for the compact VENUE_STATE (as the page does) instead of the full.
    #[arg(long)]
    compact: bool,
    #[arg(long, default_value = "fanout")]
    label: String,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct FillArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    booking: String,
    #[arg(long, default_value = "main")]
    venue: String,
    /// Percent of the available seats to hold.
    #[arg(long, default_value_t = 5)]
    held: usize,
    /// Percent of the available seats to book.
    #[arg(long, default_value_t = 50)]
    booked: usize,
    /// Keep-alive connections the commands are spread over.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct StormArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    booking: String,
    #[arg(long, default_value = "main")]
    venue: String,
    /// Comma-separated WebSocket URLs of the edges (or NGINX); viewer i uses URL i mod n.
    #[arg(long)]
    urls: String,
    /// Viewers that stay connected throughout.
    #[arg(long, default_value_t = 1000)]
    steady: usize,
    /// Viewers that drop their sockets and reconnect.
    #[arg(long, default_value_t = 10000)]
    storm: usize,
    /// Seconds over which the storm's viewers reconnect.
    #[arg(long, default_value_t = 2.0)]
    within_secs: f64,
    /// Changes a second, before and during the storm.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Changes before the storm, and again during it.
    #[arg(long, default_value_t = 150)]
    changes: usize,
    /// Viewers ask for the compact VENUE_STATE (as the page does).
    #[arg(long)]
    compact: bool,
    #[arg(long, default_value_t = 5000)]
    per_process: usize,
    #[arg(long, default_value_t = 4)]
    source_ips: u8,
    /// Connections being opened at once (per viewer process).
    #[arg(long, default_value_t = 256)]
    parallel: usize,
    #[arg(long, default_value_t = 20)]
    drain_secs: u64,
    #[arg(long, default_value = "storm")]
    label: String,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct CrowdArgs {
    /// Comma-separated WebSocket URLs of the edges; fan i uses URL i mod n.
    #[arg(long, default_value = "ws://127.0.0.1:3000/ws,ws://127.0.0.1:3001/ws")]
    urls: String,
    #[arg(long, default_value = "main")]
    venue: String,
    #[arg(long, default_value_t = 50)]
    fans: usize,
    /// Stop after this many seconds (default: run until Ctrl+C).
    #[arg(long)]
    seconds: Option<f64>,
    /// A fan's pause between two actions, in ms: MIN-MAX.
    #[arg(long, default_value = "1500-6000")]
    pace_ms: String,
}

#[derive(clap::Args)]
struct SmokeArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    booking: String,
    #[arg(long, default_value = "ws://127.0.0.1:3000/ws,ws://127.0.0.1:3001/ws")]
    urls: String,
    #[arg(long, default_value_t = 300)]
    viewers: usize,
    #[arg(long, default_value_t = 50)]
    changes: usize,
}

#[derive(clap::Args)]
struct FloorArgs {
    #[arg(long)]
    listen: String,
    /// Also accept viewers on this Unix socket (as an edge's UNIX_SOCKET, for NGINX).
    #[arg(long)]
    unix: Option<std::path::PathBuf>,
    #[arg(long)]
    nats: String,
    #[arg(long, default_value = "seats.>")]
    subject: String,
}

#[derive(clap::Args)]
struct ViewersArgs {
    #[arg(long)]
    spec: String,
    #[arg(long, default_value_t = 90)]
    timeout_secs: u64,
}

#[derive(clap::Args)]
pub(crate) struct Common {
    /// Processes whose CPU and memory are reported: NAME=PID[,PID…]; `children:PID` stands for
    /// that process's children (NGINX's workers). Repeatable.
    #[arg(long = "server")]
    pub(crate) servers: Vec<String>,
    /// Append the figures as JSON lines to this file.
    #[arg(long)]
    pub(crate) results: Option<std::path::PathBuf>,
}

impl Common {
    pub(crate) fn servers(&self) -> anyhow::Result<Vec<Server>> {
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
    let single = matches!(cli.command, Command::Viewers(_) | Command::Floor(_));
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
        Command::Api(args) => api_command::api(args).await,
        Command::BestRush(args) => api_command::best_rush(args).await,
        Command::Fanout(args) => fanout(args).await,
        Command::Fill(args) => fill(args).await,
        Command::Crowd(args) => crowd(args).await,
        Command::Storm(args) => storm(args).await,
        Command::Smoke(args) => smoke(args).await,
        Command::Floor(args) => floor(args).await,
        Command::Viewers(args) => viewers(args).await,
    }
}

/// `seatbench fanout`: viewers on the target (or on floor broadcasters it starts), and one row
/// per phase.
async fn fanout(args: FanoutArgs) -> anyhow::Result<()> {
    loopback_only(&args.booking)?;
    if let Some(url) = &args.probe_nats {
        loopback_only(url)?;
    }
    loadgen::driver::signer();
    let mut servers = args.common.servers()?;
    let mut floors = Vec::new();
    let (protocol, urls) = match &args.floor_nats {
        Some(nats) => {
            loopback_only(nats)?;
            let (children, urls) = loadgen::fanout::start_floors(nats, args.floor_procs).await?;
            servers.push(Server {
                name: "floor".into(),
                pids: children.iter().filter_map(|c| c.id()).collect(),
            });
            floors = children;
            (Protocol::Raw, urls)
        }
        None => (args.protocol, urls(&args.urls)?),
    };
    if urls.is_empty() {
        bail!("--urls or --floor-nats is required");
    }
    let phases = parse_phases(&args.phases)?;
    let run = TargetRun {
        label: &args.label,
        spec: GroupSpec {
            protocol,
            urls,
            count: args.viewers,
            offset: 0,
            venue: (args.venue != "main").then(|| args.venue.clone()),
            source_ips: args.source_ips,
            parallel: args.parallel,
            compact: args.compact,
            spread_ms: 0,
        },
        per_process: args.per_process,
        booking: &args.booking,
        venue: &args.venue,
        phases: &phases,
        servers: &servers,
        drain_limit: Duration::from_secs(args.drain_secs),
        probe_nats: args.probe_nats.as_deref(),
    };
    let rows = loadgen::fanout::run_target(&run).await?;
    drop(floors);
    rows::append(args.common.results.as_deref(), &rows)
}

/// `seatbench crowd`: fans at human pace until Ctrl+C or --seconds.
async fn crowd(args: CrowdArgs) -> anyhow::Result<()> {
    let (lo, hi) = args
        .pace_ms
        .split_once('-')
        .and_then(|(lo, hi)| Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?)))
        .filter(|(lo, hi): &(u64, u64)| lo <= hi)
        .context("--pace-ms is MIN-MAX in ms, like 1500-6000")?;
    let spec = loadgen::crowd::CrowdSpec {
        urls: urls(&args.urls)?,
        venue: args.venue,
        fans: args.fans,
        seconds: args.seconds,
        pace_ms: (lo, hi),
    };
    if spec.urls.is_empty() || spec.fans == 0 {
        bail!("a crowd needs --urls and at least one fan");
    }
    println!(
        "[crowd] {} fans on {} ({}), one action every {lo}–{hi} ms each; Ctrl+C stops",
        spec.fans,
        spec.venue,
        spec.urls.join(",")
    );
    let tally = loadgen::crowd::run(spec.clone()).await?;
    let faults = tally.faults.lock().unwrap().clone();
    if !faults.is_empty() {
        bail!("fans saw what no fan should: {faults:#?}");
    }
    let holds = tally.holds.load(std::sync::atomic::Ordering::Relaxed);
    if spec.seconds.is_some() && holds == 0 {
        bail!("no fan held a seat");
    }
    Ok(())
}

/// `seatbench fill`: a share of the venue booked and held.
async fn fill(args: FillArgs) -> anyhow::Result<()> {
    loopback_only(&args.booking)?;
    loadgen::driver::signer();
    println!(
        "[fill] {}: booking {} % and holding {} % of the available seats",
        args.venue, args.booked, args.held
    );
    let filled = loadgen::fill::run(
        &args.booking,
        &args.venue,
        args.held,
        args.booked,
        args.connections,
    )
    .await?;
    println!(
        "[fill] {} seats: {} booked, {} held, {} failed in {:.1} s",
        filled.seats, filled.booked, filled.held, filled.failed, filled.seconds
    );
    let mut row = serde_json::to_value(&filled)?;
    row["kind"] = "fill".into();
    row["venue"] = args.venue.clone().into();
    rows::append(args.common.results.as_deref(), &[row])?;
    if filled.failed > 0 {
        bail!("{} fill commands failed", filled.failed);
    }
    Ok(())
}

/// `seatbench storm`: a reconnect storm beside steady viewers.
async fn storm(args: StormArgs) -> anyhow::Result<()> {
    loopback_only(&args.booking)?;
    loadgen::driver::signer();
    let servers = args.common.servers()?;
    let run = loadgen::storm::StormRun {
        label: &args.label,
        booking: &args.booking,
        venue: &args.venue,
        spec: GroupSpec {
            protocol: Protocol::Seatmap,
            urls: urls(&args.urls)?,
            count: 0,
            offset: 0,
            venue: (args.venue != "main").then(|| args.venue.clone()),
            source_ips: args.source_ips,
            parallel: args.parallel,
            compact: args.compact,
            spread_ms: 0,
        },
        steady: args.steady,
        storm: args.storm,
        within: Duration::from_secs_f64(args.within_secs),
        rate: args.rate,
        changes: args.changes,
        per_process: args.per_process,
        servers: &servers,
        drain_limit: Duration::from_secs(args.drain_secs),
    };
    let row = loadgen::storm::run(&run).await?;
    rows::append(args.common.results.as_deref(), &[row])
}

/// `seatbench smoke`: fails on any missing, out-of-order or duplicate delivery.
async fn smoke(args: SmokeArgs) -> anyhow::Result<()> {
    loopback_only(&args.booking)?;
    let urls = urls(&args.urls)?;
    let report = loadgen::smoke::run(&args.booking, &urls, args.viewers, args.changes).await?;
    println!(
        "smoke: {} viewers, {} deliveries: 0 missing, 0 out of order, 0 duplicates",
        args.viewers, report.delivered
    );
    Ok(())
}

/// `seatbench floor`: the minimal broadcaster, on TCP and optionally a Unix socket.
async fn floor(args: FloorArgs) -> anyhow::Result<()> {
    loopback_only(&format!("ws://{}", args.listen))?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let unix = match &args.unix {
        Some(path) => {
            // A socket left by an earlier run; never any other kind of file.
            use std::os::unix::fs::FileTypeExt;
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                std::fs::remove_file(path)?;
            }
            let listener = tokio::net::UnixListener::bind(path)
                .with_context(|| format!("binding {}", path.display()))?;
            // NGINX's workers (user nobody) connect to it, as to an edge's socket.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
            Some(listener)
        }
        None => None,
    };
    loadgen::floor::run(listener, unix, &args.nats, &args.subject).await
}

/// `seatbench viewers`: one viewer process of a fan-out run.
async fn viewers(args: ViewersArgs) -> anyhow::Result<()> {
    let spec: GroupSpec = serde_json::from_str(&args.spec)?;
    for url in &spec.urls {
        loopback_only(url)?;
    }
    loadgen::fanout::serve_viewer_process(spec, Duration::from_secs(args.timeout_secs)).await
}
