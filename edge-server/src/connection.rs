//! One WebSocket client: its identity, its commands, and its share of the socket.
//!
//! One task per connection reads the client's frames (through tungstenite's protocol state, on
//! the raw socket) and handles them in order, so answers keep the order of commands. Updates do
//! not pass through this task: the venue hub writes them to the socket itself
//! (`wire::ClientSocket`). The task only writes out a backlog when the kernel's buffer was full,
//! rejoins the venue when the hub found the client too far behind, pings, and closes. A client
//! that stops reading only fills its own backlog: nobody else waits for it.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::ws::{parse_client_frame, ClientCommand, CommandError, ServerMessage};
use shared::ErrorCode;
use tracing::Instrument;
use tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tungstenite::protocol::{Role, WebSocketConfig, WebSocketContext};
use tungstenite::Message;

use crate::hub::{ClientId, Resume, VenueHandle};
use crate::stream::Stream;
use crate::wire::{close_frame, ping_frame, text_frame, ClientSocket, Wire};
use crate::{request_id, Edge};

mod session;
use session::{
    best_command, connect_token, group_command, log_answer, open_venue, poll_pending, seat_command,
    Answered, Joining, Pending, Session,
};

/// Largest frame read at all; frames above 4 KiB but below this get an ERROR and the socket
/// stays up, larger ones get an ERROR and end the connection (they are not worth buffering).
const MAX_READ_FRAME: usize = 64 * 1024;
/// A backlog the client has not read for this long means it is gone or hopelessly slow.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Resynchronisations allowed within `LAG_WINDOW` before a slow client is disconnected.
const MAX_LAGS: usize = 3;
const LAG_WINDOW: Duration = Duration::from_secs(60);
/// How long the close frame (and what was queued before it) may take to go out.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Close code 1001: the edge is going away; clients reconnect (through NGINX, to another edge).
const GOING_AWAY: u16 = 1001;
/// Close code 1002: the client broke the WebSocket protocol (e.g. a continuation frame with no
/// message to continue, a control frame over 125 bytes).
const PROTOCOL_ERROR: u16 = 1002;
/// Close code 1007: a text frame (or a close frame's reason) that is not UTF-8.
const INVALID_PAYLOAD: u16 = 1007;
/// Close code 1008: policy violation (too slow to keep up).
const POLICY: u16 = 1008;
/// Close code 1009: a frame or message over `MAX_READ_FRAME`.
const TOO_BIG: u16 = 1009;
/// The read buffer starts this small; a seat command is a few hundred bytes.
const READ_BUFFER: usize = 512;
/// Messages handled per read pass before the connection looks at its other duties (and lets
/// other tasks run): a client that sends without pause must not hold a worker thread.
const MESSAGES_PER_PASS: usize = 16;
/// While this much is waiting for the client to read, nothing more is read from it: answers
/// (pongs, errors) to a client that sends but does not read cannot pile up.
const READ_PAUSE_BACKLOG: usize = 64 * 1024;

/// Why the connection ends: the close frame to send (with the client's own code when it closed
/// first), or none (the socket failed, or the client went silent or stopped reading).
type Ending = Option<(u16, &'static str)>;

/// Serves one upgraded WebSocket (`stream`, plus the bytes read past the handshake) until it
/// closes or the edge shuts down.
/// `id` names the connection in the logs (NGINX's request id of the upgrade; one is made here
/// when it came with none).
pub async fn serve(
    stream: Stream,
    read_ahead: Vec<u8>,
    edge: Arc<Edge>,
    ip: IpAddr,
    id: Option<String>,
) {
    let client = edge.next_client_id();
    let id = id.unwrap_or_else(|| request_id::made_here(&edge.config.edge_id, client));
    edge.metrics.connections.inc();
    edge.metrics.connections_total.inc();
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(MAX_READ_FRAME))
        .max_frame_size(Some(MAX_READ_FRAME));
    let mut connection = Connection {
        client,
        id,
        socket: Arc::new(ClientSocket::new(stream)),
        protocol: WebSocketContext::from_partially_read(read_ahead, Role::Server, Some(config)),
        session: Session::new(&edge),
        watching: None,
        started: false,
        lags: Vec::new(),
        rejoin: false,
        last_heard: Instant::now(),
        pending: None,
        commands: 0,
        edge,
    };
    let edge = connection.edge.clone();
    let span = tracing::info_span!("connection", connection_id = %connection.id);
    async {
        tracing::debug!(client, %ip, user = %connection.session.user_id, "client connected");
        let ending = connection.run().await;
        connection.finish(ending).await;
        tracing::debug!(client, %ip, user = %connection.session.user_id, "client disconnected");
    }
    .instrument(span)
    .await;
    edge.metrics.connections.dec();
}

