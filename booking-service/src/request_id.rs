//! The request id: every request carries one (`X-Request-Id`: NGINX's, an edge's command id, or a
//! new UUID), every log line it causes names it, and its answer returns it. One that is not well
//! formed (`shared::request_id`) is replaced by a new UUID, as NGINX replaces it by its own.
//!
//! An edge sends each WebSocket command as `<connection id>.<n>`, the connection id being the one
//! NGINX gave its upgrade, so one click can be followed from NGINX's access log through the edge
//! to the line here (docs/architecture.md, "Following one click").

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

/// `router` with its requests identified and traced: outermost the id is set (kept when the
/// caller sent one), then copied onto the answer, then every line the request causes is logged
/// inside a `request{request_id=…}` span, and the answer itself is logged (`log_answer`).
pub fn traced<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(middleware::from_fn(log_answer))
        // A 5xx is logged where it arises (Redis down, a script failing) and by `log_answer`;
        // not again as an ERROR here, where the health check's designed 503 (while a dependency
        // is down, e.g. during the start) would look like a failure of the service.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(drop_malformed_id))
}

/// The longest id kept: an edge's command id is its connection's (up to 64, from NGINX) plus
/// `.<n>`.
pub const MAX_LEN: usize = 128;

/// Removes an `X-Request-Id` that is not well formed, so the request gets a new UUID instead.
async fn drop_malformed_id(mut request: Request, next: Next) -> Response {
    let header = HeaderName::from_static(shared::request_id::HEADER);
    let malformed = request.headers().get(&header).is_some_and(|id| {
        !id.to_str()
            .is_ok_and(|id| shared::request_id::is_well_formed(id, MAX_LEN))
    });
    if malformed {
        request.headers_mut().remove(&header);
    }
    next.run(request).await
}

/// The span every line of one request is logged in. At INFO, so the id shows on INFO lines.
fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", request_id = %id)
}

/// One line per answer: at INFO for the requests a person or a command makes (POSTs outside
/// `/internal/`, whose presence reports come twice a second from every edge), at DEBUG for the
/// reads, health checks and scrapes that come all the time; at WARN any other 5xx than the
/// health check's (which answers 503 by design while Redis or NATS is down).
async fn log_answer(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    // Cheap: a Uri shares the bytes hyper parsed.
    let uri = request.uri().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    // To the hundredth of a millisecond: enough, and short in a log line.
    let ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    if status >= 500 && uri.path() != "/health" {
        tracing::warn!(%method, path = uri.path(), status, ms, "answered");
    } else if is_command(&method, &uri) {
        tracing::info!(%method, path = uri.path(), status, ms, "answered");
    } else {
        tracing::debug!(%method, path = uri.path(), status, ms, "answered");
    }
    response
}

fn is_command(method: &Method, uri: &Uri) -> bool {
    method == Method::POST && !uri.path().starts_with("/internal/")
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// The X-Request-Id of the answer to a request that sent `sent`.
    async fn answered_id(sent: Option<&str>) -> String {
        let app = traced(Router::new().route("/", get(|| async { "ok" })));
        let mut request = axum::http::Request::get("/");
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let answer = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn a_well_formed_id_is_kept_and_any_other_is_replaced_by_a_uuid() {
        assert_eq!(answered_id(Some("edge-1-c7.3")).await, "edge-1-c7.3");
        let long_command = format!("{}.12", "a".repeat(64));
        assert_eq!(answered_id(Some(&long_command)).await, long_command);
        for sent in [
            None,
            Some("two words"),
            Some("x\" forged=\"1"),
            Some(&*"y".repeat(129)),
        ] {
            let id = answered_id(sent).await;
            let uuid_shaped = id.len() == 36
                && id.char_indices().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => c == '-',
                    _ => c.is_ascii_hexdigit(),
                });
            assert!(uuid_shaped, "{sent:?} answered {id}");
        }
    }

    #[test]
    fn commands_are_the_posts_of_people_not_the_edges_reports() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert!(is_command(&Method::POST, &uri("/api/seats/select")));
        assert!(is_command(&Method::POST, &uri("/api/session")));
        assert!(!is_command(&Method::GET, &uri("/api/venues/main")));
        assert!(!is_command(
            &Method::POST,
            &uri("/internal/queue/main/presence")
        ));
    }
}
