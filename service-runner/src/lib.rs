//! What every service binary does the same way: `--help` and `--version`, logging with
//! `RUST_LOG`, binding its port with a clear error, serving HTTP ([`http`]), and stopping on
//! Ctrl+C or SIGTERM within one deadline ([`stop`]). The services' `main`s stay a few lines long.

pub mod http;
pub mod stop;

pub use stop::shutdown_signal;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Handles the command line: prints help or version and returns `false` when the process should
/// exit; returns `true` to run; fails on anything else.
pub fn handle_args(name: &str, version: &str, help: &str) -> anyhow::Result<bool> {
    match std::env::args().nth(1).as_deref() {
        Some("-h" | "--help") => {
            print!("{help}");
            Ok(false)
        }
        Some("-V" | "--version") => {
            println!("{name} {version}");
            Ok(false)
        }
        Some(other) => anyhow::bail!("unknown argument '{other}'; see {name} --help"),
        None => Ok(true),
    }
}

/// Logs to stdout, filtered by `RUST_LOG` (default `info`); in colour only on a terminal, so a
/// log file reads (and greps) as plain `key=value` text.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
}

/// Binds `host:port`, naming the address when it cannot.
pub async fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    let addr = format!("{host}:{port}");
    TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}
