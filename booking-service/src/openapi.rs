//! The OpenAPI 3.1 document of the HTTP API, served at `GET /api/openapi.json`: its frame (info,
//! tags, the admin token's scheme) and the answer sets the handlers' `#[utoipa::path]`
//! annotations share. The paths come from those annotations and the schemas from the body types
//! serde writes, collected as the router is built (`routes::app`), so the document describes
//! the routes that are served and nothing else.

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use shared::api::{
    ErrorResponse, EventsPage, SeatResponse, VenueSnapshot, WaitingRoomAnswer, WaitingRoomStanding,
};
use shared::Seat;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::venues::ChartBody;

/// Everything but the paths, which `routes::app` adds route by route.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Seat map booking service",
        description = "Seats of a concert venue: read them, hold, book and release them. \
            Every error answers `{\"ok\":false,\"error\":{\"code\":…,\"message\":…}}`; the codes \
            are the `ErrorCode` schema. Prose, with examples: docs/http-api.md.",
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "seats", description = "Seat state and seat commands"),
        (name = "venues", description = "Snapshots, charts and the event history of a venue"),
        (name = "identity", description = "Identities for scripts"),
        (name = "waiting room", description = "The queue in front of a sale"),
        (name = "operations", description = "Health, metrics, admin and edge-only routes"),
    ),
    // The bodies the shared answer sets below name (an `IntoResponses` set refers to its bodies
    // without collecting them; a test checks that every reference resolves).
    components(schemas(
        shared::ErrorCode,
        ErrorResponse,
        SeatResponse,
        shared::api::SeatsResponse,
        shared::api::SeatCommandAnswer,
        Seat,
        VenueSnapshot,
        EventsPage,
        ChartBody,
        WaitingRoomStanding,
        WaitingRoomAnswer,
    )),
    modifiers(&AdminToken)
)]
pub struct ApiDoc;

/// `Authorization: Bearer $ADMIN_TOKEN`, the admin reset's only credential, and
/// `Authorization: Bearer $INTERNAL_TOKEN`, the edges' on the `/internal/` routes.
struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "internal_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Documents the request id (`request_id.rs`) on every operation of `openapi`: the optional
/// `X-Request-Id` a caller may send, and the same header on every answer. Applied once the routes
/// have added their paths.
pub fn with_request_id(mut openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let well_formed = format!("^[A-Za-z0-9._:-]{{1,{}}}$", crate::request_id::MAX_LEN);
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            // Any value is taken: one that is not well formed is replaced, never refused.
            operation.parameters.get_or_insert_with(Vec::new).push(
                ParameterBuilder::new()
                    .name(REQUEST_ID_HEADER)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(format!(
                        "Names this request in every log line it causes and in its answer. Kept \
                         when it is 1 to {} letters, digits, `.`, `_`, `:` or `-`; otherwise, or \
                         when absent, the service makes a UUID.",
                        crate::request_id::MAX_LEN
                    )))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            );
            for answer in operation.responses.responses.values_mut() {
                if let RefOr::T(answer) = answer {
                    answer.headers.insert(
                        REQUEST_ID_HEADER.to_owned(),
                        HeaderBuilder::new()
                            .schema(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .pattern(Some(well_formed.clone())),
                            )
                            .description(Some(
                                "The request's id: the caller's `X-Request-Id` when well formed, \
                                 else a new UUID.",
                            ))
                            .build(),
                    );
                }
            }
        }
    }
    openapi
}

const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// The document, serialised once when the router is built.
#[derive(Clone)]
pub struct Document(pub Bytes);

/// `GET /api/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object))
)]
pub async fn document(Extension(document): Extension<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document.0).into_response()
}

