//! A viewer's socket, in the background: it sends what the `Viewer` queues, reads as its
//! options say and applies what it reads to the shared `View`, and (for a page-like viewer)
//! connects again after a lost socket and resumes where it was.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use shared::ws::ServerMessage;
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::MaybeTlsStream;

use super::{resume_frame, Options, Reading, Socket};
use crate::view::View;

/// Opens the WebSocket at `url` as `options` say.
pub(super) async fn dial(url: &str, options: &Options) -> Result<Socket, tungstenite::Error> {
    let mut request = url.into_client_request()?;
    let headers = request.headers_mut();
    for (name, value) in [("origin", &options.origin), ("cookie", &options.cookie)] {
        if let Some(value) = value {
            headers.insert(name, value.parse().expect("a header value"));
        }
    }
    let Some(size) = options.recv_buffer else {
        return Ok(tokio_tungstenite::connect_async(request).await?.0);
    };
    let authority = request.uri().authority().map(|a| a.to_string());
    let address = tokio::net::lookup_host(authority.unwrap_or_default())
        .await?
        .next()
        .ok_or(tungstenite::Error::Url(
            tungstenite::error::UrlError::NoHostName,
        ))?;
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_recv_buffer_size(size)?;
    let stream = socket.connect(address).await?;
    let (socket, _) =
        tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await?;
    Ok(socket)
}

/// The background half of a viewer: its socket (and, reconnecting, every later one).
pub(super) struct Connection {
    pub(super) url: String,
    pub(super) options: Options,
    pub(super) view: Arc<Mutex<View>>,
    pub(super) received: Arc<Notify>,
    /// Frames to send, from the `Viewer`; closed when it is dropped.
    pub(super) queued: mpsc::UnboundedReceiver<Message>,
}

/// Why one socket's life ended.
enum Ended {
    /// The socket closed or failed.
    Lost,
    /// This side sent a close frame, or the viewer is gone: do not reconnect.
    Done,
}

impl Connection {
    pub(super) async fn run(mut self, mut first: Option<Socket>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let socket = match first.take() {
                Some(socket) => socket,
                None => match dial(&self.url, &self.options).await {
                    Ok(socket) => socket,
                    Err(_) if self.queued.is_closed() => return,
                    Err(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                },
            };
            backoff = Duration::from_millis(100);
            let ended = self.serve(socket).await;
            self.view.lock().unwrap().connected = false;
            if matches!(ended, Ended::Done) || !self.options.reconnect {
                return;
            }
            // Jittered pause before reconnecting, as the page does.
            tokio::time::sleep(Duration::from_millis(50 + random() % 200)).await;
        }
    }

    /// The resume frame for a new socket, when the viewer already has an identity.
    fn greet(&self) -> Option<Message> {
        let mut view = self.view.lock().unwrap();
        view.connected = true;
        view.closed = None;
        let token = view.identity.token.clone()?;
        view.reconnects += 1;
        view.resuming = true;
        let after_seq = view.position.seq().unwrap_or(0);
        let epoch = view.position.epoch().unwrap_or(0);
        let frame =
            json!({"type": "CONNECT", "data": resume_frame(&token, after_seq, Some(epoch), None)});
        Some(Message::text(frame.to_string()))
    }

    /// Sends what is queued and reads as `options.reading` says, until the socket ends.
    async fn serve(&mut self, socket: Socket) -> Ended {
        let (mut sink, mut stream) = socket.split();
        if let Some(resume) = self.greet() {
            if sink.send(resume).await.is_err() {
                return self.lost(None);
            }
        }
        let mut read = 0usize;
        let mut viewer_gone = false;
        loop {
            let reading = match self.options.reading {
                Reading::StallAfter(limit) => read < limit,
                Reading::Normal | Reading::Slow => true,
            };
            tokio::select! {
                frame = self.queued.recv(), if !viewer_gone => match frame {
                    Some(frame) => {
                        let closing = matches!(frame, Message::Close(_));
                        if sink.send(frame).await.is_err() {
                            return self.lost(None);
                        }
                        if closing && self.options.reconnect {
                            return Ended::Done;
                        }
                    }
                    // A single connection goes on reading until the server closes it (a
                    // dropped test client does not close its socket); a page-like one stops.
                    None if self.options.reconnect => return Ended::Done,
                    None => viewer_gone = true,
                },
                message = stream.next(), if reading => match message {
                    Some(Ok(Message::Text(text))) => {
                        read += 1;
                        if self.options.reading == Reading::Slow {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        self.record(text.as_str());
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                        return self.lost(Some(close.unwrap_or((1005, String::new()))));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return self.lost(None),
                },
                else => return Ended::Done,
            }
        }
    }

    fn record(&self, text: &str) {
        let at = Instant::now();
        let mut view = self.view.lock().unwrap();
        match serde_json::from_str::<ServerMessage>(text) {
            Ok(message) => view.record(message, at),
            Err(e) => view
                .violations
                .push(format!("server sent an unparsable frame: {e}: {text}")),
        }
        drop(view);
        self.received.notify_waiters();
    }

    /// Notes the end of a socket: `close` as its close frame said, else dropped (1006).
    fn lost(&self, close: Option<(u16, String)>) -> Ended {
        let mut view = self.view.lock().unwrap();
        view.closed = Some(close.unwrap_or((1006, "connection dropped".into())));
        drop(view);
        self.received.notify_waiters();
        Ended::Lost
    }
}

/// A little randomness without a dependency: the clock's nanoseconds, mixed.
pub fn random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}