fn frame_error(code: ErrorCode, message: &str) -> ServerMessage {
    ServerMessage::Error(CommandError {
        req_id: Value::Null,
        code,
        message: message.to_owned(),
        seat_id: None,
        seat_ids: None,
    })
}

struct Connection {
    client: ClientId,
    /// What the logs name the connection by; its commands are `<id>.1`, `<id>.2`, …
    id: String,
    socket: Arc<ClientSocket>,
    /// tungstenite's protocol state: reads frames, answers pings and the close handshake.
    protocol: WebSocketContext,
    session: Session,
    edge: Arc<Edge>,
    /// The venue whose updates the socket gets.
    watching: Option<VenueHandle>,
    /// Whether updates were started (by a `CONNECT`, any other frame, or the grace's end).
    started: bool,
    /// When the hub resynchronised this client lately.
    lags: Vec<Instant>,
    /// The hub dropped the client as lagging: join again once the backlog is written.
    rejoin: bool,
    last_heard: Instant,
    /// The command waiting for the booking service, if any; nothing more is read meanwhile.
    pending: Option<Pending>,
    /// How many commands waited for the booking service so far (the last one's number).
    commands: u64,
}

impl Connection {
    async fn run(&mut self) -> Ending {
        let welcome = ServerMessage::Welcome(self.session.welcome(&self.edge));
        self.reply(&welcome);
        let mut shutdown = self.edge.shutdown.clone();
        if *shutdown.borrow_and_update() {
            return Some((GOING_AWAY, "edge shutting down; reconnect"));
        }
        // The first VENUE_STATE waits a moment for a CONNECT: one that resumes with `after_seq`
        // may need just a few updates instead (browsers send CONNECT as soon as the socket
        // opens). Any other frame, or the end of the grace, starts the updates at once.
        let grace = tokio::time::sleep(self.edge.config.connect_grace);
        tokio::pin!(grace);
        let ping_every = self.edge.config.ping_interval;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        // Frames that came with the handshake are already read.
        if let Err(ending) = self.read_frames().await {
            return ending;
        }
        loop {
            let backlog = self.socket.backlog_bytes();
            if self.rejoin && backlog == 0 {
                if let Err(ending) = self.rejoin().await {
                    return ending;
                }
            }
            let reading = backlog < READ_PAUSE_BACKLOG && self.pending.is_none();
            tokio::select! {
                biased;
                _ = shutdown.changed() => return Some((GOING_AWAY, "edge shutting down; reconnect")),
                _ = self.socket.attention() => {
                    if let Err(ending) = self.hear_news() {
                        return ending;
                    }
                }
                answered = poll_pending(&mut self.pending), if self.pending.is_some() => {
                    self.pending = None;
                    if let Err(ending) = self.answered(answered).await {
                        return ending;
                    }
                    // Frames that came after the command may be read already.
                    if let Err(ending) = self.read_frames().await {
                        return ending;
                    }
                }
                _ = ping.tick() => {
                    if let Err(ending) = self.ping(ping_every) {
                        return ending;
                    }
                }
                writable = self.socket.writable(), if backlog > 0 => {
                    if writable.is_err() || self.socket.flush().is_err() {
                        return None;
                    }
                }
                readable = self.socket.readable(), if reading => {
                    if readable.is_err() {
                        return None;
                    }
                    if let Err(ending) = self.read_frames().await {
                        return ending;
                    }
                    // Readiness and `try_read` take nothing from tokio's task budget: without
                    // this, a client that keeps sending (and reads its answers) would never let
                    // this loop give its worker thread back.
                    tokio::task::consume_budget().await;
                }
                _ = &mut grace, if !self.started && self.pending.is_none() => {
                    if let Err(ending) = self.start_updates().await {
                        return ending;
                    }
                }
            }
        }
    }

