//! The edge server: holds WebSocket clients, mirrors every venue from NATS, fans each change out
//! to its clients in seq order, and forwards their commands to the booking service.

pub mod booking;
pub mod config;
pub mod connection;
pub mod http;
pub mod hub;
pub mod listen;
pub mod memory;
pub mod metrics;
pub mod mirror;
pub mod nats_link;
pub mod origin;
pub mod recent;
pub mod request_id;
pub mod stream;
pub mod upstream;
pub mod venues;
pub mod waiting_room;
pub mod wire;

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use shared::SeatEvent;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
pub use http::app;

/// Kernel send buffer per client socket. Loopback and LAN autotuning would otherwise let a
/// client that stopped reading pin megabytes; this keeps it to tens of KiB and lets its
/// queue fill (and the client be resynchronised) soon after it stalls.
const CLIENT_SEND_BUFFER: usize = 32 * 1024;

/// A client's HTTP request head must arrive within this.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection shares.
pub struct Edge {
    pub config: Config,
    pub booking: booking::BookingClient,
    pub venues: venues::Venues,
    pub metrics: metrics::Metrics,
    pub nats: async_nats::Client,
    /// Learned from the booking service's snapshots; sent in WELCOME.
    pub hold_seconds: AtomicU64,
    /// Learned the same way; sent in WELCOME (`MAX_HOLDS_PER_USER`, 4 until learned).
    pub max_holds_per_user: AtomicU32,
    pub shutdown: watch::Receiver<bool>,
    next_client: AtomicU64,
}

impl Edge {
    pub fn next_client_id(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed)
    }
}

/// The longest a stopping edge waits for HTTP requests in flight (`/health`, `/metrics` and
/// upgrades answer at once; this is for a client sending its request slowly).
const HTTP_DRAIN_ON_STOP: Duration = Duration::from_secs(1);
/// Kept of the stop's deadline for the last NATS flush when waiting for the sockets' close
/// frames (each socket gives its client `connection::CLOSE_GRACE` twice at most).
const NATS_FLUSH_ON_STOP: Duration = Duration::from_millis(500);

/// Serves WebSocket clients on `listener` until `shutdown` resolves; then every client gets a
/// close frame 1001 (going away) so it reconnects to another edge.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = metrics::Metrics::new();
    let booking =
        booking::BookingClient::new(&config.booking_urls, config.internal_token.as_deref())?;
    let timing = hub::HubTiming {
        client_queue: config.client_queue,
        reorder_window: config.reorder_window,
        seq_check_interval: config.seq_check_interval,
    };
    let (link, link_changes) = watch::channel(nats_link::NatsLink::Starting);
    let venues = venues::Venues::new(booking.clone(), metrics.clone(), timing, link_changes);

    let (nats, nats_events) = nats_link::connect(&config).await?;

    let (stop, stopped) = watch::channel(false);
    let edge = Arc::new(Edge {
        booking,
        venues,
        metrics,
        nats: nats.clone(),
        hold_seconds: AtomicU64::new(30),
        max_holds_per_user: AtomicU32::new(4),
        shutdown: stopped,
        next_client: AtomicU64::new(1),
        config,
    });
    edge.venues.open_unchecked(&edge.config.default_venue);
    let subscription = nats.subscribe(shared::event::SUBJECT_ALL).await?;
    tokio::spawn(dispatch_events(subscription, edge.clone()));
    tokio::spawn(nats_link::follow_connection(
        nats_events,
        link,
        edge.clone(),
    ));
    tokio::spawn(learn_hold_seconds(edge.clone()));
    tokio::spawn(memory::give_back_after_crowds(edge.metrics.clone()));

    tracing::info!(
        addr = %tokio::net::TcpListener::local_addr(&listener)?,
        edge_id = %edge.config.edge_id,
        booking = %edge.config.booking_urls.join(","),
        nats = %shared::settings::describe_nats_servers(&edge.config.nats_servers),
        "edge server listening"
    );
    let unix = match &edge.config.unix_socket {
        Some(path) => Some(listen::bind_unix(path)?),
        None => None,
    };
    let unix_file = unix.as_ref().and_then(|(_, file)| *file);
    let unix = unix.map(|(listener, _)| listener);
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down: closing every WebSocket with 1001 (going away)");
        let _ = stop.send(true);
    };
    let options = service_runner::http::HttpOptions {
        header_read_timeout: HEADER_READ_TIMEOUT,
        send_buffer: Some(CLIENT_SEND_BUFFER),
        drain: HTTP_DRAIN_ON_STOP,
    };
    let began =
        service_runner::http::serve(listener, unix, app(edge.clone()), options, graceful).await;
    let deadline = service_runner::stop::StopDeadline::from(began);
    if let Some(path) = &edge.config.unix_socket {
        // Only if the file is still the one this edge bound, not a successor's.
        if unix_file.is_some() && listen::socket_file_id(path) == unix_file {
            let _ = std::fs::remove_file(path);
        }
    }
    // Upgraded sockets outlive `serve`; give their writers time to send the close frames.
    let sockets_closed = async {
        while edge.metrics.connections.get() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if deadline
        .run(NATS_FLUSH_ON_STOP, sockets_closed)
        .await
        .is_none()
    {
        tracing::warn!(
            open = edge.metrics.connections.get(),
            "some sockets did not finish closing in time; stopping without them"
        );
    }
    // A flush on a lost connection would wait for a reconnection that may never come (so none
    // is tried); on a silent one it waits until the deadline at most.
    let connected = edge.nats.connection_state() == async_nats::connection::State::Connected;
    if connected
        && deadline
            .run(Duration::ZERO, edge.nats.flush())
            .await
            .is_none()
    {
        tracing::warn!("NATS did not answer the last flush; stopping without it");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Routes every event from NATS to its venue's hub.
async fn dispatch_events(mut subscription: async_nats::Subscriber, edge: Arc<Edge>) {
    while let Some(message) = subscription.next().await {
        let event: SeatEvent = match serde_json::from_slice(&message.payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(subject = %message.subject, %error, "ignoring an unparsable event");
                continue;
            }
        };
        if let Some(venue) = edge.venues.get(&event.venue) {
            venue.event(event).await;
        }
    }
    tracing::warn!("NATS subscription ended");
}

/// WELCOME carries the hold length and the most seats one may hold; learn them from the booking
/// service (retrying until it answers).
async fn learn_hold_seconds(edge: Arc<Edge>) {
    loop {
        if let Ok(Some(snapshot)) = edge.booking.snapshot(&edge.config.default_venue).await {
            edge.hold_seconds
                .store(snapshot.hold_seconds, Ordering::Relaxed);
            if snapshot.max_holds_per_user > 0 {
                edge.max_holds_per_user
                    .store(snapshot.max_holds_per_user, Ordering::Relaxed);
            }
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
