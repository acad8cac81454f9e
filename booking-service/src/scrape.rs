//! What `/metrics` reads fresh at each scrape: every venue's seats counted by status from one
//! Redis snapshot (`booking_seats`, what the low-stock alert reads), and whether Redis and NATS
//! answer (`booking_dependency_up`, what the part-down alert reads for them). Every venue's
//! waiting-room series are shown too, at 0 while the room is off.

use std::time::Duration;

use shared::SeatStatus;

use crate::seats::SeatService;

/// A scrape must not wait long on a slow Redis: the counts keep their last values instead.
const COUNT_TIMEOUT: Duration = Duration::from_secs(1);

/// Refreshes every gauge a scrape reads fresh.
pub async fn refresh(service: &SeatService) {
    for venue in service.venues() {
        service.metrics.show_waiting_room(&venue.name);
    }
    let redis = service.store.ping().await;
    service.metrics.set_dependency_up("redis", redis);
    service
        .metrics
        .set_dependency_up("nats", service.publisher.is_connected());
    if redis {
        count_seats(service).await;
    }
}

/// Counts every venue's seats by status and sets the gauges. A venue whose snapshot fails or
/// takes longer than `COUNT_TIMEOUT` keeps its last counts (Redis trouble shows in `/health`).
async fn count_seats(service: &SeatService) {
    for venue in service.venues() {
        let snapshot = tokio::time::timeout(
            COUNT_TIMEOUT,
            service.store.snapshot(&venue.keys, &venue.seats),
        )
        .await;
        let seats = match snapshot {
            Ok(Ok((_, _, seats))) => seats,
            Ok(Err(_)) | Err(_) => {
                tracing::debug!(venue = %venue.name, "seat counts for /metrics not read");
                continue;
            }
        };
        let (mut available, mut held, mut booked) = (0, 0, 0);
        for seat in &seats {
            match seat.status {
                SeatStatus::Available => available += 1,
                SeatStatus::Held => held += 1,
                SeatStatus::Booked => booked += 1,
            }
        }
        service
            .metrics
            .set_seats(&venue.name, available, held, booked);
    }
}