/// A JSON body refused before it was read (it applies to every route that takes one).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BodyRefused {
    /// `VALIDATION_ERROR`: not valid JSON (also an empty body), or a required field missing or malformed.
    #[response(status = 400)]
    BadRequest(ErrorResponse),
    /// `VALIDATION_ERROR`: the body did not arrive within 10 s.
    #[response(status = 408)]
    TooSlow(ErrorResponse),
    /// `VALIDATION_ERROR`: the body is larger than 16 KiB.
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// `VALIDATION_ERROR`: `Content-Type` is not `application/json`.
    #[response(status = 415)]
    NotJson(ErrorResponse),
    /// `VALIDATION_ERROR`: valid JSON of the wrong shape (not an object, a field of the wrong type, a key given twice).
    #[response(status = 422)]
    WrongShape(ErrorResponse),
}

/// What every route that reads Redis may answer when it cannot.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum StoreFailed {
    /// `INTERNAL`: an unexpected error from Redis or a malformed script reply; logged.
    #[response(status = 500)]
    Internal(ErrorResponse),
    /// `UNAVAILABLE`: Redis unreachable, or a command took over 2 s.
    #[response(status = 503)]
    Unavailable(ErrorResponse),
}

/// The answers of `POST /api/seats/{select,book,release}` besides the body's refusals.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum SeatCommandAnswers {
    /// The seat as it is after the command (`seat_id`), or the seats, in the order asked
    /// (`seat_ids`).
    #[response(status = 200)]
    Done(shared::api::SeatCommandAnswer),
    /// `UNAUTHORIZED`: `token` missing, empty, malformed or not issued by this system.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// `NOT_HOLDER` (book/release of a seat you do not hold) or `NOT_ADMITTED` (waiting room on,
    /// no pass).
    #[response(status = 403)]
    Refused(ErrorResponse),
    /// `UNKNOWN_VENUE` or `UNKNOWN_SEAT` (a well-formed id outside the venue).
    #[response(status = 404)]
    Unknown(ErrorResponse),
    /// `SEAT_UNAVAILABLE`, `SEAT_BOOKED`, `SEAT_NOT_FOR_SALE`, `MAX_HOLDS_EXCEEDED` or
    /// `SINGLE_SEAT_GAP`; about several seats, `error.seat_ids` names every one in the way.
    #[response(status = 409)]
    Conflict(ErrorResponse),
    /// `RATE_LIMITED`: more than `USER_RATE_LIMIT` seat commands per second from one user.
    #[response(status = 429)]
    RateLimited(ErrorResponse),
}

/// The answers of `POST /api/seats/best` besides the body's refusals.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BestAnswers {
    /// The seats now held, side by side, in row order.
    #[response(status = 200)]
    Held(shared::api::SeatsResponse),
    /// `UNAUTHORIZED`: `token` missing, empty, malformed or not issued by this system.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// `NOT_ADMITTED`: the waiting room is on and this identity has no pass.
    #[response(status = 403)]
    Refused(ErrorResponse),
    /// `UNKNOWN_VENUE`.
    #[response(status = 404)]
    Unknown(ErrorResponse),
    /// `NO_SEATS_TOGETHER` (no free block fits) or `MAX_HOLDS_EXCEEDED`.
    #[response(status = 409)]
    Conflict(ErrorResponse),
    /// `RATE_LIMITED`: more than `USER_RATE_LIMIT` seat commands per second from one user.
    #[response(status = 429)]
    RateLimited(ErrorResponse),
}

/// `GET /api/seats` and `GET /api/venues/{venue}`: a venue's seats.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum SeatsRead {
    /// Every seat of the venue, in row (grid) or chart order.
    #[response(status = 200)]
    Seats(Vec<Seat>),
    /// `VALIDATION_ERROR`: a malformed query string or path segment.
    #[response(status = 400)]
    BadRequest(ErrorResponse),
    /// `UNKNOWN_VENUE`.
    #[response(status = 404)]
    UnknownVenue(ErrorResponse),
}

/// `GET /api/venues/{venue}`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum SnapshotRead {
    /// A consistent snapshot: every seat plus `seq`, the last change it includes.
    #[response(status = 200)]
    Snapshot(VenueSnapshot),
    /// `VALIDATION_ERROR`: a path segment that is not UTF-8 once decoded.
    #[response(status = 400)]
    BadRequest(ErrorResponse),
    /// `UNKNOWN_VENUE`.
    #[response(status = 404)]
    UnknownVenue(ErrorResponse),
}

