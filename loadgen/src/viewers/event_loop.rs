//! The viewers' event loop: one thread per viewer group, one epoll (mio, edge-triggered) over all
//! of its sockets. A ready socket is read into one buffer shared by the whole loop until the
//! kernel has nothing more, its frames are parsed in place, and only a frame cut off by the end
//! of a read is copied into the socket's own (normally empty) buffer. The loop owns every
//! viewer's notes: the group's `count`, `report` and `joins` are requests it answers between
//! batches, so nothing is locked or allocated per frame.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use tokio::sync::oneshot;

use super::connect::Opened;
use super::frames::{
    encode_client, parse, Frame, Parsed, MAX_MESSAGE, OP_BINARY, OP_CLOSE, OP_CONTINUATION,
    OP_PING, OP_PONG, OP_TEXT,
};
use super::notes;
use super::protocols::{Settings, Viewer};
use super::{Joins, Report, Shared};
use crate::sys::now_ns;

/// The token of the loop's waker (requests are waiting).
pub const WAKER: Token = Token(usize::MAX);

/// One read takes at most this much (a socket holding more is read again at once).
const READ_BUFFER: usize = 64 * 1024;

/// A socket's own buffers are given back once empty if they grew past this (a large
/// `VENUE_STATE`), so thousands of viewers stay small.
const KEEP_CAPACITY: usize = 16 * 1024;

/// What the group asks of its loop.
pub enum Request {
    /// A socket past its upgrade.
    Add {
        opened: Opened,
        connect_ns: u64,
        /// Index into the group's URLs (for error messages).
        url: usize,
    },
    Count {
        from: u64,
        to: u64,
        reply: oneshot::Sender<(u64, u64)>,
    },
    Report {
        first_seq: u64,
        sent_ns: Vec<u64>,
        probe_ns: Vec<u64>,
        reply: oneshot::Sender<Report>,
    },
    Joins {
        reply: oneshot::Sender<Joins>,
    },
    Stop,
}

/// One viewer: its socket (None once closed) and everything read from it.
struct Conn {
    stream: Option<TcpStream>,
    url: usize,
    state: State,
}

/// A socket's framing state and its viewer.
struct State {
    /// The start of a frame the last read cut off.
    inbox: Vec<u8>,
    /// The fragments of a message not finished yet, and its opcode.
    fragments: Vec<u8>,
    fragment: Option<u8>,
    /// Masked frames not written yet (replies: pongs, NATS `CONNECT`/`PONG`, close).
    outbox: Vec<u8>,
    viewer: Viewer,
}

pub struct EventLoop {
    poll: Poll,
    requests: Receiver<Request>,
    shared: Arc<Shared>,
    settings: Settings,
    urls: Vec<String>,
    conns: Vec<Conn>,
    read_buffer: Vec<u8>,
}

impl EventLoop {
    pub fn new(
        poll: Poll,
        requests: Receiver<Request>,
        shared: Arc<Shared>,
        settings: Settings,
        urls: Vec<String>,
    ) -> EventLoop {
        EventLoop {
            poll,
            requests,
            shared,
            settings,
            urls,
            conns: Vec::new(),
            read_buffer: vec![0; READ_BUFFER],
        }
    }

