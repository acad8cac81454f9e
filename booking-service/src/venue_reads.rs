//! The venue reads beyond a snapshot: the seating chart (served from bytes made once, gzipped on
//! request, `304` for a known `ETag`) and the event history (the kept NATS payloads, as published).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::ErrorCode;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::openapi;
use crate::routes::{Shared, VenuePath};

/// How long a browser may use its copy of a chart before asking again (with `If-None-Match`,
/// answered `304` while the file is unchanged).
const CHART_CACHE_CONTROL: &str = "public, max-age=300";

/// `GET /api/venues/{venue}/chart`: the static geometry and categories, blocked seats included.
/// Serialised and gzipped once at start; gzipped for a client that accepts it (with a weak
/// `ETag`), and `304` when the client's `If-None-Match` names its `ETag`, strong or weak.
#[utoipa::path(get, path = "/api/venues/{venue}/chart", tag = "venues", params(VenuePath,
    ("If-None-Match" = Option<String>, Header, description = "An `ETag` of this chart (strong or weak) answers 304"),
    ("Accept-Encoding" = Option<String>, Header, description = "`gzip` gets the chart gzipped"),
), responses(openapi::ChartRead))]
pub(crate) async fn venue_chart(
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

/// `after` and `limit` are read as text and parsed here, so a bad one is answered with its name.
#[derive(Deserialize)]
pub(crate) struct EventsQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// Written out: both are whole numbers up to 2^64 − 1 as read here, beyond the `int64` format a
/// derived schema would give them.
impl IntoParams for EventsQuery {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::Required;
        let whole_number = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(u64::MAX as f64))
        };
        let param = |name: &str, required, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(required)
                .description(Some(description))
                .schema(Some(whole_number()))
                .build()
        };
        vec![
            param(
                "after",
                Required::True,
                "The last seq you have (0 for everything kept).",
            ),
            param(
                "limit",
                Required::False,
                "At most this many events (at most 1000, also the default; 0 only reports `to`).",
            ),
        ]
    }
}

/// `GET /api/venues/{venue}/events?after=N[&limit=K]`: the kept NATS payloads after seq N,
/// byte for byte as published.
#[utoipa::path(
    get,
    path = "/api/venues/{venue}/events",
    tag = "venues",
    params(VenuePath, EventsQuery),
    responses(openapi::EventsRead, openapi::StoreFailed)
)]
pub(crate) async fn venue_events(
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
