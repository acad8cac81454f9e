//! `seatproxy`: one TCP link made slow, as Toxiproxy's latency toxic makes it: every chunk read on
//! either side is written to the other `--latency-ms` later, give or take up to `--jitter-ms`,
//! in the order it was read. The network fault scenarios (tests/net/) put one on a link between
//! two test hosts. A fixed link per process needs no control API, so this stays a page of code.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Parser, Clone, Copy)]
#[command(
    name = "seatproxy",
    version,
    about = "A TCP link with latency and jitter, for the network fault scenarios"
)]
struct Cli {
    /// Where clients connect, e.g. 127.0.0.1:14222
    #[arg(long)]
    listen: SocketAddr,
    /// Where each connection is forwarded, e.g. 10.200.0.2:4222
    #[arg(long)]
    upstream: SocketAddr,
    /// Delay added to every chunk, each way.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    /// Up to this much more or less, at random per chunk (order is kept).
    #[arg(long, default_value_t = 30)]
    jitter_ms: u64,
}

/// Chunks read but not yet written, per direction: a full queue stops the reading side.
const QUEUE: usize = 256;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    eprintln!(
        "seatproxy: {} -> {}, {} ms ± {} ms",
        cli.listen, cli.upstream, cli.latency_ms, cli.jitter_ms
    );
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64)
        | 1;
    loop {
        let (client, _) = listener.accept().await?;
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        tokio::spawn(async move {
            match TcpStream::connect(cli.upstream).await {
                Ok(upstream) => link(client, upstream, cli, seed).await,
                Err(error) => eprintln!("seatproxy: {}: {error}", cli.upstream),
            }
        });
    }
}

/// Both directions of one connection, until either side closes.
async fn link(client: TcpStream, upstream: TcpStream, cli: Cli, seed: u64) {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    tokio::join!(
        slow_pipe(client_read, upstream_write, cli, seed),
        slow_pipe(upstream_read, client_write, cli, seed.rotate_left(17) | 1),
    );
}

/// Copies `from` to `to`, each chunk held until its due time.
async fn slow_pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cli: Cli,
    mut random: u64,
) {
    let (sender, mut receiver) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = receiver.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut last_due = Instant::now();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // xorshift: the jitter needs no more than this.
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let span = 2 * cli.jitter_ms + 1;
        let delay = (cli.latency_ms + random % span).saturating_sub(cli.jitter_ms);
        let due = (Instant::now() + Duration::from_millis(delay)).max(last_due);
        last_due = due;
        if sender.send((due, buffer[..read].to_vec())).await.is_err() {
            break;
        }
    }
    drop(sender);
    let _ = writer.await;
}
