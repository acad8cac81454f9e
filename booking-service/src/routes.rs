//! The HTTP API: routes, request validation and the JSON answers of the contract.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::json;
use shared::api::{
    SeatRequest, SeatResponse, SeatsResponse, VenueSnapshot, WaitingRoomAnswer,
    WaitingRoomJoinRequest, WaitingRoomReport, WaitingRoomStanding,
};
use shared::ws::SeatAction;
use shared::{ErrorCode, Seat, TokenSigner};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::seats::SeatService;
use crate::store::Actor;
use crate::waiting_room;

/// Request bodies larger than this are refused before parsing.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every handler shares.
pub struct AppState {
    pub service: Arc<SeatService>,
    pub admin_token: Option<String>,
    pub token_signer: TokenSigner,
    pub user_limiter: DefaultKeyedRateLimiter<String>,
}

impl AppState {
    pub fn new(
        service: Arc<SeatService>,
        admin_token: Option<String>,
        token_signer: TokenSigner,
        user_rate_limit: u32,
    ) -> Self {
        let per_second = NonZeroU32::new(user_rate_limit).unwrap_or(NonZeroU32::MIN);
        AppState {
            service,
            admin_token,
            token_signer,
            user_limiter: RateLimiter::keyed(Quota::per_second(per_second)),
        }
    }
}

type Shared = State<Arc<AppState>>;

/// The whole router; testable without a server.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/seats", get(list_seats))
        .route("/api/venues/{venue}", get(venue_snapshot))
        .route("/api/venues/{venue}/events", get(venue_events))
        .route("/api/venues/{venue}/chart", get(venue_chart))
        .route(
            "/api/seats/select",
            post(|s, b| seat_command(s, SeatAction::Select, b)),
        )
        .route(
            "/api/seats/book",
            post(|s, b| seat_command(s, SeatAction::Book, b)),
        )
        .route(
            "/api/seats/release",
            post(|s, b| seat_command(s, SeatAction::Release, b)),
        )
        .route("/api/session", post(new_session))
        .route("/api/queue/join", post(join_waiting_room))
        .route(
            "/internal/queue/{venue}/presence",
            post(waiting_room_report),
        )
        .route("/api/admin/reset", post(admin_reset))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn count_requests(State(state): Shared, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state
        .service
        .metrics
        .observe_request(&route, response.status().as_u16(), started.elapsed());
    response
}

async fn health(State(state): Shared) -> Response {
    let redis = state.service.store.ping().await;
    let nats = state.service.publisher.is_connected();
    let word = |up: bool| if up { "ok" } else { "down" };
    if redis && nats {
        Json(json!({"status": "ok"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "redis": word(redis), "nats": word(nats)})),
        )
            .into_response()
    }
}

async fn metrics(State(state): Shared) -> Response {
    crate::scrape::refresh(&state.service).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.service.metrics.render(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct VenueQuery {
    venue: Option<String>,
}

/// The admin reset's query: strict, so a misspelt or mangled `venue` (`?venu=main`,
/// `?venue[]=main`) is refused instead of resetting every venue.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminQuery {
    venue: Option<String>,
}

async fn list_seats(
    State(state): Shared,
    query: Result<Query<VenueQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Seat>>, ApiError> {
    let Query(query) = query?;
    let venue = state.service.venue(query.venue.as_deref())?;
    Ok(Json(state.service.snapshot(venue).await?.seats))
}

async fn venue_snapshot(
    State(state): Shared,
    ApiPath(venue): ApiPath<String>,
) -> Result<Json<VenueSnapshot>, ApiError> {
    let venue = state.service.venue(Some(&venue))?;
    Ok(Json(state.service.snapshot(venue).await?))
}

/// How long a browser may use its copy of a chart before asking again (with `If-None-Match`,
/// answered `304` while the file is unchanged).
const CHART_CACHE_CONTROL: &str = "public, max-age=300";

/// `GET /api/venues/{venue}/chart`: the static geometry and categories, blocked seats included.
/// Serialised and gzipped once at start; gzipped for a client that accepts it (with a weak
/// `ETag`), and `304` when the client's `If-None-Match` names its `ETag`, strong or weak.
async fn venue_chart(
    State(state): Shared,
    ApiPath(venue): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let venue = state.service.venue(Some(&venue))?;
    let chart = &venue.chart;
    let unchanged = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == chart.etag || tag == "*");
    let zipped = accepts_gzip(&headers);
    let etag = if zipped {
        format!("W/{}", chart.etag)
    } else {
        chart.etag.clone()
    };
    let cache = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, CHART_CACHE_CONTROL.to_owned()),
        (header::VARY, "Accept-Encoding".to_owned()),
    ];
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let json = (header::CONTENT_TYPE, "application/json");
    Ok(if zipped {
        (
            cache,
            [json, (header::CONTENT_ENCODING, "gzip")],
            chart.gzipped.clone(),
        )
            .into_response()
    } else {
        (cache, [json], chart.body.clone()).into_response()
    })
}

