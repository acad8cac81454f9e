//! The edge's Unix socket (`UNIX_SOCKET`, for a proxy on the same host): bound only when no
//! live edge serves it, and removed on exit only if the file is still this edge's.

use tokio::net::UnixListener;

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
