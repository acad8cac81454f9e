//! One WebSocket client: its identity, its commands, and the writer that feeds its socket.
//!
//! The reader handles frames in order (so answers keep the order of commands); the writer owns
//! the socket's sending half and takes messages from the venue hub's queue and from the reader.
//! A client that stops reading only fills its own queue and socket: nobody else waits for it.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use shared::ws::{
    parse_client_frame, ClientCommand, CommandError, CommandOk, SeatAction, ServerMessage, Welcome,
};
use shared::{now_ms, ErrorCode, Token};
use tokio::sync::{mpsc, watch};

use crate::hub::{ClientId, ClientQueue, Resume, VenueHandle};
use crate::Edge;

/// A single socket write taking longer than this means the client is gone or hopelessly slow.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Resynchronisations allowed within `LAG_WINDOW` before a slow client is disconnected.
const MAX_LAGS: usize = 3;
const LAG_WINDOW: Duration = Duration::from_secs(60);
/// Close code 1001: the edge is going away; clients reconnect (through NGINX, to another edge).
const GOING_AWAY: u16 = 1001;
/// Close code 1008: policy violation (too slow to keep up).
const POLICY: u16 = 1008;

/// What the reader asks the writer to do.
enum Control {
    Send(Utf8Bytes),
    /// Switch the client's updates to this venue: a `VENUE_STATE` arrives first, or, for a
    /// resume the hub can serve, just the updates after `after_seq`.
    Watch {
        venue: VenueHandle,
        resume: Option<Resume>,
        /// The authority key of the identity (it may have changed with a `CONNECT`).
        owner: Arc<str>,
    },
}