    /// The hub dropped this client as lagging and its backlog is written now: join again.
    async fn rejoin(&mut self) -> Result<(), Ending> {
        self.rejoin = false;
        match self.watching.take() {
            Some(venue) => self.watch(venue, None).await,
            None => Ok(()),
        }
    }

    /// What the hub or the socket's writer flagged: a failed write ends the connection, a lag
    /// resynchronises it (or ends it, `lagged`).
    fn hear_news(&mut self) -> Result<(), Ending> {
        let news = self.socket.take_news();
        if news.failed {
            return Err(None);
        }
        if news.lagged {
            self.lagged()?;
        }
        Ok(())
    }

    /// The heartbeat: closes a connection that answered no ping for three intervals or has not
    /// read for `WRITE_TIMEOUT`, else pings it.
    fn ping(&mut self, ping_every: Duration) -> Result<(), Ending> {
        let silent = self.last_heard.elapsed();
        if silent > 3 * ping_every {
            tracing::debug!(
                client = self.client,
                ?silent,
                "no pong; closing dead connection"
            );
            return Err(None);
        }
        if self.socket.backlog_age() > WRITE_TIMEOUT {
            self.edge.metrics.slow_clients_dropped.inc();
            tracing::info!(
                client = self.client,
                "client has not read for 10 s; disconnecting"
            );
            return Err(None);
        }
        self.socket.send(&ping_frame(), None);
        Ok(())
    }

    /// Reads and handles the whole messages the socket has now (at most `MESSAGES_PER_PASS`).
    async fn read_frames(&mut self) -> Result<(), Ending> {
        for _ in 0..MESSAGES_PER_PASS {
            if self.pending.is_some() {
                return Ok(());
            }
            let read = self.protocol.read(&mut Wire(&self.socket));
            let message = match read {
                Ok(message) => message,
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => return Err(self.read_failed(error)),
            };
            self.last_heard = Instant::now();
            match message {
                Message::Text(text) => {
                    self.handle_text(text.as_str()).await?;
                    self.identify_pending();
                }
                Message::Binary(_) => {
                    self.edge.metrics.bad_frames.inc();
                    self.start_updates().await?;
                    self.reply(&frame_error(
                        ErrorCode::ValidationError,
                        "binary frames are not accepted; send JSON text frames",
                    ));
                }
                // The answer to a close is sent as the socket is sealed (`finish`), so no update
                // can follow it.
                Message::Close(frame) => {
                    let code = frame
                        .map(|f| u16::from(f.code))
                        .filter(|code| !matches!(code, 1005 | 1006 | 1015))
                        .unwrap_or(1000);
                    return Err(Some((code, "")));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
            // Answers to pings go out in order with everything else.
            let _ = self.protocol.flush(&mut Wire(&self.socket));
        }
        Ok(())
    }

    /// A frame that could not be read: the socket failed, or the client broke the protocol.
    fn read_failed(&mut self, error: WsError) -> Ending {
        match error {
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                self.edge.metrics.bad_frames.inc();
                tracing::info!(
                    client = self.client,
                    size,
                    max_size,
                    "frame too large; closing"
                );
                self.reply(&frame_error(
                    ErrorCode::FrameTooLarge,
                    "frames are limited to 4096 bytes; this one was too large to read at all",
                ));
                Some((TOO_BIG, "frame too large"))
            }
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                tracing::debug!(client = self.client, "client left without a close frame");
                None
            }
            WsError::Utf8(_) => {
                self.edge.metrics.bad_frames.inc();
                tracing::info!(client = self.client, %error, "a frame that must be UTF-8 is not; closing");
                Some((INVALID_PAYLOAD, "invalid UTF-8"))
            }
            WsError::Protocol(_) => {
                self.edge.metrics.bad_frames.inc();
                tracing::info!(client = self.client, %error, "WebSocket protocol error; closing");
                Some((PROTOCOL_ERROR, "protocol error"))
            }
            _ => None,
        }
    }

