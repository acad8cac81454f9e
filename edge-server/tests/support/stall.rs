//! A booking service that hangs or dies: a TCP forwarder in front of the real one that, once
//! stalled, stops passing bytes on while keeping every connection open, and once killed does
//! what a `kill -9` of the service does on the wire: every connection is reset and the port
//! refuses new ones.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Stall {
    /// `http://…` of the forwarder: give it to an edge as its `BOOKING_URL`.
    pub url: String,
    /// While true, nothing passes in either direction.
    pub stalled: Arc<AtomicBool>,
    killed: watch::Sender<bool>,
}

impl Stall {
    /// Forwards to `booking_url` (`http://host:port`) until the test ends or `kill`.
    pub async fn start(booking_url: &str) -> Stall {
        let target = booking_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stalled = Arc::new(AtomicBool::new(false));
        let (killed, mut dead) = watch::channel(false);
        let gate = stalled.clone();
        tokio::spawn(async move {
            loop {
                let client = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => return,
                    },
                    _ = dead.changed() => return, // the listener goes: the port refuses
                };
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(forward(
                    client_read,
                    server_write,
                    gate.clone(),
                    dead.clone(),
                ));
                tokio::spawn(forward(
                    server_read,
                    client_write,
                    gate.clone(),
                    dead.clone(),
                ));
            }
        });
        Stall {
            url,
            stalled,
            killed,
        }
    }

    /// The service dies at once: every connection through the forwarder is reset (no FIN, no
    /// answer to what was asked) and new ones are refused.
    pub fn kill(&self) {
        let _ = self.killed.send(true);
    }
}

async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
    mut dead: watch::Receiver<bool>,
) {
    let passing = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while stalled.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            while stalled.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let killed = tokio::select! {
        _ = passing => false,
        _ = dead.wait_for(|killed| *killed) => true,
    };
    if killed {
        // Closed with a zero linger: a reset, as the kernel sends for a killed process.
        for socket in [from.as_ref(), to.as_ref()] {
            let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
        }
    }
}
