//! The WebSocket wire of one client: server frames encoded once and shared by every recipient,
//! the client's socket written straight from the venue hub with `try_write`, a backlog for what
//! the kernel would not take yet, and the adapter through which tungstenite reads the client's
//! frames (unmasking, fragments, pings, close, UTF-8 and size limits) without owning the socket.
//!
//! Every write to a socket goes through `ClientSocket::send`, under one short lock that is never
//! held across an `.await`, so whole frames from the hub (updates) and from the connection
//! (replies, pings, close) never interleave. Nothing waits for a slow client: what its kernel
//! buffer does not take is queued, and a queue that reaches its limit refuses further updates
//! (the hub then resynchronises the client).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};

use crate::stream::Stream;

/// An encoded server frame, ready for the socket (server frames are not masked, so the same
/// bytes serve every client).
pub type WireFrame = Bytes;

/// Encodes a text message as one final, unmasked WebSocket frame.
pub fn text_frame(text: &str) -> WireFrame {
    let header = FrameHeader {
        is_final: true,
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    let mut encoded = Vec::with_capacity(10 + text.len());
    header
        .format(text.len() as u64, &mut encoded)
        .expect("writing a frame header into a Vec cannot fail");
    encoded.extend_from_slice(text.as_bytes());
    Bytes::from(encoded)
}

/// A close frame with `code` and `reason`.
pub fn close_frame(code: u16, reason: &str) -> WireFrame {
    let frame = Frame::close(Some(CloseFrame {
        code: code.into(),
        reason: reason.into(),
    }));
    let mut encoded = Vec::with_capacity(frame.len());
    frame
        .format(&mut encoded)
        .expect("writing a frame into a Vec cannot fail");
    Bytes::from(encoded)
}

/// An empty ping frame.
pub fn ping_frame() -> WireFrame {
    Bytes::from_static(&[0x89, 0x00])
}

/// See [`ClientSocket::take_news`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct News {
    pub failed: bool,
    pub lagged: bool,
}

/// What became of a frame handed to `ClientSocket::send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The kernel took all of it.
    Written,
    /// Queued behind the socket's backlog; the connection writes it when the socket drains.
    Queued,
    /// The backlog is at its limit: not queued.
    Full,
    /// The socket failed or the connection ended.
    Gone,
}

/// One client's socket, shared by its connection task and its venue hub.
pub struct ClientSocket {
    stream: Stream,
    out: Mutex<Outbox>,
    /// Wakes the connection: a backlog started, the hub resynchronises the client, or a write
    /// failed.
    attention: Notify,
}

#[derive(Default)]
struct Outbox {
    /// Chunks of one or more frames, each with how many messages it holds (the first chunk
    /// possibly partly written: only its unsent tail is kept), in order.
    frames: VecDeque<(Bytes, usize)>,
    /// Messages in `frames`.
    messages: usize,
    /// Bytes in `frames`.
    bytes: usize,
    /// The current venue subscription: a hub writes only with the token it joined with, so a
    /// hub the client left cannot write to it any more, even before it handles the leave.
    subscription: u64,
    /// When the backlog last went from empty to not empty, or last moved.
    since: Option<Instant>,
    /// The hub stopped sending updates because the backlog was full: the connection must join
    /// the venue again (and gets a fresh `VENUE_STATE`).
    lagged: bool,
    failed: bool,
    /// The connection has ended (its close frame, if any, is the last thing queued): nothing
    /// more is accepted, what is queued may still go out.
    sealed: bool,
}

/// Frames written in one `writev`.
const WRITE_BATCH: usize = 32;

