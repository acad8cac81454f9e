//! WebSocket clients for edge tests: each reads continuously in the background and checks
//! every seq it receives (never twice, never out of order, never a gap).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shared::ws::ServerMessage;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::seats_of;

/// What one client has seen, checked as it arrives.
#[derive(Default)]
pub struct ClientView {
    pub messages: Vec<ServerMessage>,
    pub seq: Option<u64>,
    /// The epoch of the last `VENUE_STATE`: seqs compare only within one.
    pub epoch: Option<u64>,
    pub seats: HashMap<String, (u64, Value)>,
    /// Every breach of "never a seq twice, never out of order, never a gap", including across
    /// a `VENUE_STATE` (which may jump forward, or restart in a new epoch, but never go back).
    pub violations: Vec<String>,
    pub closed: Option<(u16, String)>,
}

impl ClientView {
    fn record(&mut self, message: ServerMessage) {
        match &message {
            ServerMessage::VenueState(state) => {
                if let Some(seq) = self.seq {
                    if state.seq < seq && self.epoch == Some(state.epoch) {
                        self.violations
                            .push(format!("VENUE_STATE went back from {seq} to {}", state.seq));
                    }
                }
                self.seq = Some(state.seq);
                self.epoch = Some(state.epoch);
                self.seats = seats_of(&serde_json::to_value(&state.seats).unwrap());
            }
            ServerMessage::SeatUpdate(update) => {
                match self.seq {
                    None => self
                        .violations
                        .push(format!("SEAT_UPDATE {} before any VENUE_STATE", update.seq)),
                    Some(seq) if update.seq != seq + 1 => self
                        .violations
                        .push(format!("SEAT_UPDATE {} after {seq}", update.seq)),
                    _ => {}
                }
                self.seq = Some(update.seq);
                self.seats.insert(
                    update.seat_id.clone(),
                    (
                        update.status as u64,
                        update
                            .held_by
                            .clone()
                            .map(Value::String)
                            .unwrap_or(Value::Null),
                    ),
                );
            }
            _ => {}
        }
        self.messages.push(message);
    }
}

/// A WebSocket client that reads continuously in the background.
pub struct WsClient {
    pub view: Arc<Mutex<ClientView>>,
    /// Signalled after every message the client records.
    received: Arc<tokio::sync::Notify>,
    outgoing: mpsc::UnboundedSender<Message>,
    next_req: u64,
}

impl WsClient {
    pub async fn connect(url: &str) -> WsClient {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        Self::from_socket(socket, ClientView::default())
    }

