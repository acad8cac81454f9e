//! The booking service as the edge sees it: seat commands, venue snapshots and event history
//! over a pooled keep-alive HTTP client.

use std::time::Duration;

use shared::api::{ErrorResponse, EventsPage, SeatRequest, SeatResponse, VenueSnapshot};
use shared::ws::SeatAction;
use shared::{ErrorCode, Seat};

/// A refusal or failure, ready to be sent to the client as an `ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingError {
    pub code: ErrorCode,
    pub message: String,
}

impl BookingError {
    fn unavailable(why: impl std::fmt::Display) -> Self {
        tracing::warn!(%why, "booking service unavailable");
        BookingError {
            code: ErrorCode::Unavailable,
            message: "the booking service is unreachable; try again shortly".into(),
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

/// Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct BookingClient {
    base_url: String,
    http: reqwest::Client,
}

impl BookingClient {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(BookingClient {
            base_url: base_url.to_owned(),
            http,
        })
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
            token: Some(token.to_owned()),
            venue: Some(venue.to_owned()),
        };
        let response = self
            .http
            .post(format!("{}/api/seats/{}", self.base_url, action.verb()))
            .json(&body)
            .send()
            .await
            .map_err(BookingError::unavailable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(BookingError::unavailable)?;
        if status.is_success() {
            let answer: SeatResponse =
                serde_json::from_slice(&bytes).map_err(BookingError::unavailable)?;
            return Ok(answer.seat);
        }
        match serde_json::from_slice::<ErrorResponse>(&bytes) {
            Ok(error) => Err(BookingError {
                code: error.error.code,
                message: error.error.message,
            }),
            Err(_) => Err(BookingError::unavailable(format!("HTTP {status}"))),
        }
    }

    /// `GET /api/venues/{venue}`; `Ok(None)` when the venue does not exist.
    pub async fn snapshot(&self, venue: &str) -> Result<Option<VenueSnapshot>, BookingError> {
        let response = self
            .http
            .get(format!("{}/api/venues/{venue}", self.base_url))
            .send()
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
            .http
            .get(format!(
                "{}/api/venues/{venue}/events?after={after}&limit={limit}",
                self.base_url
            ))
            .send()
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
