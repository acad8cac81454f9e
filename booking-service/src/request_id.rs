//! The request id: every request carries one (`X-Request-Id`: NGINX's, an edge's command id, or a
//! new UUID), every log line it causes names it, and its answer returns it.
//!
//! An edge sends each WebSocket command as `<connection id>.<n>`, the connection id being the one
//! NGINX gave its upgrade, so one click can be followed from NGINX's access log through the edge
//! to the line here (docs/architecture.md, "Following one click").

use std::time::Instant;

use axum::extract::Request;
use axum::http::{Method, Uri};
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
    use super::*;

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
