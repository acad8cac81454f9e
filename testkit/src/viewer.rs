//! One WebSocket viewer for the tests and the fault tool: it reads in the background and
//! applies every message to its `View` (checked by the seq rules), sends what it is given, and,
//! when asked to behave as the page does, reconnects after a lost socket and resumes with
//! `CONNECT {token, after_seq, epoch}`. It can read slowly or stop reading altogether.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use shared::ws::ServerMessage;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::http::Seats;
use crate::view::{standings_of, View, ViewerStanding};

mod connection;

pub use connection::random;
use connection::{dial, Connection};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a viewer reads its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Every message as it comes.
    Normal,
    /// One message every 50 ms.
    Slow,
    /// This many messages, then never again: its socket and its queue at the edge fill up.
    StallAfter(usize),
}

/// How a viewer connects and behaves.
#[derive(Debug, Clone)]
pub struct Options {
    pub reading: Reading,
    /// After a lost socket, connect again (with a jittered pause and backoff, as the page
    /// does) and resume with `CONNECT {token, after_seq, epoch}`.
    pub reconnect: bool,
    /// Sent as the upgrade's `Origin`, as a browser page would.
    pub origin: Option<String>,
    /// Sent as the upgrade's `Cookie`.
    pub cookie: Option<String>,
    /// The socket's receive buffer, set before connecting so the advertised window stays
    /// that small.
    pub recv_buffer: Option<u32>,
    /// Keep every message (to wait for one); long-running viewers keep only what they apply.
    pub keep_messages: bool,
}

impl Default for Options {
    /// One connection, read as it comes, every message kept: what a test inspects.
    fn default() -> Options {
        Options {
            reading: Reading::Normal,
            reconnect: false,
            origin: None,
            cookie: None,
            recv_buffer: None,
            keep_messages: true,
        }
    }
}

impl Options {
    /// As the page behaves: its own identity cookie, reconnecting and resuming, reading as
    /// `reading` says, keeping no message log.
    pub fn page(reading: Reading) -> Options {
        Options {
            reading,
            reconnect: true,
            cookie: Some(format!("seatmap_cid=viewer-{:016x}", random())),
            keep_messages: false,
            ..Options::default()
        }
    }
}

/// A WebSocket viewer that reads continuously in the background.
pub struct Viewer {
    pub view: Arc<Mutex<View>>,
    /// Signalled after every message the viewer records.
    received: Arc<Notify>,
    outgoing: mpsc::UnboundedSender<Message>,
    next_req: u64,
}

impl Viewer {
    /// One connection with `options`; `Err` holds the HTTP status of a refused upgrade.
    pub async fn open(url: &str, options: Options) -> Result<Viewer, u16> {
        let view = View::new(options.keep_messages);
        Self::open_with(url, options, view).await
    }

    /// `open`, starting from `view` (a resumed viewer keeps what it had).
    async fn open_with(url: &str, options: Options, view: View) -> Result<Viewer, u16> {
        match dial(url, &options).await {
            Ok(socket) => Ok(Self::start(url, options, view, Some(socket))),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("websocket upgrade failed: {other}"),
        }
    }

    /// A viewer as the page behaves (`Options::page`), connecting in the background: it never
    /// fails, it keeps trying.
    pub fn spawn(url: &str, reading: Reading) -> Viewer {
        let options = Options::page(reading);
        let view = View::new(options.keep_messages);
        Self::start(url, options, view, None)
    }

    pub async fn connect(url: &str) -> Viewer {
        Self::open(url, Options::default())
            .await
            .expect("websocket connects")
    }

    /// Opens a WebSocket whose upgrade request carries `Origin: origin`, as a browser page
    /// would; `Err` holds the HTTP status of a refused upgrade.
    pub async fn connect_from(url: &str, origin: &str) -> Result<Viewer, u16> {
        let options = Options {
            origin: Some(origin.to_owned()),
            ..Options::default()
        };
        Self::open(url, options).await
    }

