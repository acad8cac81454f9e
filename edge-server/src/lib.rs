//! The edge server: holds WebSocket clients, mirrors every venue from NATS, fans each change out
//! to its clients in seq order, and forwards their commands to the booking service.

pub mod booking;
pub mod config;
pub mod connection;
pub mod hub;
pub mod metrics;
pub mod mirror;
pub mod origin;
pub mod recent;
pub mod stream;
pub mod upstream;
pub mod venues;
pub mod waiting;
pub mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use shared::{ErrorCode, SeatEvent};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::stream::Stream;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

pub use config::Config;

/// Kernel send buffer per client socket. Loopback and LAN autotuning would otherwise let a
/// client that stopped reading pin megabytes; this keeps it to tens of KiB and lets its
/// queue fill (and the client be resynchronised) soon after it stalls.
const CLIENT_SEND_BUFFER: usize = 32 * 1024;

/// Largest frame read at all; frames above 4 KiB but below this get an ERROR and the socket
/// stays up, larger ones get an ERROR and end the connection (they are not worth buffering).
const MAX_READ_FRAME: usize = 64 * 1024;

/// A client's HTTP request head must arrive within this.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection shares.
pub struct Edge {
    pub config: Config,
    pub booking: booking::BookingClient,
    pub venues: venues::Venues,
    pub metrics: metrics::Metrics,
    pub nats: async_nats::Client,
    /// Learned from the booking service's snapshots; sent in WELCOME.
    pub hold_seconds: AtomicU64,
    pub shutdown: watch::Receiver<bool>,
    next_client: AtomicU64,
}

impl Edge {
    pub fn next_client_id(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed)
    }
}

/// The routes: `/ws`, `/health`, `/metrics`.
pub fn app(edge: Arc<Edge>) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            refusal(
                ErrorCode::NotFound,
                "no such route; an edge serves /ws, /health and /metrics",
            )
        })
        .method_not_allowed_fallback(|| async {
            refusal(ErrorCode::MethodNotAllowed, "this route answers GET only")
        })
        .with_state(edge)
}

/// An HTTP refusal in the booking service's error shape:
/// `{"ok":false,"error":{"code","message"}}`, with the code's status.
fn refusal(code: ErrorCode, message: &str) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"ok": false, "error": {"code": code.as_str(), "message": message}});
    (status, Json(body)).into_response()
}

/// `GET /ws`: refused with 403 `ORIGIN_NOT_ALLOWED` before upgrading when the `Origin` is not allowed; the
/// upgraded connection is taken back as the plain `TcpStream` (`connection::serve`).
async fn upgrade(
    State(edge): State<Arc<Edge>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    mut request: Request,
) -> Response {
    let ip = origin::client_ip(peer, &headers);
    if !edge.config.allowed_origins.allows(&headers) {
        edge.metrics.origins_refused.inc();
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(100)
            .collect::<String>();
        tracing::info!(%ip, %origin, "WebSocket refused: origin not allowed");
        return refusal(
            ErrorCode::OriginNotAllowed,
            "this page's origin may not open a WebSocket here",
        );
    }
    if request.method() != axum::http::Method::GET {
        return refusal(
            ErrorCode::MethodNotAllowed,
            "a WebSocket opens with GET /ws",
        );
    }
    let accept = match websocket_accept(&headers) {
        Ok(accept) => accept,
        Err(refusal) => return refusal,
    };
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return refusal(
            ErrorCode::UpgradeRequired,
            "this connection cannot be upgraded",
        );
    };
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%ip, %error, "WebSocket upgrade failed");
                return;
            }
        };
        // Copy what was read past the handshake: the `Bytes` keeps hyper's whole read buffer
        // alive for as long as it lives.
        let (stream, read_ahead): (Stream, Vec<u8>) =
            match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => (parts.io.into_inner().into(), parts.read_buf.to_vec()),
                Err(upgraded) => match upgraded.downcast::<TokioIo<UnixStream>>() {
                    Ok(parts) => (parts.io.into_inner().into(), parts.read_buf.to_vec()),
                    Err(_) => {
                        tracing::error!("an upgraded connection is neither TCP nor a Unix socket");
                        return;
                    }
                },
            };
        connection::serve(stream, read_ahead, edge, ip).await
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

/// Checks a WebSocket upgrade request (RFC 6455 §4.2.1) and derives its `Sec-WebSocket-Accept`.
#[allow(clippy::result_large_err)]
fn websocket_accept(headers: &HeaderMap) -> Result<HeaderValue, Response> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        let mut refused = refusal(
            ErrorCode::UpgradeRequired,
            "this is a WebSocket endpoint: connect with a WebSocket client",
        );
        refused
            .headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return Err(refused);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        let mut refused = refusal(
            ErrorCode::UpgradeRequired,
            "only WebSocket version 13 is spoken here",
        );
        refused.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(refused);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refusal(
            ErrorCode::ValidationError,
            "Sec-WebSocket-Key is missing",
        ));
    };
    if !is_websocket_key(key.as_bytes()) {
        return Err(refusal(
            ErrorCode::ValidationError,
            "Sec-WebSocket-Key must be 16 bytes in base64",
        ));
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    Ok(HeaderValue::from_str(&accept).expect("base64 is a valid header value"))
}

