//! A client's session (who it is, what it watches, how fast it may send) and the commands it
//! waits on from the booking service: each is a future the connection polls beside its socket.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use shared::ws::{
    BestAsk, CommandError, CommandOk, OkSeats, SeatAction, ServerMessage, StateForm, Welcome,
};
use shared::{now_ms, Token};

use crate::hub::{Resume, VenueHandle, Watcher};
use crate::Edge;

/// Who the client is and what it watches.
pub(super) struct Session {
    pub token: Token,
    /// The token's authority key: what the waiting room knows the identity by.
    pub owner: Arc<str>,
    pub user_id: String,
    pub venue: VenueHandle,
    /// The form of `VENUE_STATE` asked for (`CONNECT`'s `state`; full until then).
    pub form: StateForm,
    pub limiter: DefaultDirectRateLimiter,
}

impl Session {
    pub fn new(edge: &Edge) -> Self {
        let token = edge.config.token_signer.issue();
        Session {
            user_id: token.user_id(),
            owner: token.owner_key().into(),
            token,
            venue: edge.venues.open_unchecked(&edge.config.default_venue),
            form: StateForm::Full,
            // 20 frames a second, in bursts of up to 10.
            limiter: RateLimiter::direct(
                Quota::per_second(NonZeroU32::new(20).expect("non-zero"))
                    .allow_burst(NonZeroU32::new(10).expect("non-zero")),
            ),
        }
    }

    /// Who this session watches its venue as.
    pub fn watcher(&self) -> Watcher {
        Watcher {
            owner: self.owner.clone(),
            user_id: self.user_id.as_str().into(),
            form: self.form,
        }
    }

    pub fn welcome(&self, edge: &Edge) -> Welcome {
        Welcome {
            user_id: self.user_id.clone(),
            token: self.token.as_str().to_owned(),
            edge_id: edge.config.edge_id.clone(),
            venue: self.venue.name.to_string(),
            hold_seconds: edge.hold_seconds.load(Ordering::Relaxed),
            max_holds_per_user: edge.max_holds_per_user.load(Ordering::Relaxed),
            server_time_ms: now_ms(),
        }
    }
}

/// A command waiting for the booking service. The connection goes on writing, pinging and
/// watching for shutdown meanwhile, and reads the client's next frame once it is answered, so
/// answers keep the order of commands.
pub(super) type Pending = Pin<Box<dyn Future<Output = Answered> + Send>>;

/// What a pending command came to.
pub(super) enum Answered {
    /// A seat command's `OK` or `ERROR`.
    Seat(ServerMessage),
    /// A `CONNECT` to a venue this edge had not opened yet: the venue (or why not), and what
    /// else the `CONNECT` asked for.
    Connect {
        venue: Result<VenueHandle, ServerMessage>,
        joining: Joining,
    },
}

/// The identity a `CONNECT` names: its token when it carries one, else the session's own; or
/// why the token is refused.
pub(super) fn connect_token(
    edge: &Edge,
    session: &Session,
    token: Option<String>,
) -> Result<Token, String> {
    match token {
        Some(raw) => edge
            .config
            .token_signer
            .verify(&raw)
            .map_err(|e| e.to_string()),
        None => Ok(session.token.clone()),
    }
}

pub(super) async fn seat_command(
    edge: Arc<Edge>,
    venue: Arc<str>,
    token: String,
    action: SeatAction,
    seat_id: String,
    req_id: Value,
) -> Answered {
    // First polled as soon as the frame is read: the client's wait starts here.
    let received = Instant::now();
    let result = edge
        .booking
        .seat_command(action, &venue, &seat_id, &token)
        .await;
    Answered::Seat(match result {
        Ok(seat) => {
            edge.metrics
                .observe_command(action.verb(), "OK", received.elapsed());
            ServerMessage::Ok(CommandOk {
                req_id,
                action: action.verb().to_owned(),
                seats: OkSeats::One {
                    seat_id: seat.id.clone(),
                    seat,
                },
            })
        }
        Err(error) => {
            edge.metrics
                .observe_command(action.verb(), error.code.as_str(), received.elapsed());
            let shown = shared::seat::echoed_seat_id(&seat_id);
            ServerMessage::Error(CommandError {
                req_id,
                code: error.code,
                message: error.message,
                seat_id: Some(shown),
                // The single-seat rule's refusal names the seats it would strand.
                seat_ids: error.seat_ids,
            })
        }
    })
}

