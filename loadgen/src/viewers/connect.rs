//! Opening one viewer's socket: TCP from a chosen loopback source address, the WebSocket upgrade
//! written and read by hand (bytes that came after the 101 response are kept for the event loop),
//! and, for the seat map, `CONNECT` as the page sends it on open. Then the socket leaves tokio.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::frames::{encode_client, OP_TEXT};
use super::Protocol;

/// A socket past its upgrade: non-blocking, no longer registered with tokio.
pub struct Opened {
    pub stream: std::net::TcpStream,
    /// What the server sent right after its 101 response (frames for the event loop).
    pub leftover: Vec<u8>,
}

/// `ws://ip:port/path` as (address, host header, path).
fn split_url(url: &str) -> anyhow::Result<(SocketAddr, String, String)> {
    let target = crate::http::Target::parse_scheme(url, "ws")?;
    let addr = target
        .addr
        .parse()
        .with_context(|| format!("{url}: needs ip:port"))?;
    let path = if target.base.is_empty() {
        "/".to_owned()
    } else {
        target.base
    };
    Ok((addr, target.host, path))
}

/// What a seat-map viewer's `CONNECT` asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hello<'a> {
    /// The venue, when not the default.
    pub venue: Option<&'a str>,
    /// The compact `VENUE_STATE`, as the page asks.
    pub compact: bool,
}

impl Hello<'_> {
    fn connect_frame(&self) -> serde_json::Value {
        let mut data = serde_json::Map::new();
        if let Some(venue) = self.venue {
            data.insert("venue".into(), venue.into());
        }
        if self.compact {
            data.insert("state".into(), "compact".into());
        }
        serde_json::json!({"type": "CONNECT", "data": data})
    }
}

pub async fn open(
    protocol: Protocol,
    url: &str,
    source: [u8; 4],
    hello: Hello<'_>,
) -> anyhow::Result<Opened> {
    let (addr, host, path) = split_url(url)?;
    let socket = TcpSocket::new_v4()?;
    if addr.ip().is_loopback() {
        socket.bind((Ipv4Addr::from(source), 0).into())?;
    }
    let mut stream = tokio::time::timeout(Duration::from_secs(10), socket.connect(addr))
        .await
        .context("TCP connect timed out")??;
    stream.set_nodelay(true)?;
    let leftover =
        tokio::time::timeout(Duration::from_secs(10), upgrade(&mut stream, &host, &path))
            .await
            .context("WebSocket handshake timed out")??;
    if protocol == Protocol::Seatmap {
        // As the page does: CONNECT as soon as the socket opens (the edge holds the first
        // VENUE_STATE back for a moment, waiting for a CONNECT that might resume by seq).
        let mut frame = Vec::new();
        encode_client(
            OP_TEXT,
            hello.connect_frame().to_string().as_bytes(),
            &mut frame,
        );
        stream.write_all(&frame).await?;
    }
    // Non-blocking, as the event loop needs it.
    let stream = stream.into_std()?;
    Ok(Opened { stream, leftover })
}

/// Sends the upgrade request, reads the 101 response and checks its accept key; returns the
/// bytes read past the response.
async fn upgrade(stream: &mut TcpStream, host: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    let key = generate_key();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        ensure!(
            n > 0,
            "the server closed the connection during the WebSocket handshake"
        );
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(end) = response.parse(&buf)? else {
            ensure!(
                buf.len() < 16 * 1024,
                "upgrade response headers over 16 KiB"
            );
            continue;
        };
        let code = response.code.unwrap_or(0);
        if code != 101 {
            bail!(
                "HTTP error: {code} {} (expected 101 Switching Protocols)",
                response.reason.unwrap_or("")
            );
        }
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
        };
        ensure!(
            header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
            "101 response without Upgrade: websocket"
        );
        ensure!(
            header("sec-websocket-accept").as_deref() == Some(&derive_accept_key(key.as_bytes())),
            "101 response with a wrong Sec-WebSocket-Accept"
        );
        ensure!(
            header("sec-websocket-extensions").is_none(),
            "the server chose an extension the client did not offer"
        );
        return Ok(buf.split_off(end));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_urls() {
        let (addr, host, path) = super::split_url("ws://127.0.0.1:3000/ws").unwrap();
        assert_eq!(
            (addr.port(), host.as_str(), path.as_str()),
            (3000, "127.0.0.1:3000", "/ws")
        );
        let (_, _, path) = super::split_url("ws://127.0.0.1:4223").unwrap();
        assert_eq!(path, "/");
        assert!(super::split_url("http://127.0.0.1:1/").is_err());
        assert!(super::split_url("ws://localhost:1/").is_err());
    }

    #[test]
    fn connect_asks_for_the_venue_and_the_compact_state_when_told() {
        let hello = super::Hello {
            venue: Some("arena"),
            compact: true,
        };
        assert_eq!(
            hello.connect_frame().to_string(),
            r#"{"data":{"state":"compact","venue":"arena"},"type":"CONNECT"}"#
        );
        assert_eq!(
            super::Hello::default().connect_frame().to_string(),
            r#"{"data":{},"type":"CONNECT"}"#
        );
    }
}
