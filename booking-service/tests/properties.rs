//! Property tests over the HTTP API: arbitrary bytes in bodies, paths and query strings get a
//! coded JSON error (or, for a well-formed read while Redis is down, 503), never a panic, never
//! a 500. The router is called directly (`oneshot`); its Redis and NATS are unreachable
//! addresses, so nothing arbitrary input does could reach seat state.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request};
use booking_service::{metrics, publisher, routes, seats, store, waiting_room};
use proptest::prelude::*;
use serde_json::Value;
use tower::ServiceExt;

fn router() -> axum::Router {
    static RUNTIME_ROUTER: std::sync::OnceLock<Arc<routes::AppState>> = std::sync::OnceLock::new();
    let state = RUNTIME_ROUTER.get_or_init(|| {
        runtime().block_on(async {
            let metrics = metrics::Metrics::new();
            let store = store::SeatStore::connect(
                store::RedisSettings {
                    url: "redis://127.0.0.1:1".into(),
                    pool_size: 1,
                    wait_replicas: 0,
                    wait_timeout: std::time::Duration::from_secs(1),
                },
                waiting_room::settings(2, std::time::Duration::from_secs(60)),
                metrics.clone(),
            )
            .unwrap();
            let publisher =
                publisher::EventPublisher::connect(vec!["nats://127.0.0.1:1".parse().unwrap()])
                    .await
                    .unwrap();
            let venues = booking_service::venues::load(
                &shared::VenueEntry::parse_list("main:10x10").unwrap(),
            )
            .unwrap();
            let service = Arc::new(seats::SeatService::new(
                store, publisher, metrics, &venues, 30, 4, 100,
            ));
            Arc::new(routes::AppState::new(
                service,
                Some("admin-secret".into()),
                shared::TokenSigner::new("property-test-secret-0123").unwrap(),
                20,
            ))
        })
    });
    routes::app(state.clone())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Sends one request; returns the status and the JSON body (Null if it is not JSON).
fn call(method: Method, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let router = router();
    runtime().block_on(async {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = router
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(300),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A coded error in the API's format, with a 4xx status (or 503: Redis is unreachable here).
fn assert_coded(status: u16, body: &Value, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        (400..500).contains(&status) || status == 503,
        "{what}: status {status} {body}"
    );
    prop_assert_eq!(&body["ok"], &Value::Bool(false), "{}: {}", what, body);
    prop_assert!(body["error"]["code"].is_string(), "{what}: {body}");
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bodies_to_every_command_get_a_coded_error(
        route in prop::sample::select(vec![
            "/api/seats/select", "/api/seats/book", "/api/seats/release", "/api/queue/join",
            "/internal/queue/main/presence", "/api/admin/reset",
        ]),
        body in prop::collection::vec(any::<u8>(), 0..300),
        json in any::<bool>(),
    ) {
        let content_type = json.then_some("application/json");
        let (status, answer) = call(Method::POST, route, content_type, body);
        assert_coded(status, &answer, route)?;
    }

    #[test]
    fn json_shaped_seat_requests_with_made_up_fields_get_a_coded_error(
        seat in ".{0,8}", token in "[A-Za-z0-9_.-]{0,60}", venue in proptest::option::of("[a-z]{0,6}"),
        extra in ".{0,10}",
    ) {
        let body = serde_json::json!({"seat_id": seat, "token": token, "venue": venue, "user_id": extra, "held_by": extra});
        let (status, answer) = call(Method::POST, "/api/seats/select", Some("application/json"), body.to_string().into_bytes());
        assert_coded(status, &answer, "select")?;
    }

    #[test]
    fn arbitrary_history_queries_get_an_answer_or_a_coded_error(query in "[ -~]{0,40}") {
        let uri = format!("/api/venues/main/events?{}", query.replace(['#', ' '], ""));
        let Ok(uri) = uri.parse::<axum::http::Uri>() else { return Ok(()) };
        let (status, answer) = call(Method::GET, &uri.to_string(), None, Vec::new());
        assert_coded(status, &answer, &uri.to_string())?;
    }

    #[test]
    fn arbitrary_paths_get_a_coded_error(path in "/[a-z/{}%0-9.]{0,40}") {
        let Ok(uri) = path.parse::<axum::http::Uri>() else { return Ok(()) };
        if uri.path() == "/health" || uri.path() == "/metrics" || uri.path() == "/api/session" {
            return Ok(());
        }
        let (status, answer) = call(Method::POST, &uri.to_string(), Some("application/json"), b"{}".to_vec());
        assert_coded(status, &answer, &uri.to_string())?;
    }
}
