//! The booking service as the edge sees it: seat commands, venue snapshots, event history and
//! waiting-room presence reports over a pooled keep-alive HTTP client, failing over along the
//! `BOOKING_URL` list (`upstream.rs`).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use shared::api::{
    BestRequest, ErrorResponse, EventsPage, SeatRequest, SeatResponse, SeatsResponse,
    VenueSnapshot, WaitingRoomAnswer, WaitingRoomStanding,
};
use shared::ws::{BestAsk, SeatAction};
use shared::{ErrorCode, Seat};

use crate::upstream::{Retry, Upstreams};

/// A refusal or failure, ready to be sent to the client as an `ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingError {
    pub code: ErrorCode,
    pub message: String,
    /// A refusal of a command on several seats: every seat that stood in the way.
    pub seat_ids: Option<Vec<String>>,
}

impl BookingError {
    fn unavailable(why: impl std::fmt::Display) -> Self {
        tracing::warn!(%why, "booking service unavailable");
        BookingError {
            code: ErrorCode::Unavailable,
            message: "the booking service is unreachable; try again shortly".into(),
            seat_ids: None,
        }
    }
}

/// An answer of `GET /api/venues/{venue}/events`.
#[derive(Debug)]
pub enum History {
    Page(EventsPage),
    /// `HISTORY_GONE`: the events asked for are no longer kept, or the seq asked after is from
    /// another epoch. Only a snapshot helps.
    Gone,
}

/// Events asked of the booking service's history per request (its largest page).
const HISTORY_PAGE: u32 = 1000;

/// What a venue hub asks the booking service for.
#[derive(Debug, Clone, Copy)]
pub enum Fetch {
    Snapshot,
    /// The cheap periodic check: the venue's seq and epoch, no events.
    Check {
        after: u64,
    },
    /// The events after `after`, to fill a gap.
    History {
        after: u64,
    },
}

/// The answer to a `Fetch`.
#[derive(Debug)]
pub enum Fetched {
    Snapshot(VenueSnapshot),
    Page {
        page: EventsPage,
        fill: bool,
    },
    Gone,
    /// Unreachable, an error, or the venue is unknown: try again later.
    Failed,
}

/// How long one presence report may take; the next one is due 500 ms later anyway.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// The answer to a presence report.
#[derive(Debug)]
pub enum WaitingRoomStandings {
    /// The waiting room is off (or this booking service has none, or does not know the venue).
    Off,
    /// Each owner's standing, in the order they were reported.
    On(Vec<WaitingRoomStanding>),
}

/// The body of `POST /internal/queue/{venue}/presence` (`shared::api::WaitingRoomReport`,
/// borrowed).
#[derive(Serialize)]
struct WaitingRoomReportBody<'a> {
    owners: &'a [&'a str],
    join: bool,
}

/// Cheap to clone; clones share one connection pool and one view of which services are down.
#[derive(Clone)]
pub struct BookingClient {
    upstreams: Arc<Upstreams>,
    http: reqwest::Client,
    /// `INTERNAL_TOKEN`, for the `/internal/` routes.
    internal_token: Option<Arc<str>>,
}

impl BookingClient {
    /// `base_urls`: the booking services in order of preference (at least one);
    /// `internal_token`: what their `/internal/` routes require, if anything.
    pub fn new(base_urls: &[String], internal_token: Option<&str>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(BookingClient {
            upstreams: Arc::new(Upstreams::new(base_urls.to_vec())),
            http,
            internal_token: internal_token.map(Arc::from),
        })
    }

    pub fn urls(&self) -> &[String] {
        self.upstreams.urls()
    }

    /// Runs one seat command for the user holding `token`.
    pub async fn seat_command(
        &self,
        action: SeatAction,
        venue: &str,
        seat_id: &str,
        token: &str,
    ) -> Result<Seat, BookingError> {
        let body = SeatRequest {
            seat_id: Some(seat_id.to_owned()),
            seat_ids: None,
            token: Some(token.to_owned()),
            venue: Some(venue.to_owned()),
        };
        let bytes = self.send_seat_request(action.verb(), &body).await?;
        let answer: SeatResponse =
            serde_json::from_slice(&bytes).map_err(BookingError::unavailable)?;
        Ok(answer.seat)
    }

    /// Runs one command on several seats (all or none) for the user holding `token`; answers
    /// the canonical ids and the seats after it.
    pub async fn group_command(
        &self,
        action: SeatAction,
        venue: &str,
        seat_ids: Vec<String>,
        token: &str,
    ) -> Result<(Vec<String>, Vec<Seat>), BookingError> {
        let body = SeatRequest {
            seat_id: None,
            seat_ids: Some(seat_ids),
            token: Some(token.to_owned()),
            venue: Some(venue.to_owned()),
        };
        let bytes = self.send_seat_request(action.verb(), &body).await?;
        let answer: SeatsResponse =
            serde_json::from_slice(&bytes).map_err(BookingError::unavailable)?;
        Ok((answer.seat_ids, answer.seats))
    }

    /// Best available for the user holding `token`: the seats chosen and held in one step.
    pub async fn best_command(
        &self,
        venue: &str,
        ask: BestAsk,
        token: &str,
    ) -> Result<(Vec<String>, Vec<Seat>), BookingError> {
        let body = BestRequest {
            // The booking service answers a count above MAX_HOLDS_PER_USER with its limit.
            count: Some(u32::try_from(ask.count).unwrap_or(u32::MAX)),
            category: ask.category,
            section: ask.section,
            accessible: Some(ask.accessible),
            token: Some(token.to_owned()),
            venue: Some(venue.to_owned()),
        };
        let bytes = self.send_seat_request("best", &body).await?;
        let answer: SeatsResponse =
            serde_json::from_slice(&bytes).map_err(BookingError::unavailable)?;
        Ok((answer.seat_ids, answer.seats))
    }