/// A `Sec-WebSocket-Key`: 16 bytes in base64, which is 22 base64 characters and `==`.
fn is_websocket_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

async fn health(State(edge): State<Arc<Edge>>) -> Response {
    let nats = edge.nats.connection_state() == async_nats::connection::State::Connected;
    let body = json!({
        "status": if nats { "ok" } else { "unavailable" },
        "edge_id": edge.config.edge_id,
        "nats": if nats { "ok" } else { "down" },
        "connections": edge.metrics.connections.get(),
    });
    let status = if nats {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(edge): State<Arc<Edge>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        edge.metrics.render(),
    )
        .into_response()
}

/// Serves WebSocket clients on `listener` until `shutdown` resolves; then every client gets a
/// close frame 1001 (going away) so it reconnects to another edge.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = metrics::Metrics::new();
    let booking = booking::BookingClient::new(&config.booking_urls)?;
    let timing = hub::HubTiming {
        client_queue: config.client_queue,
        reorder_window: config.reorder_window,
        seq_check_interval: config.seq_check_interval,
    };
    let venues = venues::Venues::new(booking.clone(), metrics.clone(), timing);

    let (nats_events, nats_connected) = mpsc::unbounded_channel::<async_nats::Event>();
    let nats = async_nats::ConnectOptions::new()
        .name(&config.edge_id)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        // The third ping due while two are unanswered ends the connection: a silently dead NATS
        // is noticed within 3 intervals (3.75 s), then reconnects and every venue catches up.
        .ping_interval(config.nats_ping_interval)
        .max_reconnects(None)
        .reconnect_delay_callback(|attempt| {
            Duration::from_millis((100u64 << attempt.min(4)).min(1_000))
        })
        .event_callback(move |event| {
            let nats_events = nats_events.clone();
            async move {
                let _ = nats_events.send(event);
            }
        })
        .connect(config.nats_servers.clone())
        .await?;

    let (stop, stopped) = watch::channel(false);
    let edge = Arc::new(Edge {
        booking,
        venues,
        metrics,
        nats: nats.clone(),
        hold_seconds: AtomicU64::new(30),
        shutdown: stopped,
        next_client: AtomicU64::new(1),
        config,
    });
    edge.venues.open_unchecked(&edge.config.default_venue);
    let subscription = nats.subscribe(shared::event::SUBJECT_ALL).await?;
    tokio::spawn(dispatch_events(subscription, edge.clone()));
    tokio::spawn(resync_on_reconnect(nats_connected, edge.clone()));
    tokio::spawn(learn_hold_seconds(edge.clone()));

    tracing::info!(
        addr = %tokio::net::TcpListener::local_addr(&listener)?,
        edge_id = %edge.config.edge_id,
        booking = %edge.config.booking_urls.join(","),
        nats = %shared::settings::describe_nats_servers(&edge.config.nats_servers),
        "edge server listening"
    );
    let unix = match &edge.config.unix_socket {
        Some(path) => Some(bind_unix(path)?),
        None => None,
    };
    let unix_file = unix.as_ref().and_then(|(_, file)| *file);
    let unix = unix.map(|(listener, _)| listener);
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down: closing every WebSocket with 1001 (going away)");
        let _ = stop.send(true);
    };
    serve_http(listener, unix, app(edge.clone()), graceful).await;
    if let Some(path) = &edge.config.unix_socket {
        // Only if the file is still the one this edge bound, not a successor's.
        if unix_file.is_some() && socket_file_id(path) == unix_file {
            let _ = std::fs::remove_file(path);
        }
    }
    // Upgraded sockets outlive `serve`; give their writers time to send the close frames.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while edge.metrics.connections.get() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = edge.nats.flush().await;
    tracing::info!("stopped");
    Ok(())
}

/// Binds `UNIX_SOCKET` so that any local user may connect, as on the TCP port. A socket file
/// nobody listens on any more (a previous run killed) is replaced; one that another process
/// still serves is refused, so an edge can never take over a live edge's socket. Returns the
/// listener and the identity of the file it made (see `socket_file_id`).
fn bind_unix(path: &std::path::Path) -> anyhow::Result<(UnixListener, Option<FileId>)> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        anyhow::ensure!(
            std::os::unix::net::UnixStream::connect(path).is_err(),
            "UNIX_SOCKET {}: another process is serving on it",
            path.display()
        );
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| anyhow::anyhow!("UNIX_SOCKET {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    tracing::info!(path = %path.display(), "also listening on a Unix socket");
    Ok((listener, socket_file_id(path)))
}

/// A file's device, inode and change time (seconds, nanoseconds).
type FileId = (u64, u64, i64, i64);

/// The device, inode and change time of the file at `path`: tells this edge's socket file from a
/// later one (a new file may get the inode number of the one removed before it).
fn socket_file_id(path: &std::path::Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.ctime(), m.ctime_nsec()))
}

/// A connection just accepted, on the TCP port or the Unix socket.
enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

