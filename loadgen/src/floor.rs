//! The floor: the least a WebSocket fan-out can do. Plain tokio TCP; the upgrade handshake is
//! done by hand; every change from NATS becomes one pre-encoded text frame (the event's JSON as
//! published, unparsed) written to every socket from one task, with no per-client task, queue
//! or JSON. A socket that cannot take a frame at once keeps the rest in its own buffer, flushed
//! before its next frame and every millisecond meanwhile.
//!
//! Fed by the same NATS subject as the edges, so ours ÷ floor compares only the last hop.
//! Listens on TCP and, optionally, on a Unix socket too (as the edges do for NGINX).

use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// A socket holding more than this unsent is dropped (a stalled client).
const MAX_PENDING: usize = 4 << 20;

/// One unmasked text frame (server to client).
pub fn text_frame(payload: &[u8]) -> Vec<u8> {
    crate::ws_frame::server_frame(true, 0x1, payload)
}

/// Reads the upgrade request and answers 101, with `extra` (frames, for tests) in the same write.
pub async fn accept_upgrade<S>(mut stream: S, extra: &[u8]) -> anyhow::Result<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0 && request.len() < 16 * 1024, "bad upgrade request");
        request.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let key = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .context("no Sec-WebSocket-Key")?;
    let mut answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    )
    .into_bytes();
    answer.extend_from_slice(extra);
    stream.write_all(&answer).await?;
    Ok(stream)
}

/// An upgraded viewer socket: from a browser-like client over TCP, or from NGINX over Unix.
enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Socket {
    fn try_write(&self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.try_write(bytes),
            Socket::Unix(s) => s.try_write(bytes),
        }
    }
}

/// A connection accepted, not yet upgraded.
enum Accepted {
    Tcp(TcpStream),
    Unix(UnixStream),
}

struct Client {
    stream: Socket,
    /// Bytes not written yet: `pending[written..]`.
    pending: Vec<u8>,
    written: usize,
    dead: bool,
}

impl Client {
    fn new(stream: Socket) -> Client {
        Client {
            stream,
            pending: Vec::new(),
            written: 0,
            dead: false,
        }
    }

    fn has_pending(&self) -> bool {
        self.written < self.pending.len()
    }

    fn flush(&mut self) {
        while self.has_pending() {
            match self.stream.try_write(&self.pending[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.dead = true;
                    break;
                }
            }
        }
        if !self.has_pending() {
            self.pending.clear();
            self.written = 0;
        } else if self.written > 64 * 1024 && self.written * 2 > self.pending.len() {
            // Compact now and then (amortised), never on every partial write.
            self.pending.drain(..self.written);
            self.written = 0;
        }
    }

    fn send(&mut self, frame: &[u8]) {
        if !self.has_pending() {
            match self.stream.try_write(frame) {
                Ok(n) if n == frame.len() => return,
                Ok(n) => self.pending.extend_from_slice(&frame[n..]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.pending.extend_from_slice(frame)
                }
                Err(_) => self.dead = true,
            }
        } else {
            self.pending.extend_from_slice(frame);
            self.flush();
        }
        if self.pending.len() - self.written > MAX_PENDING {
            self.dead = true;
        }
    }
}

/// Serves until the process is stopped: viewers on `listener`, and on `unix` when given.
pub async fn run(
    listener: TcpListener,
    unix: Option<UnixListener>,
    nats_url: &str,
    subject: &str,
) -> anyhow::Result<()> {
    let nats = async_nats::connect(nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {nats_url}"))?;
    let mut events = nats.subscribe(subject.to_owned()).await?;
    let (joined, mut joins) = mpsc::unbounded_channel::<Socket>();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted.map(|(stream, _)| {
                    let _ = stream.set_nodelay(true);
                    Accepted::Tcp(stream)
                }),
                accepted = async {
                    match &unix {
                        Some(unix) => unix.accept().await,
                        None => std::future::pending().await,
                    }
                } => accepted.map(|(stream, _)| Accepted::Unix(stream)),
            };
            let Ok(accepted) = accepted else {
                continue;
            };
            // Only the handshake has a task of its own; it ends at the upgrade.
            let joined = joined.clone();
            tokio::spawn(async move {
                let upgraded = match accepted {
                    Accepted::Tcp(stream) => accept_upgrade(stream, &[]).await.map(Socket::Tcp),
                    Accepted::Unix(stream) => accept_upgrade(stream, &[]).await.map(Socket::Unix),
                };
                if let Ok(socket) = upgraded {
                    let _ = joined.send(socket);
                }
            });
        }
    });
    let ready = text_frame(b"READY");
    let mut clients: Vec<Client> = Vec::new();
    let mut any_pending = false;
    let mut retry = tokio::time::interval(Duration::from_millis(1));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            Some(stream) = joins.recv() => {
                let mut client = Client::new(stream);
                client.send(&ready);
                any_pending |= client.has_pending();
                clients.push(client);
            }
            event = events.next() => {
                let Some(event) = event else { break };
                let frame = text_frame(&event.payload);
                any_pending = false;
                for client in &mut clients {
                    client.send(&frame);
                    any_pending |= client.has_pending();
                }
                clients.retain(|c| !c.dead);
            }
            _ = retry.tick(), if any_pending => {
                any_pending = false;
                for client in &mut clients {
                    client.flush();
                    any_pending |= client.has_pending();
                }
                clients.retain(|c| !c.dead);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(text_frame(b"hi"), vec![0x81, 2, b'h', b'i']);
        let long = vec![b'x'; 300];
        let f = text_frame(&long);
        assert_eq!(&f[..4], &[0x81, 126, 1, 44]);
        assert_eq!(f.len(), 304);
    }
}
