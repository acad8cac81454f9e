//! The HTTP API: routes, request validation and the JSON answers of the contract.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use shared::api::{
    BestRequest, ErrorResponse, SeatRequest, SeatResponse, SeatsResponse, VenueSnapshot,
    WaitingRoomAnswer, WaitingRoomJoinRequest, WaitingRoomReport, WaitingRoomStanding,
};
use shared::settings::secrets_equal;
use shared::ws::{BestAsk, SeatAction};
use shared::{ErrorCode, Seat, TokenSigner};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::{self, ApiDoc};
use crate::request_id;
use crate::seats::SeatService;
use crate::store::Actor;
use crate::venue_reads;
use crate::waiting_room;

/// Request bodies larger than this are refused before parsing.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every handler shares.
pub struct AppState {
    pub service: Arc<SeatService>,
    pub admin_token: Option<String>,
    /// `INTERNAL_TOKEN`: what the `/internal/` routes require, when set.
    pub internal_token: Option<String>,
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
            internal_token: None,
            token_signer,
            user_limiter: RateLimiter::keyed(Quota::per_second(per_second)),
        }
    }
}

impl AppState {
    /// Requires `token` of the callers of the `/internal/` routes.
    pub fn with_internal_token(self, token: Option<String>) -> Self {
        AppState {
            internal_token: token,
            ..self
        }
    }
}

pub(crate) type Shared = State<Arc<AppState>>;

/// The whole router; testable without a server.
pub fn app(state: Arc<AppState>) -> Router {
    let (router, document) = documented_routes();
    let document = openapi::Document(
        serde_json::to_vec(&document)
            .expect("the OpenAPI document always serialises")
            .into(),
    );
    let router = router
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(Extension(document))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ));
    request_id::traced(router).with_state(state)
}

/// Every route, registered with its OpenAPI annotation, and the document they make: so
/// `GET /api/openapi.json` lists exactly the routes served.
fn documented_routes() -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(metrics))
        .routes(routes!(list_seats))
        .routes(routes!(venue_snapshot))
        .routes(routes!(venue_reads::venue_events))
        .routes(routes!(venue_reads::venue_chart))
        .routes(routes!(select_seat))
        .routes(routes!(book_seat))
        .routes(routes!(release_seat))
        .routes(routes!(hold_best))
        .routes(routes!(new_session))
        .routes(routes!(join_waiting_room))
        .routes(routes!(waiting_room_report))
        .routes(routes!(admin_reset))
        .routes(routes!(openapi::document))
        .split_for_parts();
    (router, openapi::with_request_id(document))
}

/// The OpenAPI document `GET /api/openapi.json` serves.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented_routes().1
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

/// `GET /health`: `{"status":"ok"}`, or what is down.
#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok` or `down`; present when something is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    nats: Option<&'static str>,
    /// `ok` or `down`; present when something is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
    /// `ok` or `unavailable`.
    status: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "operations", responses(
    (status = 200, description = "Redis answers a `PING` within 1 s and the NATS connection is up", body = Health),
    (status = 503, description = "Redis or NATS is down", body = Health),
))]
async fn health(State(state): Shared) -> Response {
    let redis = state.service.store.ping().await;
    let nats = state.service.publisher.is_connected();
    let word = |up: bool| Some(if up { "ok" } else { "down" });
    if redis && nats {
        Json(Health {
            nats: None,
            redis: None,
            status: "ok",
        })
        .into_response()
    } else {
        let health = Health {
            nats: word(nats),
            redis: word(redis),
            status: "unavailable",
        };
        (StatusCode::SERVICE_UNAVAILABLE, Json(health)).into_response()
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String),
))]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VenueQuery {
    /// Venue name; the default venue when absent.
    venue: Option<String>,
}

/// The admin reset's query: strict, so a misspelt or mangled `venue` (`?venu=main`,
/// `?venue[]=main`) is refused instead of resetting every venue.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AdminQuery {
    /// The venue to reset; every venue when absent.
    venue: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/seats",
    tag = "seats",
    params(VenueQuery),
    responses(openapi::SeatsRead, openapi::StoreFailed)
)]
async fn list_seats(
    State(state): Shared,
    query: Result<Query<VenueQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Seat>>, ApiError> {
    let Query(query) = query?;
    let venue = state.service.venue(query.venue.as_deref())?;
    Ok(Json(state.service.snapshot(venue).await?.seats))
}

#[utoipa::path(
    get,
    path = "/api/venues/{venue}",
    tag = "venues",
    params(VenuePath),
    responses(openapi::SnapshotRead, openapi::StoreFailed)
)]
async fn venue_snapshot(
    State(state): Shared,
    ApiPath(venue): ApiPath<String>,
) -> Result<Json<VenueSnapshot>, ApiError> {
    let venue = state.service.venue(Some(&venue))?;
    Ok(Json(state.service.snapshot(venue).await?))
}

/// `{venue}` in a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct VenuePath {
    /// Venue name, e.g. `main`.
    venue: String,
}

/// `POST /api/seats/select`: hold a seat for `HOLD_SECONDS`.
#[utoipa::path(post, path = "/api/seats/select", tag = "seats", request_body = SeatRequest,
    responses(openapi::SeatCommandAnswers, openapi::BodyRefused, openapi::StoreFailed))]
async fn select_seat(state: Shared, body: Result<ApiJson<SeatRequest>, ApiError>) -> SeatAnswer {
    seat_command(state, SeatAction::Select, body).await
}

/// `POST /api/seats/book`: book a seat you hold.
#[utoipa::path(post, path = "/api/seats/book", tag = "seats", request_body = SeatRequest,
    responses(openapi::SeatCommandAnswers, openapi::BodyRefused, openapi::StoreFailed))]