/// The next connection from `unix`; never, without one.
async fn accept_unix(unix: &Option<UnixListener>) -> std::io::Result<UnixStream> {
    match unix {
        Some(listener) => listener.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

/// Accepts connections and serves HTTP/1.1 on each (with upgrades) until `shutdown` resolves,
/// then waits a little for requests in flight. Served by hyper directly rather than
/// `axum::serve`, so that an upgraded connection can be taken back as the stream itself.
async fn serve_http(
    listener: TcpListener,
    unix: Option<UnixListener>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a sender: when `recv` sees none left, all have ended.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted.map(|(tcp, peer)| Accepted::Tcp(tcp, peer)),
            accepted = accept_unix(&unix) => accepted.map(Accepted::Unix),
        };
        let accepted = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most likely: give connections time to close.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (open, stopping) = (open.clone(), stopping.clone());
        match accepted {
            Accepted::Tcp(tcp, peer) => {
                let _ = tcp.set_nodelay(true);
                let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(CLIENT_SEND_BUFFER);
                serve_connection(&builder, tcp, peer, &app, open, stopping);
            }
            Accepted::Unix(stream) => {
                let _ = socket2::SockRef::from(&stream).set_send_buffer_size(CLIENT_SEND_BUFFER);
                // A local proxy: like a loopback peer, its X-Real-IP names the client.
                let peer = SocketAddr::from(([127, 0, 0, 1], 0));
                serve_connection(&builder, stream, peer, &app, open, stopping);
            }
        }
    }
    let _ = stop.send(true);
    drop(open);
    let _ = tokio::time::timeout(Duration::from_secs(5), all_closed.recv()).await;
}

/// Serves HTTP/1.1 on one accepted connection in a task of its own; on `stopping`, finishes the
/// request in flight and closes.
fn serve_connection<IO>(
    builder: &hyper::server::conn::http1::Builder,
    io: IO,
    peer: SocketAddr,
    app: &Router,
    open: mpsc::Sender<()>,
    mut stopping: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let app = app.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::spawn(async move {
        let _open = open;
        tokio::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            _ = stopping.changed() => {
                // Finish the request in flight, then close (keep-alive ends here).
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = ended {
            tracing::debug!(%peer, %error, "HTTP connection ended with an error");
        }
    });
}

/// Routes every event from NATS to its venue's hub.
async fn dispatch_events(mut subscription: async_nats::Subscriber, edge: Arc<Edge>) {
    while let Some(message) = subscription.next().await {
        let event: SeatEvent = match serde_json::from_slice(&message.payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(subject = %message.subject, %error, "ignoring an unparsable event");
                continue;
            }
        };
        if let Some(venue) = edge.venues.get(&event.venue) {
            venue.event(event).await;
        }
    }
    tracing::warn!("NATS subscription ended");
}

/// After NATS reconnects, events published meanwhile may never arrive: every venue catches up
/// from the booking service's event history (or a snapshot when that cannot help).
async fn resync_on_reconnect(
    mut events: mpsc::UnboundedReceiver<async_nats::Event>,
    edge: Arc<Edge>,
) {
    let mut connected_before = false;
    while let Some(event) = events.recv().await {
        match event {
            async_nats::Event::Connected if connected_before => {
                edge.metrics.nats_reconnects.inc();
                tracing::info!("NATS reconnected; resynchronising every venue");
                for venue in edge.venues.all() {
                    venue.resync().await;
                }
            }
            async_nats::Event::Connected => connected_before = true,
            async_nats::Event::Disconnected => tracing::warn!("NATS disconnected; reconnecting"),
            other => tracing::info!(event = %other, "NATS event"),
        }
    }
}

/// WELCOME carries the hold length; learn it from the booking service (retrying until it answers).
async fn learn_hold_seconds(edge: Arc<Edge>) {
    loop {
        if let Ok(Some(snapshot)) = edge.booking.snapshot(&edge.config.default_venue).await {
            edge.hold_seconds
                .store(snapshot.hold_seconds, Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sixteen_bytes_in_base64_are_a_websocket_key() {
        assert!(is_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        for bad in [
            &b"abc"[..],
            b"dGhlIHNhbXBsZSBub25jZQ",
            b"dGhlIHNhbXBsZSBub25jZQ=x",
            b"dGhlIHNhbXBsZSBub25j!Q==",
        ] {
            assert!(!is_websocket_key(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[tokio::test]
    async fn a_live_unix_socket_is_never_taken_over_and_a_stale_one_is_replaced() {
        let path = std::env::temp_dir().join(format!("seatmap-bind-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (live, file) = bind_unix(&path).unwrap();
        let refused = bind_unix(&path).unwrap_err().to_string();
        assert!(
            refused.contains("another process is serving on it"),
            "{refused}"
        );
        assert_eq!(
            socket_file_id(&path),
            file,
            "the live edge's file is untouched"
        );
        drop(live);
        let (_again, newer) = bind_unix(&path).expect("a stale socket file is replaced");
        assert_ne!(newer, file, "a new file");
        std::fs::remove_file(&path).unwrap();
    }
}