/// Serves one upgraded WebSocket until it closes or the edge shuts down.
pub async fn serve(socket: WebSocket, edge: Arc<Edge>, ip: IpAddr) {
    let client = edge.next_client_id();
    edge.metrics.connections.inc();
    edge.metrics.connections_total.inc();
    let last_heard = Arc::new(AtomicU64::new(now_ms()));
    let (sink, stream) = socket.split();
    let (control, control_rx) = mpsc::channel(32);
    let mut writer = tokio::spawn(write_loop(
        sink,
        control_rx,
        edge.clone(),
        client,
        last_heard.clone(),
        edge.shutdown.clone(),
    ));
    let mut session = Session::new(&edge);
    tracing::debug!(client, %ip, user = %session.user_id, "client connected");
    let reader = read_loop(stream, &control, &edge, &mut session, &last_heard);
    tokio::select! {
        _ = reader => {}
        _ = &mut writer => {}
    }
    drop(control);
    // Give the writer a moment to send a close frame, then stop it.
    if tokio::time::timeout(Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    edge.metrics.connections.dec();
    tracing::debug!(client, %ip, user = %session.user_id, "client disconnected");
}

/// Who the client is and what it watches.
struct Session {
    token: Token,
    /// The token's authority key: what the waiting room knows the identity by.
    owner: Arc<str>,
    user_id: String,
    venue: VenueHandle,
    limiter: DefaultDirectRateLimiter,
}

impl Session {
    fn new(edge: &Edge) -> Self {
        let token = edge.config.token_signer.issue();
        Session {
            user_id: token.user_id(),
            owner: token.owner_key().into(),
            token,
            venue: edge.venues.open_unchecked(&edge.config.default_venue),
            // 20 frames a second, in bursts of up to 10.
            limiter: RateLimiter::direct(
                Quota::per_second(NonZeroU32::new(20).expect("non-zero"))
                    .allow_burst(NonZeroU32::new(10).expect("non-zero")),
            ),
        }
    }

    fn welcome(&self, edge: &Edge) -> Welcome {
        Welcome {
            user_id: self.user_id.clone(),
            token: self.token.as_str().to_owned(),
            edge_id: edge.config.edge_id.clone(),
            venue: self.venue.name.to_string(),
            hold_seconds: edge.hold_seconds.load(Ordering::Relaxed),
            server_time_ms: now_ms(),
        }
    }
}

async fn read_loop(
    mut stream: SplitStream<WebSocket>,
    control: &mpsc::Sender<Control>,
    edge: &Edge,
    session: &mut Session,
    last_heard: &AtomicU64,
) {
    let send = |message: ServerMessage| control.send(Control::Send(message.to_json().into()));
    if send(ServerMessage::Welcome(session.welcome(edge)))
        .await
        .is_err()
    {
        return;
    }
    // The first VENUE_STATE waits a moment for a CONNECT: one that resumes with `after_seq`
    // may need just a few updates instead (browsers send CONNECT as soon as the socket opens).
    // Any other frame, or the end of the grace, starts the updates at once.
    let grace_ends = tokio::time::Instant::now() + edge.config.connect_grace;
    let mut watching = false;
    loop {
        let next = if watching {
            stream.next().await
        } else {
            match tokio::time::timeout_at(grace_ends, stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    if start_watching(control, session, &mut watching)
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            }
        };
        let Some(Ok(frame)) = next else {
            return;
        };
        last_heard.store(now_ms(), Ordering::Relaxed);
        let text = match frame {
            Message::Text(text) => text,
            Message::Binary(_) => {
                edge.metrics.bad_frames.inc();
                let _ = start_watching(control, session, &mut watching).await;
                let _ = send(frame_error(
                    ErrorCode::ValidationError,
                    "binary frames are not accepted; send JSON text frames",
                ))
                .await;
                continue;
            }
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if session.limiter.check().is_err() {
            let _ = start_watching(control, session, &mut watching).await;
            let _ = send(frame_error(
                ErrorCode::RateLimited,
                "too many messages; at most 20 a second",
            ))
            .await;
            continue;
        }
        let command = match parse_client_frame(text.as_str()) {
            Ok(command) => command,
            Err(error) => {
                edge.metrics.bad_frames.inc();
                let _ = start_watching(control, session, &mut watching).await;
                let _ = send(error.into_message()).await;
                continue;
            }
        };
        let reply = match command {
            ClientCommand::Connect {
                token,
                venue,
                after_seq,
                epoch,
            } => match connect(edge, session, token, venue).await {
                Ok(()) => {
                    let resume = after_seq.map(|after_seq| Resume { after_seq, epoch });
                    let welcomed = send(ServerMessage::Welcome(session.welcome(edge))).await;
                    let watch = Control::Watch {
                        venue: session.venue.clone(),
                        resume,
                        owner: session.owner.clone(),
                    };
                    if welcomed.is_err() || control.send(watch).await.is_err() {
                        return;
                    }
                    watching = true;
                    continue;
                }
                Err(error) => {
                    let _ = start_watching(control, session, &mut watching).await;
                    error
                }
            },
            ClientCommand::Seat {
                action,
                seat_id,
                req_id,
            } => {
                let _ = start_watching(control, session, &mut watching).await;
                seat_command(edge, session, action, seat_id, req_id).await
            }
        };
        if send(reply).await.is_err() {
            return;
        }
    }
}

/// Starts the connection's updates (a `VENUE_STATE` first) unless they already run.
async fn start_watching(
    control: &mpsc::Sender<Control>,
    session: &Session,
    watching: &mut bool,
) -> Result<(), ()> {
    if *watching {
        return Ok(());
    }
    *watching = true;
    control
        .send(Control::Watch {
            venue: session.venue.clone(),
            resume: None,
            owner: session.owner.clone(),
        })
        .await
        .map_err(|_| ())
}

/// `CONNECT`/`subscribe`: resume an identity and/or watch another venue.
async fn connect(
    edge: &Edge,
    session: &mut Session,
    token: Option<String>,
    venue: Option<String>,
) -> Result<(), ServerMessage> {
    let token = match token {
        Some(raw) => edge
            .config
            .token_signer
            .verify(&raw)
            .map_err(|e| frame_error(ErrorCode::Unauthorized, &e.to_string()))?,
        None => session.token.clone(),
    };
    if let Some(name) = venue.filter(|v| **v != *session.venue.name) {
        session.venue = edge
            .venues
            .open(&name)
            .await
            .map_err(|e| frame_error(e.code, &e.message))?;
    }
    session.user_id = token.user_id();
    session.owner = token.owner_key().into();
    session.token = token;
    Ok(())
}

async fn seat_command(
    edge: &Edge,
    session: &Session,
    action: SeatAction,
    seat_id: String,
    req_id: Value,
) -> ServerMessage {
    let result = edge
        .booking
        .seat_command(
            action,
            &session.venue.name,
            &seat_id,
            session.token.as_str(),
        )
        .await;
    match result {
        Ok(seat) => {
            edge.metrics.count_command(action.verb(), "OK");
            ServerMessage::Ok(CommandOk {
                req_id,
                action: action.verb().to_owned(),
                seat_id: seat.id.clone(),
                seat,
            })
        }
        Err(error) => {
            edge.metrics
                .count_command(action.verb(), error.code.as_str());
            let shown: String = seat_id.chars().take(8).collect();
            ServerMessage::Error(CommandError {
                req_id,
                code: error.code,
                message: error.message,
                seat_id: Some(shown),
            })
        }
    }
}

fn frame_error(code: ErrorCode, message: &str) -> ServerMessage {
    ServerMessage::Error(CommandError {
        req_id: Value::Null,
        code,
        message: message.to_owned(),
        seat_id: None,
    })
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut control: mpsc::Receiver<Control>,
    edge: Arc<Edge>,
    client: ClientId,
    last_heard: Arc<AtomicU64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut watching: Option<(VenueHandle, ClientQueue)> = None;
    // The identity the client acts as, for (re)joining a venue.
    let mut owner: Arc<str> = Arc::from("");
    let mut lags: Vec<Instant> = Vec::new();
    let ping_every = edge.config.ping_interval;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let close = loop {
        let message = tokio::select! {
            biased;
            _ = shutdown.changed() => break Some((GOING_AWAY, "edge shutting down; reconnect")),
            command = control.recv() => match command {
                None => break None,
                Some(Control::Send(text)) => Message::Text(text),
                Some(Control::Watch { venue, resume, owner: new_owner }) => {
                    let same_venue = watching.as_ref().is_some_and(|(v, _)| v.name == venue.name);
                    owner = new_owner;
                    if resume.is_some() && same_venue {
                        // This socket already gets every update of the venue: nothing is missed.
                        // Only the identity it stands in the waiting room as may have changed.
                        venue.set_owner(client, owner.clone()).await;
                        continue;
                    }
                    if let Some((old, _)) = watching.take() {
                        old.leave(client);
                    }
                    match venue.join(client, owner.clone(), resume).await {
                        Some(queue) => watching = Some((venue, queue)),
                        None => break Some((GOING_AWAY, "venue unavailable; reconnect")),
                    }
                    continue;
                }
            },
            update = next_update(&mut watching) => match update {
                Some(text) => Message::Text(text),
                None => {
                    // The hub dropped our queue: we fell behind. Resync, unless it keeps happening.
                    let now = Instant::now();
                    lags.retain(|at| now.duration_since(*at) < LAG_WINDOW);
                    lags.push(now);
                    if lags.len() > MAX_LAGS {
                        edge.metrics.slow_clients_dropped.inc();
                        tracing::info!(client, "client too slow; disconnecting");
                        break Some((POLICY, "too slow to keep up"));
                    }
                    let (venue, _) = watching.take().expect("watching while receiving updates");
                    match venue.join(client, owner.clone(), None).await {
                        Some(queue) => watching = Some((venue, queue)),
                        None => break Some((GOING_AWAY, "venue unavailable; reconnect")),
                    }
                    continue;
                }
            },
            _ = ping.tick() => {
                let silent_ms = now_ms().saturating_sub(last_heard.load(Ordering::Relaxed));
                if silent_ms > 3 * ping_every.as_millis() as u64 {
                    tracing::debug!(client, silent_ms, "no pong; closing dead connection");
                    break None;
                }
                Message::Ping(Default::default())
            }
        };
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break None,
            Err(_) => {
                edge.metrics.slow_clients_dropped.inc();
                tracing::info!(client, "socket write timed out; disconnecting");
                break None;
            }
        }
    };
    if let Some((venue, _)) = watching {
        venue.leave(client);
    }
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            sink.send(Message::Close(Some(frame))),
        )
        .await;
    }
}

async fn next_update(watching: &mut Option<(VenueHandle, ClientQueue)>) -> Option<Utf8Bytes> {
    match watching {
        Some((_, queue)) => queue.recv().await,
        None => std::future::pending().await,
    }
}