/// Whether `Accept-Encoding` takes gzip (by name or `*`, with a q-value above 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Events one history page holds at most.
const MAX_EVENTS_PAGE: u64 = 1000;

#[derive(Deserialize)]
struct EventsQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /api/venues/{venue}/events?after=N[&limit=K]`: the kept NATS payloads after seq N,
/// byte for byte as published.
async fn venue_events(
    State(state): Shared,
    ApiPath(venue): ApiPath<String>,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let venue = state.service.venue(Some(&venue))?;
    let number = |name: &str, raw: Option<&str>| -> Result<Option<u64>, ApiError> {
        raw.map(|raw| {
            raw.parse::<u64>().map_err(|_| {
                let shown: String = raw.chars().take(20).collect();
                ApiError::new(
                    ErrorCode::ValidationError,
                    format!("{name} must be a whole number of 0 or more, not '{shown}'"),
                )
            })
        })
        .transpose()
    };
    let after = number("after", query.after.as_deref())?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::ValidationError,
            "after is required: the last seq you have (0 for everything kept)",
        )
    })?;
    let limit = number("limit", query.limit.as_deref())?
        .unwrap_or(MAX_EVENTS_PAGE)
        .min(MAX_EVENTS_PAGE);
    let history = state.service.history(venue, after, limit).await?;
    let Some(payloads) = history.payloads else {
        return Err(ApiError::new(
            ErrorCode::HistoryGone,
            format!(
                "events after seq {after} are no longer kept (the venue is at seq {} of epoch {}); fetch GET /api/venues/{} instead",
                history.to, history.epoch, venue.name
            ),
        ));
    };
    // The payloads are JSON objects written by the seat scripts; they are passed on untouched.
    let body = format!(
        r#"{{"venue":"{}","epoch":{},"from":{},"to":{},"events":[{}]}}"#,
        venue.name,
        history.epoch,
        after + 1,
        history.to,
        payloads.join(",")
    );
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `POST /api/seats/{select,book,release}`: one seat (`seat_id`) or several, all or none
/// (`seat_ids`).
async fn seat_command(
    State(state): Shared,
    action: SeatAction,
    body: Result<ApiJson<SeatRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let ApiJson(request) = body?;
    let token = state
        .token_signer
        .verify(request.token.as_deref().unwrap_or(""))?;
    let venue = state.service.venue(request.venue.as_deref())?;
    let (owner, user_id) = (token.owner_key(), token.user_id());
    let actor = Actor {
        owner: &owner,
        user_id: &user_id,
    };
    match (request.seat_id.as_deref(), request.seat_ids.as_deref()) {
        (Some(seat_id), None) => {
            let seat = venue.seats.lookup(seat_id)?;
            check_user_rate(&state, &owner)?;
            let seat = state.service.apply(action, venue, seat, actor).await?;
            Ok(Json(SeatResponse { ok: true, seat }).into_response())
        }
        (None, Some(seat_ids)) => {
            check_user_rate(&state, &owner)?;
            let (seat_ids, seats) = state
                .service
                .apply_group(action, venue, seat_ids, actor)
                .await?;
            let answer = SeatsResponse {
                ok: true,
                seat_ids,
                seats,
            };
            Ok(Json(answer).into_response())
        }
        _ => Err(ApiError::new(
            ErrorCode::ValidationError,
            "give either seat_id (one seat) or seat_ids (several, all or none)",
        )),
    }
}

/// Seat commands are limited per identity (`USER_RATE_LIMIT` a second).
fn check_user_rate(state: &AppState, owner: &str) -> Result<(), ApiError> {
    if state.user_limiter.check_key(&owner.to_owned()).is_err() {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many seat commands; slow down",
        ));
    }
    Ok(())
}

/// `POST /api/queue/join`: join the venue's waiting room, or see where you stand. Calling it
/// keeps an HTTP-only client's place the way an open socket does.
async fn join_waiting_room(
    State(state): Shared,
    body: Result<ApiJson<WaitingRoomJoinRequest>, ApiError>,
) -> Result<Json<WaitingRoomStanding>, ApiError> {
    let ApiJson(request) = body?;
    let token = state
        .token_signer
        .verify(request.token.as_deref().unwrap_or(""))?;
    let venue = state.service.venue(request.venue.as_deref())?;
    let mut standing =
        waiting_room::standings(&state.service, venue, &[token.owner_key()], true).await?;
    Ok(Json(standing.remove(0)))
}

/// Most identities one presence report may carry.
const MAX_REPORTED_OWNERS: usize = 50_000;

/// `POST /internal/queue/{venue}/presence`: the edges' report of who has a socket open. Not
/// proxied by NGINX (only `/api/` is).
async fn waiting_room_report(
    State(state): Shared,
    ApiPath(venue): ApiPath<String>,
    body: Result<ApiJson<WaitingRoomReport>, ApiError>,
) -> Result<Json<WaitingRoomAnswer>, ApiError> {
    let ApiJson(request) = body?;
    let venue = state.service.venue(Some(&venue))?;
    if request.owners.len() > MAX_REPORTED_OWNERS
        || !request
            .owners
            .iter()
            .all(|o| o.len() == 64 && o.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            format!("owners must be at most {MAX_REPORTED_OWNERS} authority keys of 64 hex digits"),
        ));
    }
    let enabled = state.service.store.waiting_room().is_some();
    let standings = if enabled {
        waiting_room::standings(&state.service, venue, &request.owners, request.join).await?
    } else {
        Vec::new()
    };
    Ok(Json(WaitingRoomAnswer {
        venue: venue.name.clone(),
        enabled,
        standings,
    }))
}

/// `POST /api/session`: a new identity for curl and scripts (NGINX limits how often per IP).
async fn new_session(State(state): Shared) -> Json<serde_json::Value> {
    let token = state.token_signer.issue();
    state.service.metrics.count_session();
    Json(json!({"token": token.as_str(), "user_id": token.user_id()}))
}

async fn admin_reset(
    State(state): Shared,
    headers: HeaderMap,
    query: Result<Query<AdminQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(expected) = state.admin_token.as_deref() else {
        return Err(ApiError {
            status: Some(StatusCode::FORBIDDEN),
            ..ApiError::new(
                ErrorCode::Unauthorized,
                "admin reset is disabled (ADMIN_TOKEN is not set)",
            )
        });
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), expected.as_bytes())) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "missing or wrong admin token",
        ));
    }
    let Query(query) = query?;
    let venues: Vec<_> = match query.venue.as_deref() {
        Some(name) => vec![state.service.venue(Some(name))?],
        None => state.service.venues().collect(),
    };
    let mut released = 0;
    for venue in venues {
        released += state.service.reset(venue).await?;
    }
    Ok(Json(json!({"ok": true, "released": released})))
}

async fn unknown_route() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such route; see GET /health, /api/seats, /api/venues/{venue}",
    )
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method (seat commands are POST, reads are GET)",
    )
}

/// Compares secrets without revealing through timing how much of them matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
