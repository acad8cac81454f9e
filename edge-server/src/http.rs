//! The edge's HTTP door: the routes (`/ws`, `/health`, `/metrics`), the WebSocket upgrade and
//! its checks (origin, method, RFC 6455 headers), and every refusal as a coded JSON error.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use serde_json::json;
use shared::api::ErrorResponse;
use shared::ErrorCode;
use tokio::net::{TcpStream, UnixStream};

use crate::stream::Stream;
use crate::{connection, origin, request_id, Edge};

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

/// An HTTP refusal in the booking service's error shape (`ErrorResponse`:
/// `{"ok":false,"error":{"code","message"}}`), with the code's status.
fn refusal(code: ErrorCode, message: &str) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(ErrorResponse::new(code, message))).into_response()
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
    let connection_id = request_id::from_headers(&headers);
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
        connection::serve(stream, read_ahead, edge, ip, connection_id).await
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
    let nats = edge.nats.connection_state() == async_nats::connection::State::Connected;
    edge.metrics.nats_up.set(i64::from(nats));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        edge.metrics.render(),
    )
        .into_response()
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
}
