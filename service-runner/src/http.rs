//! HTTP/1.1 for a service's router: hyper on every accepted connection, on a TCP port and
//! optionally a Unix socket, with upgrades (a handler may take the socket back); a deadline for
//! every request head, so a client that sends one slowly, or keeps a connection open and sends
//! nothing, is closed; and a graceful stop that lets the requests in flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct HttpOptions {
    /// A request head must arrive within this, counted from when the connection is ready for
    /// one: an idle keep-alive connection is closed after it too. Keep it above the clients'
    /// own idle timeouts (NGINX's upstream `keepalive_timeout`, HTTP client pools), so that it
    /// is never the server that closes a connection a client is about to reuse.
    pub header_read_timeout: Duration,
    /// Kernel send buffer of every accepted socket; `None` leaves it to the kernel.
    pub send_buffer: Option<usize>,
    /// How long requests in flight may take to finish once the stop is asked for; part of the
    /// stop's one deadline (`stop::STOP_STEPS_WITHIN`), so keep it below that.
    pub drain: Duration,
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

/// Accepts connections on `tcp` (and `unix`) and serves `app` on each until `shutdown`
/// resolves, then gives requests in flight `options.drain` to finish. Handlers see the peer as
/// `ConnectInfo<SocketAddr>` (127.0.0.1:0 on the Unix socket, whose peer is a local proxy).
/// Returns when the stop began (`shutdown` resolved): the start of the stop's deadline.
pub async fn serve(
    tcp: TcpListener,
    unix: Option<UnixListener>,
    app: Router,
    options: HttpOptions,
    shutdown: impl Future<Output = ()>,
) -> tokio::time::Instant {
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a sender: when `recv` sees none left, all have ended.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    tokio::pin!(shutdown);
    let began = loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break tokio::time::Instant::now(),
            accepted = tcp.accept() => accepted.map(|(tcp, peer)| Accepted::Tcp(tcp, peer)),
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
                if let Some(size) = options.send_buffer {
                    let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(size);
                }
                serve_connection(&builder, tcp, peer, &app, open, stopping);
            }
            Accepted::Unix(stream) => {
                if let Some(size) = options.send_buffer {
                    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(size);
                }
                // A local proxy: like a loopback peer, its X-Real-IP names the client.
                let peer = SocketAddr::from(([127, 0, 0, 1], 0));
                serve_connection(&builder, stream, peer, &app, open, stopping);
            }
        }
    };
    // Stop listening first: a connection made during the drain would be accepted by the kernel
    // and never served (a proxy would send it a request and get a reset); refused, it is
    // retried on another instance at once.
    drop(tcp);
    drop(unix);
    let _ = stop.send(true);
    drop(open);
    let _ = tokio::time::timeout(options.drain, all_closed.recv()).await;
    began
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