    /// Runs until `Stop` or until the group is gone.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            if let Err(e) = self.poll.poll(&mut events, None) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("viewers: epoll failed: {e}");
                return;
            }
            let mut woken = false;
            for event in events.iter() {
                if event.token() == WAKER {
                    woken = true;
                    continue;
                }
                let i = event.token().0;
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.read(i);
                }
                if event.is_writable() {
                    self.flush(i);
                }
            }
            // After the batch's reads, so a count includes everything read so far.
            if woken && !self.answer_requests() {
                return;
            }
        }
    }

    /// Answers every waiting request; false once the loop should stop.
    fn answer_requests(&mut self) -> bool {
        loop {
            match self.requests.try_recv() {
                Ok(Request::Add {
                    opened,
                    connect_ns,
                    url,
                }) => self.add(opened, connect_ns, url),
                Ok(Request::Count { from, to, reply }) => {
                    let all = self.conns.iter().map(|c| &c.state.viewer.notes);
                    let _ = reply.send(notes::count(all, from, to));
                }
                Ok(Request::Report {
                    first_seq,
                    sent_ns,
                    probe_ns,
                    reply,
                }) => {
                    let all = self.conns.iter_mut().map(|c| &mut c.state.viewer.notes);
                    let _ = reply.send(notes::report(all, first_seq, &sent_ns, &probe_ns));
                }
                Ok(Request::Joins { reply }) => {
                    let all = self.conns.iter().map(|c| &c.state.viewer.notes);
                    let _ = reply.send(notes::joins(all));
                }
                Ok(Request::Stop) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    fn add(&mut self, opened: Opened, connect_ns: u64, url: usize) {
        let i = self.conns.len();
        let mut stream = TcpStream::from_std(opened.stream);
        let registered = self.poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        );
        let mut viewer = Viewer::default();
        viewer.notes.connect_ns = connect_ns;
        self.conns.push(Conn {
            stream: Some(stream),
            url,
            state: State {
                inbox: Vec::new(),
                fragments: Vec::new(),
                fragment: None,
                outbox: Vec::new(),
                viewer,
            },
        });
        if let Err(e) = registered {
            self.finish(i, format!("registering with epoll: {e}"));
            return;
        }
        // Registration reports data already waiting; what came with the 101 response is here.
        if !opened.leftover.is_empty() {
            let end = self.conns[i]
                .state
                .receive(&self.settings, &opened.leftover, now_ns())
                .err();
            self.settle(i, false, end);
        }
    }

    /// Reads socket `i` until the kernel has nothing more for it.
    fn read(&mut self, i: usize) {
        let Some(conn) = self.conns.get_mut(i) else {
            return;
        };
        let Some(stream) = conn.stream.as_mut() else {
            return;
        };
        let was_ready = conn.state.viewer.notes.ready_ns.is_some();
        let end = loop {
            let n = match stream.read(&mut self.read_buffer) {
                Ok(0) => {
                    break Some(
                        "the server closed the TCP connection without a WebSocket close frame"
                            .to_owned(),
                    )
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break None,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Some(format!("read: {e}")),
            };
            let at = now_ns();
            if let Err(reason) = conn
                .state
                .receive(&self.settings, &self.read_buffer[..n], at)
            {
                break Some(reason);
            }
            // A short read emptied the socket: whatever arrives later raises a new edge, so the
            // read that would only say WouldBlock (one system call per delivery) is skipped, as
            // tokio skips it too.
            if n < self.read_buffer.len() {
                break None;
            }
        };
        self.settle(i, was_ready, end);
    }

    /// After bytes were handled: counts a viewer that became ready, sends its replies, and ends
    /// it if `end` says so.
    fn settle(&mut self, i: usize, was_ready: bool, end: Option<String>) {
        if !was_ready && self.conns[i].state.viewer.notes.ready_ns.is_some() {
            self.shared.ready.fetch_add(1, Ordering::Relaxed);
            self.shared.permits.add_permits(1);
        }
        self.flush(i);
        if let Some(reason) = end {
            self.finish(i, reason);
        }
    }

    /// Writes what socket `i` has queued, as far as the kernel takes it (the rest goes when the
    /// socket is writable again).
    fn flush(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        let Some(stream) = conn.stream.as_mut() else {
            return;
        };
        let outbox = &mut conn.state.outbox;
        while !outbox.is_empty() {
            match stream.write(outbox) {
                Ok(0) => return self.finish(i, "write: the socket took nothing".to_owned()),
                Ok(n) => {
                    outbox.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return self.finish(i, format!("write: {e}")),
            }
        }
        if outbox.capacity() > KEEP_CAPACITY {
            *outbox = Vec::new();
        }
    }

    /// Closes socket `i` and notes why (once); a viewer that never became ready counts as failed.
    fn finish(&mut self, i: usize, reason: String) {
        let conn = &mut self.conns[i];
        let Some(mut stream) = conn.stream.take() else {
            return; // already finished (a failed write, then the reason it was ending anyway)
        };
        let _ = self.poll.registry().deregister(&mut stream);
        drop(stream);
        let state = &mut conn.state;
        state.inbox = Vec::new();
        state.fragments = Vec::new();
        state.outbox = Vec::new();
        let notes = &mut state.viewer.notes;
        if notes.ready_ns.is_none() {
            self.shared
                .fail(format!("{}: {reason}", self.urls[conn.url]));
            self.shared.permits.add_permits(1);
        }
        notes.closed = Some(reason);
    }
}

impl State {
    /// Handles the bytes just read; an error (or the server's close) ends the connection.
    fn receive(&mut self, settings: &Settings, bytes: &[u8], at: u64) -> Result<(), String> {
        if self.inbox.is_empty() {
            // The usual case: whole frames, parsed where they were read.
            let (used, need) = self.frames(settings, bytes, at)?;
            self.keep(&bytes[used..], need);
            return Ok(());
        }
        let mut inbox = std::mem::take(&mut self.inbox);
        inbox.extend_from_slice(bytes);
        let (used, need) = self.frames(settings, &inbox, at)?;
        inbox.drain(..used);
        self.inbox = inbox;
        if self.inbox.is_empty() && self.inbox.capacity() > KEEP_CAPACITY {
            self.inbox = Vec::new();
        } else if need > self.inbox.capacity() {
            self.inbox.reserve_exact(need - self.inbox.len());
        }
        Ok(())
    }

    /// Keeps the start of a frame cut off by the end of a read (room for all of it at once).
    fn keep(&mut self, rest: &[u8], need: usize) {
        if !rest.is_empty() {
            self.inbox.reserve_exact(need.max(rest.len()));
            self.inbox.extend_from_slice(rest);
        }
    }

    /// Handles the whole frames at the front of `buf`: (bytes used, bytes the next frame needs).
    fn frames(
        &mut self,
        settings: &Settings,
        buf: &[u8],
        at: u64,
    ) -> Result<(usize, usize), String> {
        let mut used = 0;
        loop {
            match parse(&buf[used..]).map_err(str::to_owned)? {
                Parsed::Frame(frame, len) => {
                    used += len;
                    self.frame(settings, frame, at)?;
                }
                Parsed::Incomplete(need) => return Ok((used, need)),
            }
        }
    }

    fn frame(&mut self, settings: &Settings, frame: Frame<'_>, at: u64) -> Result<(), String> {
        match frame.opcode {
            OP_TEXT | OP_BINARY => {
                if self.fragment.is_some() {
                    return Err("a message began inside a fragmented one".to_owned());
                }
                if frame.fin {
                    let binary = frame.opcode == OP_BINARY;
                    return self.viewer.message(
                        settings,
                        binary,
                        frame.payload,
                        at,
                        &mut self.outbox,
                    );
                }
                self.fragment = Some(frame.opcode);
                self.fragments.extend_from_slice(frame.payload);
            }
            OP_CONTINUATION => {
                let Some(opcode) = self.fragment else {
                    return Err("a continuation frame outside a message".to_owned());
                };
                if self.fragments.len() + frame.payload.len() > MAX_MESSAGE {
                    return Err("a message larger than 64 MiB".to_owned());
                }
                self.fragments.extend_from_slice(frame.payload);
                if frame.fin {
                    self.fragment = None;
                    let message = std::mem::take(&mut self.fragments);
                    let binary = opcode == OP_BINARY;
                    let result =
                        self.viewer
                            .message(settings, binary, &message, at, &mut self.outbox);
                    if message.capacity() <= KEEP_CAPACITY {
                        self.fragments = message;
                        self.fragments.clear();
                    }
                    return result;
                }
            }
            OP_PING => encode_client(OP_PONG, frame.payload, &mut self.outbox),
            OP_PONG => {}
            OP_CLOSE => {
                // Answered with the same status code (sent before the socket is closed).
                let code = frame.payload.get(..2);
                encode_client(OP_CLOSE, code.unwrap_or(&[]), &mut self.outbox);
                return Err(match code {
                    None => "closed by the server".to_owned(),
                    Some(code) => format!(
                        "closed by the server ({}{}{})",
                        u16::from_be_bytes([code[0], code[1]]),
                        if frame.payload.len() > 2 { ": " } else { "" },
                        String::from_utf8_lossy(&frame.payload[2..])
                    ),
                });
            }
            other => return Err(format!("a frame with unknown opcode {other:#x}")),
        }
        Ok(())
    }
}