    async fn handle_text(&mut self, text: &str) -> Result<(), Ending> {
        if self.session.limiter.check().is_err() {
            self.start_updates().await?;
            self.reply(&frame_error(
                ErrorCode::RateLimited,
                "too many messages; at most 20 a second",
            ));
            return Ok(());
        }
        let command = match parse_client_frame(text) {
            Ok(command) => command,
            Err(error) => {
                self.edge.metrics.bad_frames.inc();
                self.start_updates().await?;
                self.reply(&error.into_message());
                return Ok(());
            }
        };
        match command {
            // Answered in order with everything else; it starts nothing (a client may ping
            // before its CONNECT).
            ClientCommand::Ping => self.reply(&ServerMessage::Pong(shared::ws::Pong {
                server_time_ms: shared::now_ms(),
            })),
            ClientCommand::Connect {
                token,
                venue,
                after_seq,
                epoch,
                state,
            } => {
                let token = match connect_token(&self.edge, &self.session, token) {
                    Ok(token) => token,
                    Err(why) => {
                        self.start_updates().await?;
                        self.reply(&frame_error(ErrorCode::Unauthorized, &why));
                        return Ok(());
                    }
                };
                let joining = Joining {
                    token,
                    resume: after_seq.map(|after_seq| Resume { after_seq, epoch }),
                    form: state,
                };
                match venue.filter(|v| **v != *self.session.venue.name) {
                    None => {
                        let venue = self.session.venue.clone();
                        self.connected(joining, venue).await?;
                    }
                    Some(name) => match self.edge.venues.get(&name) {
                        Some(venue) => self.connected(joining, venue).await?,
                        None => {
                            self.pending =
                                Some(Box::pin(open_venue(self.edge.clone(), name, joining)));
                        }
                    },
                }
            }
            ClientCommand::Seat {
                action,
                seat_id,
                req_id,
            } => {
                self.start_updates().await?;
                self.pending = Some(Box::pin(seat_command(
                    self.edge.clone(),
                    self.session.venue.name.clone(),
                    self.session.token.as_str().to_owned(),
                    action,
                    seat_id,
                    req_id,
                )));
            }
            ClientCommand::Seats {
                action,
                seat_ids,
                req_id,
            } => {
                self.start_updates().await?;
                self.pending = Some(Box::pin(group_command(
                    self.edge.clone(),
                    self.session.venue.name.clone(),
                    self.session.token.as_str().to_owned(),
                    action,
                    seat_ids,
                    req_id,
                )));
            }
            ClientCommand::Best { ask, req_id } => {
                self.start_updates().await?;
                self.pending = Some(Box::pin(best_command(
                    self.edge.clone(),
                    self.session.venue.name.clone(),
                    self.session.token.as_str().to_owned(),
                    ask,
                    req_id,
                )));
            }
        }
        Ok(())
    }

    /// A command just read that now waits for the booking service gets the connection's next
    /// command id: its requests carry it, every line it causes names it, and its answer is logged.
    fn identify_pending(&mut self) {
        if let Some(command) = self.pending.take() {
            self.commands += 1;
            let id = request_id::command_id(&self.id, self.commands);
            let span = tracing::info_span!("command", request_id = %id);
            let command = request_id::with_command_id(id, log_answer(command)).instrument(span);
            self.pending = Some(Box::pin(command));
        }
    }