    /// Connects and waits for WELCOME and VENUE_STATE.
    pub async fn ready(url: &str) -> Viewer {
        let viewer = Self::connect(url).await;
        viewer
            .wait_for("VENUE_STATE", |m| matches!(m, ServerMessage::VenueState(_)))
            .await;
        viewer
    }

    /// `ready` taking an owned URL, for `join_all` over many viewers.
    pub async fn ready_owned(url: String) -> Viewer {
        Self::ready(&url).await
    }

    /// Opens a socket and sends `CONNECT` with `token` as its first frame, as the page does.
    pub async fn connect_as(url: &str, token: &str) -> Viewer {
        let viewer = Self::connect(url).await;
        viewer.send("CONNECT", json!({"token": token, "venue": "main"}));
        viewer
    }

    /// Reconnects as `earlier` did, the way a page does after losing its socket: it keeps the
    /// view it had (seq, epoch, seats) and sends `CONNECT` with its token, `after_seq` and
    /// `epoch` as its first frame. Every message it then receives is checked against that view.
    pub async fn resume(url: &str, earlier: &Viewer, epoch: Option<u64>) -> Viewer {
        let token = earlier.welcome().token;
        let (after_seq, seats) = {
            let view = earlier.view.lock().unwrap();
            (
                view.position.seq().expect("it had a VENUE_STATE"),
                view.seats.clone(),
            )
        };
        let mut view = View::new(true);
        view.position = shared::SeqTracker::resumed(epoch, after_seq);
        view.seats = seats;
        let viewer = Self::open_with(url, Options::default(), view)
            .await
            .expect("websocket connects");
        viewer.send(
            "CONNECT",
            resume_frame(&token, after_seq, epoch, Some("main")),
        );
        viewer
    }

    fn start(url: &str, options: Options, view: View, first: Option<Socket>) -> Viewer {
        let view = Arc::new(Mutex::new(view));
        let received = Arc::new(Notify::new());
        let (outgoing, queued) = mpsc::unbounded_channel();
        let connection = Connection {
            url: url.to_owned(),
            options,
            view: view.clone(),
            received: received.clone(),
            queued,
        };
        tokio::spawn(connection.run(first));
        Viewer {
            view,
            received,
            outgoing,
            next_req: 0,
        }
    }
}

/// Sending.
impl Viewer {
    pub fn send_raw(&self, message: Message) {
        self.outgoing.send(message).expect("socket open");
    }

    pub fn send(&self, kind: &str, data: Value) {
        self.send_raw(Message::text(
            json!({"type": kind, "data": data}).to_string(),
        ));
    }

    /// Sends a seat command without waiting; its answer lands in `answer(req_id)`.
    pub fn send_command(&self, kind: &str, seat: &str, req_id: &str) {
        self.send(kind, json!({"seat_id": seat, "req_id": req_id}));
    }

    /// Sends a seat command and waits for its OK or ERROR; returns "OK" or the error code.
    pub async fn command(&mut self, kind: &str, seat: &str) -> String {
        self.next_req += 1;
        let req_id = format!("r{}", self.next_req);
        self.send_command(kind, seat, &req_id);
        let answer = self
            .wait_for(&format!("answer to {req_id}"), |m| match m {
                ServerMessage::Ok(ok) => ok.req_id == json!(req_id),
                ServerMessage::Error(err) => err.req_id == json!(req_id),
                _ => false,
            })
            .await;
        match answer {
            ServerMessage::Ok(_) => "OK".into(),
            ServerMessage::Error(err) => err.code.as_str().into(),
            _ => unreachable!(),
        }
    }

    /// Sends a close frame.
    pub fn close(&self) {
        let _ = self.outgoing.send(Message::Close(None));
    }
}

/// Waiting for and reading what arrived.
impl Viewer {
    /// Waits up to 5 s for a message matching `pred` and returns it.
    pub async fn wait_for(
        &self,
        what: &str,
        pred: impl Fn(&ServerMessage) -> bool,
    ) -> ServerMessage {
        self.wait_for_within(Duration::from_secs(5), what, pred)
            .await
    }

