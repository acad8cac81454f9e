//! The booking service: owns all seat state in Redis, holds seats with 30-second locks, turns
//! holds into bookings, announces expiries, and publishes every change to NATS through a
//! transactional outbox (each change's event is written with the change; the relay publishes).

pub mod best;
pub mod best_layout;
pub mod config;
pub mod error;
pub mod expiry;
pub mod extract;
pub mod groups;
pub mod metrics;
pub mod openapi;
pub mod publisher;
pub mod relay;
pub mod request_id;
pub mod routes;
pub mod runs;
pub mod scrape;
pub mod seat_error;
pub mod seats;
pub mod store;
pub mod venue_reads;
pub mod venues;
pub mod waiting_room;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;

/// A connection that sends no request head for this long (a slow or silent client) is closed.
/// Above NGINX's upstream `keepalive_timeout` and the edges' pool idle timeout (60 s each), so
/// the service never closes a connection they are about to reuse.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(75);

/// Serves the API on `listener` until `shutdown` resolves, then stops the expiry watcher,
/// flushes NATS and closes Redis.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = metrics::Metrics::new();
    let store = store::SeatStore::connect(
        store::RedisSettings {
            url: config.redis_url.clone(),
            pool_size: config.redis_pool,
            wait_replicas: config.redis_wait_replicas,
            wait_timeout: config.redis_wait_timeout,
        },
        waiting_room::settings(config.max_shoppers, config.shopping),
        metrics.clone(),
    )?;
    let publisher = publisher::EventPublisher::connect(config.nats_servers.clone()).await?;
    let service = Arc::new(seats::SeatService::new(
        store,
        publisher,
        metrics,
        &config.venues,
        config.hold_seconds,
        config.max_holds_per_user,
        config.event_history,
    ));
    let state = Arc::new(
        routes::AppState::new(
            service.clone(),
            config.admin_token.clone(),
            config.token_signer.clone(),
            config.user_rate_limit,
        )
        .with_internal_token(config.internal_token.clone()),
    );

    let (stop, stopped) = watch::channel(false);
    let expiry = tokio::spawn(expiry::watch_hold_expiry(
        service.clone(),
        config.expiry_interval,
        stopped.clone(),
    ));
    let relays = tokio::spawn(relay::run_relays(
        service.clone(),
        config.service_id.clone(),
        stopped.clone(),
    ));
    let queue_clock = tokio::spawn(waiting_room::run_clock(service.clone(), stopped.clone()));
    let limiter_cleanup = tokio::spawn(forget_idle_users(state.clone(), stopped));

    tracing::info!(
        addr = %listener.local_addr()?,
        venues = ?config.venues.iter().map(|v| v.summary()).collect::<Vec<_>>(),
        service_id = %config.service_id,
        event_history = config.event_history,
        redis_pool = config.redis_pool,
        redis_wait_replicas = config.redis_wait_replicas,
        max_shoppers = config.max_shoppers,
        shopping_seconds = config.shopping.as_secs(),
        hold_seconds = config.hold_seconds,
        max_holds_per_user = config.max_holds_per_user,
        admin_reset = config.admin_token.is_some(),
        "booking service listening"
    );
    let options = service_runner::http::HttpOptions {
        header_read_timeout: IDLE_CONNECTION_TIMEOUT,
        send_buffer: None,
        drain: HTTP_DRAIN_ON_STOP,
    };
    // The background work stops as soon as the stop is asked for, while requests in flight
    // finish (service_runner gives them a few seconds).
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests, stopping hold expiry and the relay");
        let _ = stop.send(true);
    };
    let began =
        service_runner::http::serve(listener, None, routes::app(state), options, graceful).await;
    let deadline = service_runner::stop::StopDeadline::from(began);

    // Each task stops at its next step; one waiting on a Redis or NATS that does not answer is
    // not waited for past the bound (what it was doing is in Redis: the outbox and the expiry
    // index are read again by whichever service runs next).
    let background = [expiry, relays, queue_clock, limiter_cleanup];
    let aborts: Vec<_> = background.iter().map(|task| task.abort_handle()).collect();
    let all_stopped = async {
        for task in background {
            let _ = task.await;
        }
    };
    if deadline.run(GOODBYE, all_stopped).await.is_none() {
        tracing::warn!(
            "background work did not stop in time (Redis or NATS silent); stopping without it"
        );
        aborts.iter().for_each(|task| task.abort());
    }
    if deadline
        .run(Duration::ZERO, service.store.quit())
        .await
        .is_none()
    {
        tracing::warn!("Redis did not answer QUIT; stopping without it");
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long requests in flight may take to finish once the stop is asked for (a seat command
/// waiting on a silent Redis is answered 503 within about this long anyway). Hold expiry, the
/// relay and the waiting-room clock stop meanwhile; what is left of the stop's deadline after
/// them, at least `GOODBYE`, is Redis's to answer QUIT.
const HTTP_DRAIN_ON_STOP: Duration = Duration::from_secs(3);
/// Kept of the stop's deadline for Redis's QUIT.
const GOODBYE: Duration = Duration::from_millis(500);

/// The per-user rate limiter remembers every user it has seen; drop the idle ones now and then.
async fn forget_idle_users(state: Arc<routes::AppState>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => state.user_limiter.retain_recent(),
            _ = stopped.changed() => break,
        }
    }
}