    /// A pending command was answered.
    async fn answered(&mut self, answered: Answered) -> Result<(), Ending> {
        match answered {
            Answered::Seat(reply) => {
                self.reply(&reply);
                Ok(())
            }
            Answered::Connect {
                venue: Ok(venue),
                joining,
            } => self.connected(joining, venue).await,
            Answered::Connect {
                venue: Err(error), ..
            } => {
                self.start_updates().await?;
                self.reply(&error);
                Ok(())
            }
        }
    }

    /// A `CONNECT` succeeded: the session takes its identity and venue, says `WELCOME`, and
    /// the socket follows the venue (from `resume` when the hub can serve it).
    async fn connected(&mut self, joining: Joining, venue: VenueHandle) -> Result<(), Ending> {
        let Joining {
            token,
            resume,
            form,
        } = joining;
        if let Some(form) = form {
            self.session.form = form;
        }
        let same_venue = self.watching.as_ref().is_some_and(|v| v.name == venue.name);
        if !(resume.is_some() && same_venue) {
            // The venue watched so far stops writing to this socket before the WELCOME for
            // the new one is queued: otherwise its hub, which handles the leave later, could
            // still queue an update or two behind that WELCOME.
            if let Some(old) = self.watching.take() {
                old.leave(self.client);
            }
            self.socket.subscribe();
        }
        self.session.venue = venue;
        self.session.user_id = token.user_id();
        self.session.owner = token.owner_key().into();
        self.session.token = token;
        self.reply(&ServerMessage::Welcome(self.session.welcome(&self.edge)));
        self.started = true;
        self.watch(self.session.venue.clone(), resume).await
    }

    /// Starts the connection's updates (a `VENUE_STATE` first) unless they already run.
    async fn start_updates(&mut self) -> Result<(), Ending> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        self.watch(self.session.venue.clone(), None).await
    }

    /// Switches the socket's updates to `venue`: a `VENUE_STATE` arrives first, or, for a
    /// resume the hub can serve, just the updates after `after_seq`.
    async fn watch(&mut self, venue: VenueHandle, resume: Option<Resume>) -> Result<(), Ending> {
        let watcher = self.session.watcher();
        let same_venue = self.watching.as_ref().is_some_and(|v| v.name == venue.name);
        if resume.is_some() && same_venue {
            // This socket already gets every update of the venue: nothing is missed. Only the
            // identity it stands in the waiting room as, or the form it wants, may have changed.
            venue.set_watcher(self.client, watcher).await;
            return Ok(());
        }
        if let Some(old) = self.watching.take() {
            old.leave(self.client);
        }
        if !venue
            .join(self.client, self.socket.clone(), watcher, resume)
            .await
        {
            return Err(Some((GOING_AWAY, "venue unavailable; reconnect")));
        }
        self.watching = Some(venue);
        Ok(())
    }

    /// The hub dropped the client for being too far behind: it joins again once its backlog is
    /// written (a fresh `VENUE_STATE` follows what it had), unless it keeps happening.
    fn lagged(&mut self) -> Result<(), Ending> {
        let now = Instant::now();
        self.lags.retain(|at| now.duration_since(*at) < LAG_WINDOW);
        self.lags.push(now);
        if self.lags.len() > MAX_LAGS {
            self.edge.metrics.slow_clients_dropped.inc();
            tracing::info!(client = self.client, "client too slow; disconnecting");
            return Err(Some((POLICY, "too slow to keep up")));
        }
        self.rejoin = true;
        Ok(())
    }

    fn reply(&self, message: &ServerMessage) {
        self.socket.send(&text_frame(&message.to_json()), None);
    }

    /// Leaves the venue, sends the close frame if there is one, and gives what is queued a
    /// moment to go out.
    async fn finish(&mut self, ending: Ending) {
        if let Some(venue) = self.watching.take() {
            venue.leave(self.client);
        }
        // Sealed first: the hub may still write updates until it handles the leave.
        let close = ending.map(|(code, reason)| close_frame(code, reason));
        self.socket.seal(close.as_ref());
        self.socket.drain(CLOSE_GRACE).await;
        self.socket.linger(CLOSE_GRACE).await;
    }
}