async fn book_seat(state: Shared, body: Result<ApiJson<SeatRequest>, ApiError>) -> SeatAnswer {
    seat_command(state, SeatAction::Book, body).await
}

/// `POST /api/seats/release`: release a seat you hold.
#[utoipa::path(post, path = "/api/seats/release", tag = "seats", request_body = SeatRequest,
    responses(openapi::SeatCommandAnswers, openapi::BodyRefused, openapi::StoreFailed))]
async fn release_seat(state: Shared, body: Result<ApiJson<SeatRequest>, ApiError>) -> SeatAnswer {
    seat_command(state, SeatAction::Release, body).await
}

/// `POST /api/seats/best`: hold the best `count` adjacent free seats, chosen in the same atomic
/// step as the hold.
#[utoipa::path(post, path = "/api/seats/best", tag = "seats", request_body = BestRequest,
    responses(openapi::BestAnswers, openapi::BodyRefused, openapi::StoreFailed))]
async fn hold_best(
    State(state): Shared,
    body: Result<ApiJson<BestRequest>, ApiError>,
) -> SeatAnswer {
    let ApiJson(request) = body?;
    let token = state
        .token_signer
        .verify(request.token.as_deref().unwrap_or(""))?;
    let venue = state.service.venue(request.venue.as_deref())?;
    let Some(count) = request.count else {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "count is required: how many seats side by side",
        ));
    };
    let (owner, user_id) = (token.owner_key(), token.user_id());
    check_user_rate(&state, &owner)?;
    let ask = BestAsk {
        count: u64::from(count),
        category: request.category,
        section: request.section,
        accessible: request.accessible.unwrap_or(false),
    };
    let actor = Actor {
        owner: &owner,
        user_id: &user_id,
    };
    let (seat_ids, seats) = state.service.hold_best(venue, &ask, actor).await?;
    let answer = SeatsResponse {
        ok: true,
        seat_ids,
        seats,
    };
    Ok(Json(answer).into_response())
}

type SeatAnswer = Result<Response, ApiError>;

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
#[utoipa::path(post, path = "/api/queue/join", tag = "waiting room",
    request_body = WaitingRoomJoinRequest,
    responses(openapi::QueueJoinAnswers, openapi::BodyRefused, openapi::StoreFailed))]
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
/// proxied by NGINX (only `/api/` is); with `INTERNAL_TOKEN` set, only for callers showing it.
#[utoipa::path(post, path = "/internal/queue/{venue}/presence", tag = "operations",
    params(VenuePath), request_body = WaitingRoomReport,
    security(("internal_token" = []), ()),
    responses(openapi::PresenceAnswers, openapi::BodyRefused, openapi::StoreFailed))]
async fn waiting_room_report(
    State(state): Shared,
    ApiPath(venue): ApiPath<String>,
    headers: HeaderMap,
    body: Result<ApiJson<WaitingRoomReport>, ApiError>,
) -> Result<Json<WaitingRoomAnswer>, ApiError> {
    internal_caller(&state, &headers)?;
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

/// A new identity.
#[derive(Serialize, ToSchema)]
struct SessionIssued {
    /// Sent with every seat command.
    token: String,
    /// The public id seats show as `held_by`.
    user_id: String,
}

/// `POST /api/session`: a new identity for curl and scripts (NGINX limits how often per IP).
#[utoipa::path(post, path = "/api/session", tag = "identity", responses(
    (status = 200, description = "A new identity", body = SessionIssued),
))]
async fn new_session(State(state): Shared) -> Json<SessionIssued> {
    let token = state.token_signer.issue();
    state.service.metrics.count_session();
    Json(SessionIssued {
        token: token.as_str().to_owned(),
        user_id: token.user_id(),
    })
}

/// `{"ok":true,"released":N}`: the number of seats that changed.
#[derive(Serialize, ToSchema)]
struct ResetDone {
    ok: bool,
    released: usize,
}

#[utoipa::path(post, path = "/api/admin/reset", tag = "operations", params(AdminQuery),
    security(("admin_token" = [])), responses(
    (status = 200, description = "Every held and booked seat of the venue(s) is available", body = ResetDone),
    (status = 400, description = "`VALIDATION_ERROR`: a malformed query string, or a parameter but `venue`", body = ErrorResponse),
    (status = 401, description = "`UNAUTHORIZED`: missing or wrong admin token", body = ErrorResponse),
    (status = 403, description = "`UNAUTHORIZED`: admin reset is disabled (`ADMIN_TOKEN` is not set)", body = ErrorResponse),
    (status = 404, description = "`UNKNOWN_VENUE`", body = ErrorResponse),
    openapi::StoreFailed,
))]
async fn admin_reset(
    State(state): Shared,
    headers: HeaderMap,
    query: Result<Query<AdminQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ResetDone>, ApiError> {
    let Some(expected) = state.admin_token.as_deref() else {
        return Err(ApiError {
            status: Some(StatusCode::FORBIDDEN),
            ..ApiError::new(
                ErrorCode::Unauthorized,
                "admin reset is disabled (ADMIN_TOKEN is not set)",
            )
        });
    };
    if !bearer(&headers).is_some_and(|p| secrets_equal(p.as_bytes(), expected.as_bytes())) {
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
    Ok(Json(ResetDone { ok: true, released }))
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
/// `Authorization: Bearer …`, if the request carries one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The `/internal/` routes answer only callers showing `INTERNAL_TOKEN`, when it is set.
fn internal_caller(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.internal_token.as_deref() else {
        return Ok(());
    };
    match bearer(headers) {
        Some(offered) if secrets_equal(offered.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "internal routes need 'Authorization: Bearer <INTERNAL_TOKEN>'",
        )),
    }
}
