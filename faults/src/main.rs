//! `seatfaults`: kills parts of a running seat map (started by `./start.sh` with `RESTART=1`)
//! under live load, one scenario at a time, and prints one row per scenario for
//! docs/reliability.md. Loopback only; every scenario is bounded in time.

mod ledger;
mod parts;
mod scenarios;

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Parser;
use scenarios::{Row, Stack};

#[derive(Parser)]
#[command(
    name = "seatfaults",
    version,
    about = "Kills parts of a running seat map under load and checks nothing acknowledged is lost and no viewer stays stale"
)]
struct Cli {
    /// start.sh's RUN_DIR (pids/<part>.pid, admin_token).
    #[arg(long, env = "RUN_DIR")]
    run_dir: PathBuf,
    /// NGINX, e.g. http://127.0.0.1:8080
    #[arg(long)]
    http: String,
    /// Booking services, comma-separated base URLs.
    #[arg(long)]
    booking: String,
    /// NATS servers, comma-separated.
    #[arg(long)]
    nats: String,
    /// A Redis (cluster) node's port, for redis-cli.
    #[arg(long)]
    redis_port: u16,
    /// The stack runs a Redis Cluster, a NATS cluster and several booking services.
    #[arg(long)]
    cluster: bool,
    /// The secret the stack signs tokens with (to mint the load's identities).
    #[arg(long, env = "TOKEN_SECRET", hide_env_values = true)]
    token_secret: String,
    /// Scenarios: redis, nats, booking, edge, slow, queue, reshard, disk (comma-separated) or
    /// all (the first five, and reshard with --cluster; queue needs a stack with MAX_SHOPPERS
    /// set; disk, Redis's dir on a tmpfs of its own: scripts/faults.sh --disk).
    #[arg(long, default_value = "all")]
    scenarios: String,
    /// Viewers connected through NGINX in the edge scenario.
    #[arg(long, default_value_t = 1000)]
    viewers: usize,
    /// The venue the booking burst fills: name:ROWSxCOLS, configured in the stack's VENUES.
    #[arg(long, default_value = "rush:26x300")]
    rush: String,
    /// The stack's HOLD_SECONDS.
    #[arg(long, default_value_t = 30)]
    hold_seconds: u64,
    /// The stack's MAX_SHOPPERS (the queue scenario needs it set).
    #[arg(long, default_value_t = 0)]
    max_shoppers: usize,
    /// Viewers that join the waiting room in the queue scenario.
    #[arg(long, default_value_t = 200)]
    queue_viewers: usize,
    /// Append the rows as a Markdown table to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let stack = stack(&cli)?;
    let (rush, size) = cli.rush.split_once(':').context("--rush name:ROWSxCOLS")?;
    let (rows, cols) = size.split_once('x').context("--rush name:ROWSxCOLS")?;
    let (rows, cols): (u16, u16) = (rows.parse()?, cols.parse()?);
    let wanted: Vec<&str> = if cli.scenarios == "all" {
        let mut all = vec!["redis", "nats", "booking", "edge", "slow"];
        if cli.cluster {
            all.push("reshard");
        }
        all
    } else {
        cli.scenarios.split(',').collect()
    };
    let mut rows_out: Vec<Row> = Vec::new();
    for (n, name) in wanted.iter().enumerate() {
        println!("[faults] {}/{}: {name} …", n + 1, wanted.len());
        let row = match *name {
            "redis" => scenarios::redis_master(&stack, rush, rows, cols).await,
            "nats" => scenarios::nats_node(&stack).await,
            "booking" => scenarios::booking_service(&stack, cli.hold_seconds).await,
            "edge" => scenarios::edge(&stack).await,
            "slow" => scenarios::slow_viewers(&stack).await,
            "reshard" => scenarios::reshard(&stack, rush, rows, cols).await,
            "queue" => scenarios::queue(&stack, cli.max_shoppers, cli.queue_viewers).await,
            "disk" => scenarios::disk_full(&stack, rush, rows, cols).await,
            other => {
                bail!(
                    "unknown scenario '{other}' (redis, reshard, nats, booking, edge, slow, queue, disk)"
                )
            }
        };
        println!(
            "[faults] {name}: {} — {}",
            if row.passed { "PASS" } else { "FAIL" },
            row.observed
        );
        rows_out.push(row);
        // Let restarted parts settle before the next scenario.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    }
    let table = table(&cli, &wanted, &rows_out);
    print!("{table}");
    if let Some(out) = &cli.out {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .with_context(|| out.display().to_string())?;
        file.write_all(table.as_bytes())?;
    }
    if rows_out.iter().all(|r| r.passed) {
        Ok(())
    } else {
        bail!("a scenario failed")
    }
}

/// The running stack the flags describe; every address on this machine.
fn stack(cli: &Cli) -> anyhow::Result<Stack> {
    for url in [cli.http.as_str()]
        .into_iter()
        .chain(cli.booking.split(','))
        .chain(cli.nats.split(','))
    {
        testkit::loopback_only(url, "seatfaults").map_err(anyhow::Error::msg)?;
    }
    let admin_token = std::fs::read_to_string(cli.run_dir.join("admin_token"))
        .context("admin_token in RUN_DIR (start.sh writes it)")?
        .trim()
        .to_owned();
    let signer = shared::TokenSigner::new(&cli.token_secret).map_err(anyhow::Error::msg)?;
    Ok(Stack {
        ws: format!("{}/ws", cli.http.replacen("http", "ws", 1)),
        bookings: cli.booking.split(',').map(str::to_owned).collect(),
        nats: cli.nats.split(',').map(str::to_owned).collect(),
        redis_port: cli.redis_port,
        cluster: cli.cluster,
        parts: parts::Parts::new(&cli.run_dir),
        admin_token,
        signer,
        viewers: cli.viewers,
        venues: vec![
            "main".to_owned(),
            cli.rush.split(':').next().unwrap_or("rush").to_owned(),
        ],
    })
}

/// The rows as a Markdown table under a heading naming the topology.
fn table(cli: &Cli, wanted: &[&str], rows: &[Row]) -> String {
    let topology = if wanted == ["queue"] {
        "waiting room (one machine, MAX_SHOPPERS set)"
    } else if wanted == ["disk"] {
        "a full disk (one machine, Redis's dir on a small tmpfs)"
    } else if cli.cluster {
        "cluster (Redis Cluster 3+3, NATS ×3, 2 booking services)"
    } else {
        "one machine (one Redis, one NATS, one booking service)"
    };
    let mut table = format!(
        "\n### {topology}\n\n| Scenario | What was done | What was observed | Figures | Result |\n|---|---|---|---|---|\n"
    );
    for row in rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            row.scenario,
            row.done,
            row.observed,
            row.figures,
            if row.passed { "pass" } else { "**FAIL**" }
        ));
    }
    table
}