    pub async fn wait_for_within(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&ServerMessage) -> bool,
    ) -> ServerMessage {
        let mut found = None;
        let ok = crate::eventually(timeout, || {
            let view = self.view.lock().unwrap();
            found = view.messages.iter().find(|m| pred(m)).cloned();
            found.is_some()
        })
        .await;
        assert!(
            ok,
            "no {what} within {timeout:?}; got {:?}",
            self.view.lock().unwrap().messages
        );
        found.unwrap()
    }

    /// What `pick` takes from the newest message it takes anything from.
    /// The last `VENUE_STATE` received.
    pub fn venue_state(&self) -> Option<shared::ws::VenueState> {
        self.last(|m| match m {
            ServerMessage::VenueState(state) => Some(state.clone()),
            _ => None,
        })
    }

    pub fn last<T>(&self, pick: impl Fn(&ServerMessage) -> Option<T>) -> Option<T> {
        self.view
            .lock()
            .unwrap()
            .messages
            .iter()
            .rev()
            .find_map(pick)
    }

    pub fn welcome(&self) -> shared::ws::Welcome {
        self.last(|m| match m {
            ServerMessage::Welcome(w) => Some(w.clone()),
            _ => None,
        })
        .expect("a WELCOME")
    }

    pub fn seq(&self) -> Option<u64> {
        self.view.lock().unwrap().position.seq()
    }

    pub fn epoch(&self) -> Option<u64> {
        self.view.lock().unwrap().position.epoch()
    }

    /// The seqs of every `SEAT_UPDATE` received, in order.
    pub fn update_seqs(&self) -> Vec<u64> {
        let view = self.view.lock().unwrap();
        let updates = view.messages.iter().filter_map(|m| match m {
            ServerMessage::SeatUpdate(u) => Some(u.seq),
            _ => None,
        });
        updates.collect()
    }

    /// How many `VENUE_STATE`s were received.
    pub fn venue_states(&self) -> usize {
        let view = self.view.lock().unwrap();
        let states = view.messages.iter();
        states
            .filter(|m| matches!(m, ServerMessage::VenueState(_)))
            .count()
    }

    pub fn seats(&self) -> Seats {
        self.view.lock().unwrap().seats.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.view.lock().unwrap().violations.clone()
    }

    /// The answer to the command sent with `req_id`: "OK" or the error code.
    pub fn answer(&self, req_id: &str) -> Option<String> {
        self.view.lock().unwrap().answers.get(req_id).cloned()
    }

    /// Every `QUEUE` and `ADMITTED` received, in order.
    pub fn standings(&self) -> Vec<ViewerStanding> {
        standings_of(&self.view.lock().unwrap().messages)
    }

    /// Waits up to `timeout` for a `QUEUE` or `ADMITTED` and returns the first, as soon as it
    /// arrives (tests that join viewers one after another wait for this each time).
    pub async fn first_standing(&self, timeout: Duration) -> ViewerStanding {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received.notified();
            if let Some(first) = self.standings().first() {
                return *first;
            }
            let in_time = tokio::time::timeout_at(deadline, received).await.is_ok();
            assert!(
                in_time,
                "no QUEUE or ADMITTED within {timeout:?}; got {:?}",
                self.view.lock().unwrap().messages
            );
        }
    }
}

/// The `CONNECT` frame that resumes `token` after `after_seq` of `epoch`.
fn resume_frame(token: &str, after_seq: u64, epoch: Option<u64>, venue: Option<&str>) -> Value {
    let mut data = json!({"token": token, "after_seq": after_seq});
    if let Some(epoch) = epoch {
        data["epoch"] = json!(epoch);
    }
    if let Some(venue) = venue {
        data["venue"] = json!(venue);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_frame_carries_what_it_knows() {
        assert_eq!(
            resume_frame("t", 7, Some(2), Some("main")),
            json!({"token": "t", "after_seq": 7, "epoch": 2, "venue": "main"})
        );
        assert_eq!(
            resume_frame("t", 7, None, None),
            json!({"token": "t", "after_seq": 7})
        );
    }
}