impl ClientSocket {
    pub fn new(stream: impl Into<Stream>) -> Self {
        ClientSocket {
            stream: stream.into(),
            out: Mutex::new(Outbox::default()),
            attention: Notify::new(),
        }
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A panic elsewhere while holding the lock leaves a consistent queue: keep using it.
        self.out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `frame` (one message) now if nothing is queued and the kernel takes it, else
    /// queues it. With a `limit`, a backlog already holding that many messages refuses it
    /// (`Full`); replies, pings and full states pass `None` and are always queued.
    pub fn send(&self, frame: &WireFrame, limit: Option<usize>) -> Delivery {
        self.send_checked(None, frame, 1, limit)
    }

    /// A venue's write of `chunk` (`messages` whole frames back to back) under subscription
    /// `token`: `Gone` once the client has moved on to another subscription. Otherwise as `send`.
    pub fn send_as(
        &self,
        token: u64,
        chunk: &Bytes,
        messages: usize,
        limit: Option<usize>,
    ) -> Delivery {
        self.send_checked(Some(token), chunk, messages, limit)
    }

    fn send_checked(
        &self,
        token: Option<u64>,
        chunk: &Bytes,
        messages: usize,
        limit: Option<usize>,
    ) -> Delivery {
        let out = self.outbox();
        if out.failed || out.sealed || token.is_some_and(|token| token != out.subscription) {
            return Delivery::Gone;
        }
        self.write_or_queue(out, chunk, messages, limit)
    }

    /// Starts a new venue subscription and returns its token: writes under the previous one are
    /// refused from now on, and a lag it flagged is forgotten.
    pub fn subscribe(&self) -> u64 {
        let mut out = self.outbox();
        out.subscription += 1;
        out.lagged = false;
        out.subscription
    }

    /// Sends `last` (a close frame, or nothing) as the connection's last frame: from then on
    /// `send` refuses everything, so no update can follow the close, whoever sends it.
    pub fn seal(&self, last: Option<&WireFrame>) {
        let mut out = self.outbox();
        if out.failed || out.sealed {
            return;
        }
        out.sealed = true;
        if let Some(last) = last {
            self.write_or_queue(out, last, 1, None);
        }
    }

    fn write_or_queue(
        &self,
        mut out: MutexGuard<'_, Outbox>,
        frame: &Bytes,
        messages: usize,
        limit: Option<usize>,
    ) -> Delivery {
        if !out.frames.is_empty() {
            if limit.is_some_and(|limit| out.messages >= limit) {
                return Delivery::Full;
            }
            out.frames.push_back((frame.clone(), messages));
            out.messages += messages;
            out.bytes += frame.len();
            return Delivery::Queued;
        }
        let rest = match self.stream.try_write(frame) {
            Ok(n) if n == frame.len() => return Delivery::Written,
            Ok(n) => frame.slice(n..),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => frame.clone(),
            Err(_) => {
                out.failed = true;
                drop(out);
                self.attention.notify_one();
                return Delivery::Gone;
            }
        };
        out.bytes += rest.len();
        out.frames.push_back((rest, messages));
        out.messages += messages;
        out.since = Some(Instant::now());
        drop(out);
        self.attention.notify_one();
        Delivery::Queued
    }

    /// Writes as much of the backlog as the kernel takes now; `Ok(true)` once it is empty.
    pub fn flush(&self) -> io::Result<bool> {
        let mut out = self.outbox();
        if out.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        while !out.frames.is_empty() {
            let written = {
                let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
                let mut count = 0;
                for (slot, (frame, _)) in slices.iter_mut().zip(out.frames.iter()) {
                    *slot = IoSlice::new(frame);
                    count += 1;
                }
                self.stream.try_write_vectored(&slices[..count])
            };
            let mut written = match written {
                Ok(0) => {
                    out.failed = true;
                    return Err(io::ErrorKind::WriteZero.into());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => {
                    out.failed = true;
                    return Err(e);
                }
            };
            out.bytes -= written;
            out.since = Some(Instant::now());
            while written > 0 {
                let (first, messages) = out.frames.front_mut().expect("wrote more than was queued");
                if written >= first.len() {
                    written -= first.len();
                    let messages = *messages;
                    out.messages -= messages;
                    out.frames.pop_front();
                } else {
                    *first = first.slice(written..);
                    written = 0;
                }
            }
        }
        out.since = None;
        Ok(true)
    }

    /// Bytes waiting for the client to read.
    pub fn backlog_bytes(&self) -> usize {
        self.outbox().bytes
    }

    /// How long the client has read nothing of its backlog.
    pub fn backlog_age(&self) -> Duration {
        self.outbox()
            .since
            .map_or(Duration::ZERO, |since| since.elapsed())
    }

    /// The hub of subscription `token` dropped this client for being too far behind; the
    /// connection joins again (once the backlog is written).
    pub fn mark_lagged(&self, token: u64) {
        let mut out = self.outbox();
        if out.subscription == token {
            out.lagged = true;
            drop(out);
            self.attention.notify_one();
        }
    }

    /// What `attention` was woken for, under one lock: whether a write failed (the connection
    /// should end), and whether the hub dropped the client since the last call.
    pub fn take_news(&self) -> News {
        let mut out = self.outbox();
        News {
            failed: out.failed,
            lagged: std::mem::take(&mut out.lagged),
        }
    }

    /// Resolves when `send`, `mark_lagged` or a failed write wants the connection's attention.
    pub async fn attention(&self) {
        self.attention.notified().await;
    }

    pub async fn writable(&self) -> io::Result<()> {
        self.stream.writable().await
    }

    pub async fn readable(&self) -> io::Result<()> {
        self.stream.readable().await
    }

    /// Writes out the backlog, waiting for the socket at most `within`.
    pub async fn drain(&self, within: Duration) {
        let _ = tokio::time::timeout(within, async {
            while let Ok(false) = self.flush() {
                if self.writable().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// After the last frame: tells the client so (FIN), then reads and drops whatever it still
    /// sends until it closes too, for at most `within`. A socket closed with unread input sends
    /// a reset, and a reset may overtake the last frames: a proxy in between drops what it had
    /// not yet passed on (the ERROR and close 1009 after an oversized frame were lost that way).
    pub async fn linger(&self, within: Duration) {
        if self.stream.shutdown_write().is_err() {
            return;
        }
        let mut scratch = [0u8; 4096];
        let _ = tokio::time::timeout(within, async {
            loop {
                match self.stream.try_read(&mut scratch) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if self.stream.readable().await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        })
        .await;
    }
}

/// The socket as tungstenite sees it: reads never block (`WouldBlock` ends a read pass), and
/// what tungstenite writes (pongs, the close handshake) joins the socket's ordered output.
pub struct Wire<'a>(pub &'a ClientSocket);

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.stream.try_read(buf)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.send(&Bytes::copy_from_slice(buf), None) {
            Delivery::Gone => Err(io::ErrorKind::BrokenPipe.into()),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn a_close_frame_carries_its_code_and_reason() {
        assert_eq!(
            &close_frame(1001, "bye")[..],
            &[0x88, 5, 0x03, 0xE9, b'b', b'y', b'e']
        );
    }

    #[tokio::test]
    async fn nothing_is_sent_after_the_seal() {
        let (socket, mut reader) = pair().await;
        socket.send(&text_frame("a"), None);
        socket.seal(Some(&close_frame(1000, "")));
        assert_eq!(socket.send(&text_frame("b"), None), Delivery::Gone);
        socket.drain(Duration::from_secs(1)).await;
        drop(socket);
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.unwrap();
        assert_eq!(
            got,
            [&text_frame("a")[..], &close_frame(1000, "")[..]].concat()
        );
    }

    #[test]
    fn text_frames_are_final_unmasked_and_sized() {
        let short = text_frame("hi");
        assert_eq!(&short[..], &[0x81, 2, b'h', b'i']);
        let long = text_frame(&"x".repeat(300));
        assert_eq!(&long[..4], &[0x81, 126, 1, 44]);
        assert_eq!(long.len(), 304);
        let huge = text_frame(&"y".repeat(70_000));
        assert_eq!(&huge[..2], &[0x81, 127]);
        assert_eq!(u64::from_be_bytes(huge[2..10].try_into().unwrap()), 70_000);
    }

    async fn pair() -> (ClientSocket, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        (ClientSocket::new(accepted.unwrap().0), client.unwrap())
    }

    #[tokio::test]
    async fn a_reader_that_stops_fills_the_backlog_up_to_its_limit_and_loses_nothing_in_order() {
        let (socket, mut reader) = pair().await;
        let mut sent = Vec::new();
        let mut full = false;
        for i in 0u32..200_000 {
            let frame = text_frame(&format!("{i:>200}"));
            match socket.send(&frame, Some(8)) {
                Delivery::Written | Delivery::Queued => sent.extend_from_slice(&frame),
                Delivery::Full => {
                    full = true;
                    break;
                }
                Delivery::Gone => panic!("socket failed"),
            }
        }
        assert!(full, "the backlog never filled");
        assert!(socket.backlog_bytes() > 0);
        // A reply is never refused.
        let reply = text_frame("reply");
        assert_eq!(socket.send(&reply, None), Delivery::Queued);
        sent.extend_from_slice(&reply);
        let expected = sent.len();
        let reading = tokio::spawn(async move {
            let mut got = vec![0u8; expected];
            reader.read_exact(&mut got).await.unwrap();
            got
        });
        socket.drain(Duration::from_secs(10)).await;
        assert_eq!(socket.backlog_bytes(), 0);
        assert_eq!(reading.await.unwrap(), sent, "bytes lost or reordered");
    }
}