    /// `POST /api/seats/{verb}`: the body of a successful answer, or the refusal.
    async fn send_seat_request(
        &self,
        verb: &str,
        body: &impl serde::Serialize,
    ) -> Result<bytes::Bytes, BookingError> {
        // Sent once: a command that may have reached a service is answered UNAVAILABLE, never
        // repeated on another (it could run twice).
        let response = self
            .upstreams
            .send(Retry::IfNotSent, |base| {
                self.http
                    .post(format!("{base}/api/seats/{verb}"))
                    .json(body)
            })
            .await
            .map_err(BookingError::unavailable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(BookingError::unavailable)?;
        if status.is_success() {
            return Ok(bytes);
        }
        match serde_json::from_slice::<ErrorResponse>(&bytes) {
            Ok(error) => Err(BookingError {
                code: error.error.code,
                message: error.error.message,
                seat_ids: error.error.seat_ids,
            }),
            Err(_) => Err(BookingError::unavailable(format!("HTTP {status}"))),
        }
    }

    /// `GET /api/venues/{venue}`; `Ok(None)` when the venue does not exist.
    pub async fn snapshot(&self, venue: &str) -> Result<Option<VenueSnapshot>, BookingError> {
        let response = self
            .upstreams
            .send(Retry::Always, |base| {
                self.http.get(format!("{base}/api/venues/{venue}"))
            })
            .await
            .map_err(BookingError::unavailable)?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(BookingError::unavailable(format!(
                "HTTP {}",
                response.status()
            )));
        }
        response
            .json::<VenueSnapshot>()
            .await
            .map(Some)
            .map_err(BookingError::unavailable)
    }

    /// `GET /api/venues/{venue}/events?after=N&limit=K`: the events after seq `after` (none
    /// with `limit` 0: a cheap check of the venue's seq and epoch).
    pub async fn events(
        &self,
        venue: &str,
        after: u64,
        limit: u32,
    ) -> Result<History, BookingError> {
        let response = self
            .upstreams
            .send(Retry::Always, |base| {
                self.http.get(format!(
                    "{base}/api/venues/{venue}/events?after={after}&limit={limit}"
                ))
            })
            .await
            .map_err(BookingError::unavailable)?;
        match response.status() {
            reqwest::StatusCode::GONE => Ok(History::Gone),
            status if status.is_success() => response
                .json::<EventsPage>()
                .await
                .map(History::Page)
                .map_err(BookingError::unavailable),
            status => Err(BookingError::unavailable(format!("HTTP {status}"))),
        }
    }

    /// `POST /internal/queue/{venue}/presence`: `owners` have a socket open on this edge;
    /// refreshes their presence, queues those without a place (with `join`), and answers where
    /// each stands. Repeating it changes nothing, so it goes on to the next service on failure.
    pub async fn presence(
        &self,
        venue: &str,
        owners: &[&str],
        join: bool,
    ) -> Result<WaitingRoomStandings, BookingError> {
        let body = WaitingRoomReportBody { owners, join };
        let response = self
            .upstreams
            .send(Retry::Always, |base| {
                let request = self
                    .http
                    .post(format!("{base}/internal/queue/{venue}/presence"))
                    .timeout(REPORT_TIMEOUT)
                    .json(&body);
                match &self.internal_token {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }
            })
            .await
            .map_err(BookingError::unavailable)?;
        match response.status() {
            // A booking service without a waiting room (older), or that does not know the venue.
            reqwest::StatusCode::NOT_FOUND => Ok(WaitingRoomStandings::Off),
            status if status.is_success() => {
                let answer: WaitingRoomAnswer =
                    response.json().await.map_err(BookingError::unavailable)?;
                if !answer.enabled {
                    return Ok(WaitingRoomStandings::Off);
                }
                if answer.standings.len() != owners.len() {
                    return Err(BookingError::unavailable(format!(
                        "{} standings for {} owners",
                        answer.standings.len(),
                        owners.len()
                    )));
                }
                Ok(WaitingRoomStandings::On(answer.standings))
            }
            reqwest::StatusCode::UNAUTHORIZED => Err(BookingError::unavailable(
                "HTTP 401: the booking service refused this edge's INTERNAL_TOKEN (give both the same)",
            )),
            status => Err(BookingError::unavailable(format!("HTTP {status}"))),
        }
    }

    /// Runs a hub's fetch; every failure is `Fetched::Failed` (logged).
    pub async fn fetch(&self, venue: &str, fetch: Fetch) -> Fetched {
        match fetch {
            Fetch::Snapshot => match self.snapshot(venue).await {
                Ok(Some(snapshot)) => Fetched::Snapshot(snapshot),
                Ok(None) => {
                    tracing::warn!(%venue, "the booking service does not know this venue");
                    Fetched::Failed
                }
                Err(_) => Fetched::Failed,
            },
            Fetch::Check { after } | Fetch::History { after } => {
                let fill = matches!(fetch, Fetch::History { .. });
                let limit = if fill { HISTORY_PAGE } else { 0 };
                match self.events(venue, after, limit).await {
                    Ok(History::Page(page)) => Fetched::Page { page, fill },
                    Ok(History::Gone) => Fetched::Gone,
                    Err(_) => Fetched::Failed,
                }
            }
        }
    }
}
