//! Redis's own view of the scripts' cost during a measurement: `CONFIG RESETSTAT` at its start,
//! then `INFO latencystats` and `INFO commandstats` for `EVALSHA` at its end. This is the time
//! Redis spent running the scripts (it runs one at a time), not the round trip the service sees.

use anyhow::{bail, Context};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// `EVALSHA` in Redis during the measurement.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ScriptTime {
    pub calls: u64,
    pub usec_per_call: f64,
    pub p50_usec: f64,
    pub p99_usec: f64,
    pub p999_usec: f64,
}

impl std::fmt::Display for ScriptTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Redis EVALSHA: {} calls, mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs",
            self.calls, self.usec_per_call, self.p50_usec, self.p99_usec, self.p999_usec
        )
    }
}

/// `redis://host:port` → `host:port` (loopback only, as all of seatbench's load).
fn address(url: &str) -> anyhow::Result<String> {
    crate::loopback_only(url)?;
    let rest = url
        .strip_prefix("redis://")
        .with_context(|| format!("{url}: expected redis://host:port"))?;
    Ok(rest.trim_end_matches('/').to_owned())
}

/// One command, its reply as text (a status line or a bulk string).
async fn command(url: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(address(url)?).await?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).await?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    match line.as_bytes().first() {
        Some(b'+') => Ok(line[1..].trim_end().to_owned()),
        Some(b'$') => {
            let len: usize = line[1..].trim_end().parse()?;
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body).await?;
            body.truncate(len);
            Ok(String::from_utf8(body)?)
        }
        _ => bail!("redis answered {:?} to {args:?}", line.trim_end()),
    }
}

/// Starts a measurement: clears Redis's command and latency statistics.
pub async fn reset(url: &str) -> anyhow::Result<()> {
    command(url, &["CONFIG", "RESETSTAT"]).await.map(|_| ())
}

/// `EVALSHA` since the last `reset`.
pub async fn read(url: &str) -> anyhow::Result<ScriptTime> {
    let mut time = ScriptTime::default();
    let commands = command(url, &["INFO", "commandstats"]).await?;
    let latency = command(url, &["INFO", "latencystats"]).await?;
    let field = |line: &str, name: &str| -> Option<f64> {
        line.split([',', ':'])
            .find_map(|part| part.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
    };
    for line in commands.lines() {
        if line.starts_with("cmdstat_evalsha:") {
            time.calls = field(line, "calls").unwrap_or(0.0) as u64;
            time.usec_per_call = field(line, "usec_per_call").unwrap_or(0.0);
        }
    }
    for line in latency.lines() {
        if line.starts_with("latency_percentiles_usec_evalsha:") {
            time.p50_usec = field(line, "p50").unwrap_or(0.0);
            time.p99_usec = field(line, "p99").unwrap_or(0.0);
            time.p999_usec = field(line, "p99.9").unwrap_or(0.0);
        }
    }
    Ok(time)
}