/// `GET /api/venues/{venue}/events`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum EventsRead {
    /// The kept events after `after`, oldest first, byte for byte as published on NATS.
    #[response(status = 200)]
    Page(EventsPage),
    /// `VALIDATION_ERROR`: `after` missing or not a whole number ≥ 0, `limit` not one, or a
    /// malformed query string or path segment.
    #[response(status = 400)]
    BadRequest(ErrorResponse),
    /// `UNKNOWN_VENUE`.
    #[response(status = 404)]
    UnknownVenue(ErrorResponse),
    /// `HISTORY_GONE`: `after` is older than the kept history or ahead of the venue; fetch the
    /// snapshot instead.
    #[response(status = 410)]
    Gone(ErrorResponse),
}

/// `GET /api/venues/{venue}/chart`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ChartRead {
    /// The chart with every seat written out (gzipped for a client that accepts it).
    #[response(
        status = 200,
        headers(
            ("ETag" = String, description = "Strong; weak (`W/…`) on the gzipped answer"),
            ("Cache-Control" = String, description = "`public, max-age=300`"),
            ("Vary" = String, description = "`Accept-Encoding`"),
        )
    )]
    Chart(ChartBody<'static>),
    /// `If-None-Match` names this chart's `ETag` (strong or weak): no body.
    #[response(
        status = 304,
        headers(
            ("ETag" = String),
            ("Cache-Control" = String),
            ("Vary" = String),
        )
    )]
    NotModified,
    /// `VALIDATION_ERROR`: a path segment that is not UTF-8 once decoded.
    #[response(status = 400)]
    BadRequest(ErrorResponse),
    /// `UNKNOWN_VENUE`.
    #[response(status = 404)]
    UnknownVenue(ErrorResponse),
}

/// `POST /api/queue/join`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum QueueJoinAnswers {
    /// Where the identity stands.
    #[response(status = 200)]
    Standing(WaitingRoomStanding),
    /// `UNAUTHORIZED`: `token` missing, empty, malformed or not issued by this system.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// `UNKNOWN_VENUE`.
    #[response(status = 404)]
    UnknownVenue(ErrorResponse),
}

/// `POST /internal/queue/{venue}/presence`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum PresenceAnswers {
    /// Where each reported identity stands, in the order reported (empty when the waiting room is off).
    #[response(status = 200)]
    Standings(WaitingRoomAnswer),
    /// `UNAUTHORIZED`: the service has an `INTERNAL_TOKEN` and the request did not show it as
    /// `Authorization: Bearer …`.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// `UNKNOWN_VENUE`.
    #[response(status = 404)]
    UnknownVenue(ErrorResponse),
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    fn refs<'a>(value: &'a Value, found: &mut BTreeSet<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.insert(target);
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_operation_answers_errors_in_the_contract() {
        let document = serde_json::to_value(crate::routes::openapi_document()).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let mut found = BTreeSet::new();
        refs(&document, &mut found);
        for target in &found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {target}"));
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{target} does not resolve"
            );
        }
        let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
        for code in [
            "VALIDATION_ERROR",
            "SEAT_UNAVAILABLE",
            "HISTORY_GONE",
            "NOT_ADMITTED",
        ] {
            assert!(codes.as_array().unwrap().contains(&code.into()), "{code}");
        }
        let paths = document["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/openapi.json"));
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let request_id = operation["parameters"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["name"] == "X-Request-Id"))
                    .unwrap_or_else(|| panic!("{method} {path}: no X-Request-Id parameter"));
                assert_eq!(request_id["in"], "header", "{method} {path}");
                assert_eq!(request_id["required"], false, "{method} {path}");
                let answers = operation["responses"].as_object().unwrap();
                for (status, answer) in answers {
                    assert!(
                        answer["headers"].get("X-Request-Id").is_some(),
                        "{method} {path} {status}: the answer's X-Request-Id is not documented"
                    );
                }
                for (status, answer) in answers.iter().filter(|(s, _)| s.starts_with(['4', '5'])) {
                    if path == "/health" {
                        continue;
                    }
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorResponse",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}