    /// Opens a WebSocket whose upgrade request carries `Origin: origin`, as a browser page
    /// would; `Err` holds the HTTP status of a refused upgrade.
    pub async fn connect_from(url: &str, origin: &str) -> Result<WsClient, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::Error;
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Self::from_socket(socket, ClientView::default())),
            Err(Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("websocket upgrade failed: {other}"),
        }
    }

    /// Reconnects as `earlier` did, the way a page does after losing its socket: it keeps the
    /// view it had (seq, epoch, seats) and sends `CONNECT` with its token, `after_seq` and
    /// `epoch` as its first frame. Every message it then receives is checked against that view.
    pub async fn resume(url: &str, earlier: &WsClient, epoch: Option<u64>) -> WsClient {
        let token = earlier.welcome().token;
        let (after_seq, seats) = {
            let view = earlier.view.lock().unwrap();
            (view.seq.expect("it had a VENUE_STATE"), view.seats.clone())
        };
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        let view = ClientView {
            seq: Some(after_seq),
            epoch,
            seats,
            ..ClientView::default()
        };
        let client = Self::from_socket(socket, view);
        let mut data = json!({"token": token, "venue": "main", "after_seq": after_seq});
        if let Some(epoch) = epoch {
            data["epoch"] = json!(epoch);
        }
        client.send("CONNECT", data);
        client
    }

    fn from_socket(
        socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
        view: ClientView,
    ) -> WsClient {
        let (mut sink, mut stream) = socket.split();
        let view = Arc::new(Mutex::new(view));
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = to_send.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let sink_view = view.clone();
        let received = Arc::new(tokio::sync::Notify::new());
        let signal = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                match frame {
                    Message::Text(text) => {
                        let message: ServerMessage = serde_json::from_str(text.as_str())
                            .unwrap_or_else(|e| {
                                panic!("server sent an unparsable frame: {e}: {text}")
                            });
                        sink_view.lock().unwrap().record(message);
                        signal.notify_waiters();
                    }
                    Message::Close(frame) => {
                        sink_view.lock().unwrap().closed = Some(
                            frame
                                .map(|f| (u16::from(f.code), f.reason.to_string()))
                                .unwrap_or((1005, String::new())),
                        );
                        break;
                    }
                    _ => {}
                }
            }
            let mut view = sink_view.lock().unwrap();
            if view.closed.is_none() {
                view.closed = Some((1006, "connection dropped".into()));
            }
        });
        WsClient {
            view,
            received,
            outgoing,
            next_req: 0,
        }
    }

    /// Connects and waits for WELCOME and VENUE_STATE.
    pub async fn ready(url: &str) -> WsClient {
        let client = Self::connect(url).await;
        client
            .wait_for("VENUE_STATE", |m| matches!(m, ServerMessage::VenueState(_)))
            .await;
        client
    }

    pub fn send_raw(&self, message: Message) {
        self.outgoing.send(message).expect("socket open");
    }

    pub fn send(&self, kind: &str, data: Value) {
        self.send_raw(Message::text(
            json!({"type": kind, "data": data}).to_string(),
        ));
    }

    /// Sends a seat command and waits for its OK or ERROR; returns "OK" or the error code.
    pub async fn command(&mut self, kind: &str, seat: &str) -> String {
        self.next_req += 1;
        let req_id = format!("r{}", self.next_req);
        self.send(kind, json!({"seat_id": seat, "req_id": req_id}));
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
        let ok = testkit::eventually(timeout, || {
            found = self
                .view
                .lock()
                .unwrap()
                .messages
                .iter()
                .find(|m| pred(m))
                .cloned();
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
        self.view.lock().unwrap().seq
    }

    pub fn epoch(&self) -> Option<u64> {
        self.view.lock().unwrap().epoch
    }

    /// The seqs of every `SEAT_UPDATE` received, in order.
    pub fn update_seqs(&self) -> Vec<u64> {
        self.view
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter_map(|m| match m {
                ServerMessage::SeatUpdate(u) => Some(u.seq),
                _ => None,
            })
            .collect()
    }

    /// How many `VENUE_STATE`s were received.
    pub fn venue_states(&self) -> usize {
        self.view
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| matches!(m, ServerMessage::VenueState(_)))
            .count()
    }

    pub fn seats(&self) -> HashMap<String, (u64, Value)> {
        self.view.lock().unwrap().seats.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.view.lock().unwrap().violations.clone()
    }

    pub fn close(&self) {
        let _ = self.outgoing.send(Message::Close(None));
    }
}

/// A waiting-room message, as a client received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// `QUEUE` with this position.
    Queue(u64),
    /// `ADMITTED` until this unix ms.
    Admitted(u64),
}

impl WsClient {
    /// Opens a socket and sends `CONNECT` with `token` as its first frame, as the page does.
    pub async fn connect_as(url: &str, token: &str) -> WsClient {
        let client = Self::connect(url).await;
        client.send("CONNECT", json!({"token": token, "venue": "main"}));
        client
    }

    /// Every `QUEUE` and `ADMITTED` received, in order.
    pub fn standings(&self) -> Vec<Standing> {
        standings_of(&self.view.lock().unwrap().messages)
    }

    /// Waits up to `timeout` for a `QUEUE` or `ADMITTED` and returns the first, as soon as it
    /// arrives (tests that join clients one after another wait for this each time).
    pub async fn first_standing(&self, timeout: Duration) -> Standing {
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

pub fn standings_of(messages: &[ServerMessage]) -> Vec<Standing> {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Queue(q) => Some(Standing::Queue(q.position)),
            ServerMessage::Admitted(a) => Some(Standing::Admitted(a.until_ms)),
            _ => None,
        })
        .collect()
}

impl WsClient {
    /// `ready` taking an owned URL, for `join_all` over many clients.
    pub async fn ready_owned(url: String) -> WsClient {
        Self::ready(&url).await
    }
}

/// A client that completes the handshake and then never reads, on a socket with a tiny receive
/// buffer, so the edge's writes to it back up quickly.
pub async fn stalled_client(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
    let port: u16 = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/ws")
        .parse()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    ws
}