/// `SELECT_SEATS`, `BOOK_SEATS`, `RELEASE_SEATS`: answered `OK` with every seat, or `ERROR`
/// with every seat that stood in the way.
pub(super) async fn group_command(
    edge: Arc<Edge>,
    venue: Arc<str>,
    token: String,
    action: SeatAction,
    seat_ids: Vec<String>,
    req_id: Value,
) -> Answered {
    let received = Instant::now();
    let result = edge
        .booking
        .group_command(action, &venue, seat_ids, &token)
        .await;
    Answered::Seat(match result {
        Ok((seat_ids, seats)) => {
            edge.metrics
                .observe_command(action.verb(), "OK", received.elapsed());
            ServerMessage::Ok(CommandOk {
                req_id,
                action: action.verb().to_owned(),
                seats: OkSeats::Several { seat_ids, seats },
            })
        }
        Err(error) => {
            edge.metrics
                .observe_command(action.verb(), error.code.as_str(), received.elapsed());
            ServerMessage::Error(CommandError {
                req_id,
                code: error.code,
                message: error.message,
                seat_id: None,
                seat_ids: error.seat_ids,
            })
        }
    })
}

/// `HOLD_BEST`: answered `OK` (`action` `best`) with the seats chosen and held, or `ERROR`.
pub(super) async fn best_command(
    edge: Arc<Edge>,
    venue: Arc<str>,
    token: String,
    ask: BestAsk,
    req_id: Value,
) -> Answered {
    let received = Instant::now();
    let result = edge.booking.best_command(&venue, ask, &token).await;
    let outcome = match &result {
        Ok(_) => "OK",
        Err(error) => error.code.as_str(),
    };
    edge.metrics
        .observe_command("best", outcome, received.elapsed());
    Answered::Seat(match result {
        Ok((seat_ids, seats)) => ServerMessage::Ok(CommandOk {
            req_id,
            action: "best".to_owned(),
            seats: OkSeats::Several { seat_ids, seats },
        }),
        Err(error) => ServerMessage::Error(CommandError {
            req_id,
            code: error.code,
            message: error.message,
            seat_id: None,
            seat_ids: error.seat_ids,
        }),
    })
}

/// Runs a command and logs its answer, one line per command: `OK` with the action, or the error
/// code, and how long the client waited (from the frame's reading).
pub(super) async fn log_answer(command: Pending) -> Answered {
    let received = Instant::now();
    let answered = command.await;
    // To the hundredth of a millisecond: enough, and short in a log line.
    let ms = (received.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    match &answered {
        Answered::Seat(ServerMessage::Ok(ok)) => {
            tracing::info!(answer = "OK", action = %ok.action, ms, "answered");
        }
        Answered::Seat(ServerMessage::Error(error)) => {
            tracing::info!(answer = error.code.as_str(), ms, "answered");
        }
        Answered::Seat(_) => tracing::info!(ms, "answered"),
        Answered::Connect { venue, .. } => {
            tracing::info!(
                answer = if venue.is_ok() { "OK" } else { "ERROR" },
                action = "connect",
                ms,
                "answered"
            );
        }
    }
    answered
}

/// What a `CONNECT` asks for besides its venue; it takes effect only once the venue is found.
pub(super) struct Joining {
    /// The identity (checked already).
    pub token: Token,
    pub resume: Option<Resume>,
    /// The form of `VENUE_STATE` from now on (unchanged when `None`).
    pub form: Option<StateForm>,
}

/// A `CONNECT` to a venue this edge has not opened: the booking service says whether it exists.
pub(super) async fn open_venue(edge: Arc<Edge>, name: String, joining: Joining) -> Answered {
    let venue = edge
        .venues
        .open(&name)
        .await
        .map_err(|e| super::frame_error(e.code, &e.message));
    Answered::Connect { venue, joining }
}

/// The pending command's answer; only polled while there is one.
pub(super) async fn poll_pending(pending: &mut Option<Pending>) -> Answered {
    match pending {
        Some(command) => command.await,
        None => std::future::pending().await,
    }
}
