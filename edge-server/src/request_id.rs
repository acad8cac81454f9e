//! Request ids: each WebSocket connection's id (NGINX's `X-Request-Id` of its upgrade, or one the
//! edge makes for a client that came straight), and each command's id, `<connection id>.<n>`,
//! which the command's lines here carry and the booking service gets as its `X-Request-Id`.

use std::future::Future;
use std::sync::Arc;

use axum::http::HeaderMap;

pub use shared::request_id::HEADER;

/// The longest id taken from a request; NGINX's own are 32 hex digits.
const MAX_LEN: usize = 64;

tokio::task_local! {
    /// The id of the command being run, for the booking client to send.
    static COMMAND_ID: Arc<str>;
}

/// The upgrade's `X-Request-Id`, when it is one: 1 to 64 letters, digits, `.`, `_`, `:`, `-`.
/// Anything else (which could forge or break log lines) is not taken.
pub fn from_headers(headers: &HeaderMap) -> Option<String> {
    let id = headers.get(HEADER)?.to_str().ok()?;
    shared::request_id::is_well_formed(id, MAX_LEN).then(|| id.to_owned())
}

/// The id of a connection that came with none (straight to the edge, not through NGINX): the
/// edge's id and the connection's number on it.
pub fn made_here(edge_id: &str, client: u64) -> String {
    format!("{edge_id}-c{client}")
}

/// The id of a connection's `n`th command.
pub fn command_id(connection: &str, n: u64) -> Arc<str> {
    format!("{connection}.{n}").into()
}

/// Runs `command` with `id` as the id its requests to the booking service carry.
pub fn with_command_id<F: Future>(id: Arc<str>, command: F) -> impl Future<Output = F::Output> {
    COMMAND_ID.scope(id, command)
}

/// The id of the command this task is running, if any.
pub fn current_command() -> Option<Arc<str>> {
    COMMAND_ID.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, id.parse().unwrap());
        headers
    }

    #[test]
    fn only_plain_short_ids_are_taken_from_a_request() {
        let nginx = "4f3a9c0d2e1b4a5f8c7d6e5f4a3b2c1d";
        assert_eq!(from_headers(&headers(nginx)).as_deref(), Some(nginx));
        assert_eq!(
            from_headers(&headers("a-b_c:d.e")).as_deref(),
            Some("a-b_c:d.e")
        );
        assert_eq!(from_headers(&HeaderMap::new()), None);
        for bad in ["", "with space", "quote\"", "x=1", &"a".repeat(65)] {
            assert_eq!(from_headers(&headers(bad)), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_command_s_id_is_seen_inside_it_only() {
        let id = command_id("conn", 3);
        assert_eq!(&*id, "conn.3");
        let seen = with_command_id(id, async { current_command() }).await;
        assert_eq!(seen.as_deref(), Some("conn.3"));
        assert_eq!(current_command(), None);
    }
}
