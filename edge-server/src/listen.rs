//! Where clients come in: the TCP port and the optional Unix socket (`UNIX_SOCKET`, for a proxy
//! on the same host), HTTP/1.1 on each connection (hyper, with upgrades), and the graceful stop.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

/// Kernel send buffer per client socket. Loopback and LAN autotuning would otherwise let a
/// client that stopped reading pin megabytes; this keeps it to tens of KiB and lets its
/// queue fill (and the client be resynchronised) soon after it stalls.
const CLIENT_SEND_BUFFER: usize = 32 * 1024;

/// A client's HTTP request head must arrive within this.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `UNIX_SOCKET` so that any local user may connect, as on the TCP port. A socket file
/// nobody listens on any more (a previous run killed) is replaced; one that another process
/// still serves is refused, so an edge can never take over a live edge's socket. Returns the
/// listener and the identity of the file it made (see `socket_file_id`).
pub fn bind_unix(path: &std::path::Path) -> anyhow::Result<(UnixListener, Option<FileId>)> {
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
pub type FileId = (u64, u64, i64, i64);

/// The device, inode and change time of the file at `path`: tells this edge's socket file from a
/// later one (a new file may get the inode number of the one removed before it).
pub fn socket_file_id(path: &std::path::Path) -> Option<FileId> {
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
pub async fn serve_http(
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

#[cfg(test)]
mod tests {
    use super::*;

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
