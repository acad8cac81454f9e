//! A WebSocket client written by hand on a plain `TcpStream`, for what a library client will not
//! do: send frames in the same write as the handshake, never read, read on a tiny receive
//! buffer, send floods of control frames, or see exactly which bytes follow a close frame.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

pub const OP_TEXT: u8 = 0x1;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// The upgrade request for `/ws` (no `Origin`, like a script).
pub const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A client frame: final, masked (as RFC 6455 requires of clients), with `payload`.
pub fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
    let header = FrameHeader {
        opcode: opcode.into(),
        mask: Some([0x5a, 0x13, 0xc7, 0x8e]),
        ..FrameHeader::default()
    };
    let frame = Frame::from_payload(header, payload.to_vec().into());
    let mut encoded = Vec::with_capacity(payload.len() + 14);
    frame
        .format(&mut encoded)
        .expect("writing a frame into a Vec cannot fail");
    encoded
}

/// A masked text frame holding `{"type": kind, "data": data}`.
pub fn text(kind: &str, data: Value) -> Vec<u8> {
    let message = serde_json::json!({"type": kind, "data": data}).to_string();
    masked(OP_TEXT, message.as_bytes())
}

/// A masked close frame with `code`.
pub fn close(code: u16) -> Vec<u8> {
    masked(OP_CLOSE, &code.to_be_bytes())
}

/// One frame from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A text frame, parsed as JSON.
    Text(Value),
    Close(u16, String),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Other(u8, Vec<u8>),
}

impl Frame {
    /// The message type of a text frame (`"SEAT_UPDATE"`, …), else "".
    pub fn kind(&self) -> &str {
        match self {
            Frame::Text(m) => m["type"].as_str().unwrap_or(""),
            _ => "",
        }
    }

    /// A text frame's `data`.
    pub fn data(&self) -> &Value {
        match self {
            Frame::Text(m) => &m["data"],
            _ => &Value::Null,
        }
    }

    /// `data.seq` of a `SEAT_UPDATE` or `VENUE_STATE`.
    pub fn seq(&self) -> u64 {
        self.data()["seq"].as_u64().expect("a seq")
    }

    /// `data.venue`, for messages that carry one.
    pub fn venue(&self) -> &str {
        self.data()["venue"].as_str().unwrap_or("")
    }
}

/// Reads server frames (unmasked, final) from any byte stream.
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Where the unread part of `buf` starts.
    pos: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R, already_read: Vec<u8>) -> Self {
        FrameReader {
            inner,
            buf: already_read,
            pos: 0,
        }
    }

    /// The stream, and how many bytes had been read from it but not yet taken as frames.
    pub fn into_inner(self) -> (R, usize) {
        (self.inner, self.buf.len() - self.pos)
    }

    /// Reads until `n` unread bytes are buffered; `false` at end of stream.
    async fn fill(&mut self, n: usize) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        if self.pos > 0 && self.buf.len() - self.pos < n {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        while self.buf.len() - self.pos < n {
            match self.inner.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(read) => self.buf.extend_from_slice(&chunk[..read]),
            }
        }
        true
    }

    /// The next frame, or `None` when the server closed the TCP connection.
    pub async fn next(&mut self) -> Option<Frame> {
        if !self.fill(2).await {
            return None;
        }
        let (b0, b1) = (self.buf[self.pos], self.buf[self.pos + 1]);
        assert_eq!(b0 & 0x80, 0x80, "server frames are final");
        assert_eq!(b1 & 0x80, 0, "server frames are not masked");
        let (len, offset) = match b1 & 0x7f {
            126 => {
                assert!(self.fill(4).await, "cut inside a frame header");
                let len = &self.buf[self.pos + 2..self.pos + 4];
                (u16::from_be_bytes(len.try_into().unwrap()) as usize, 4)
            }
            127 => {
                assert!(self.fill(10).await, "cut inside a frame header");
                let len = &self.buf[self.pos + 2..self.pos + 10];
                (u64::from_be_bytes(len.try_into().unwrap()) as usize, 10)
            }
            n => (n as usize, 2),
        };
        assert!(self.fill(offset + len).await, "cut inside a frame");
        let payload = self.buf[self.pos + offset..self.pos + offset + len].to_vec();
        self.pos += offset + len;
        Some(match b0 & 0x0f {
            OP_TEXT => Frame::Text(serde_json::from_slice(&payload).unwrap_or_else(|e| {
                panic!(
                    "unparsable text frame: {e}: {}",
                    String::from_utf8_lossy(&payload)
                )
            })),
            OP_CLOSE if payload.len() >= 2 => Frame::Close(
                u16::from_be_bytes([payload[0], payload[1]]),
                String::from_utf8_lossy(&payload[2..]).into_owned(),
            ),
            OP_CLOSE => Frame::Close(1005, String::new()),
            OP_PING => Frame::Ping(payload),
            OP_PONG => Frame::Pong(payload),
            op => Frame::Other(op, payload),
        })
    }

    /// `next`, failing the test when nothing arrives within `within`.
    pub async fn next_within(&mut self, within: Duration) -> Option<Frame> {
        tokio::time::timeout(within, self.next())
            .await
            .unwrap_or_else(|_| panic!("no frame and no end of stream within {within:?}"))
    }

    /// Reads until a frame matching `pred`, returning every frame read (that one last).
    pub async fn until(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&Frame) -> bool,
    ) -> Vec<Frame> {
        let mut frames = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.next()).await {
                Ok(Some(frame)) => {
                    let done = pred(&frame);
                    frames.push(frame);
                    if done {
                        return frames;
                    }
                }
                Ok(None) => panic!("the connection ended while waiting; got {frames:?}"),
                Err(_) => panic!("nothing matching within {within:?}; got {frames:?}"),
            }
        }
    }
}

/// An upgraded connection: frames are read from `reader`, written to `writer`.
pub struct RawWs {
    pub reader: FrameReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

impl RawWs {
    /// Opens `/ws` on `port` with `extra` sent in the same write as the upgrade request, and a
    /// receive buffer of `recv_buffer` bytes when given (set before connecting, so the window
    /// the client advertises stays that small).
    pub async fn connect(port: u16, recv_buffer: Option<u32>, extra: &[u8]) -> RawWs {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let mut stream = socket
            .connect(([127, 0, 0, 1], port).into())
            .await
            .expect("the edge accepts connections");
        stream
            .write_all(&[UPGRADE.as_bytes(), extra].concat())
            .await
            .unwrap();
        let (head, rest) = read_head(&mut stream).await;
        assert!(
            head.starts_with("HTTP/1.1 101"),
            "the upgrade was refused: {head}"
        );
        let (read, writer) = stream.into_split();
        RawWs {
            reader: FrameReader::new(read, rest),
            writer,
        }
    }

    pub async fn send(&mut self, frame: &[u8]) {
        self.writer.write_all(frame).await.expect("socket open");
    }
}

/// Sends `request` on a new connection to `port` and returns the response head (status line
/// and headers).
pub async fn http_head(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream))
        .await
        .expect("an answer within 10 s")
        .0
}

/// Reads an HTTP response head; returns it and whatever came after it.
async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return (String::from_utf8_lossy(&buf).into_owned(), rest);
        }
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        assert!(
            n > 0,
            "connection closed before a response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}
