//! The venues this edge serves: a hub per venue, opened on first use once the booking service
//! confirms the venue exists. A crowd asking at once for a venue not open yet waits for one
//! snapshot, not one each.

use std::sync::Arc;

use dashmap::DashMap;
use shared::ErrorCode;
use tokio::sync::{watch, OnceCell};

use crate::booking::{BookingClient, BookingError};
use crate::hub::{HubTiming, VenueHandle};
use crate::metrics::Metrics;
use crate::nats_link::NatsLink;

/// One opening of a venue, shared by everyone who asked for it meanwhile.
type Opening = Arc<OnceCell<Result<VenueHandle, BookingError>>>;

pub struct Venues {
    hubs: DashMap<String, VenueHandle>,
    /// Venues being opened: the first caller fetches, the others wait for its outcome. An entry
    /// lives only while its fetch runs, so names that turn out unknown leave nothing behind.
    opening: DashMap<String, Opening>,
    booking: BookingClient,
    metrics: Metrics,
    timing: HubTiming,
    /// Whether the edge hears NATS: every hub watches it.
    nats: watch::Receiver<NatsLink>,
}

impl Venues {
    pub fn new(
        booking: BookingClient,
        metrics: Metrics,
        timing: HubTiming,
        nats: watch::Receiver<NatsLink>,
    ) -> Self {
        Venues {
            hubs: DashMap::new(),
            opening: DashMap::new(),
            booking,
            metrics,
            timing,
            nats,
        }
    }

    /// Opens a venue's hub without checking it exists (the default venue, at startup: the
    /// booking service may not be up yet; the hub fetches its snapshot when it is).
    pub fn open_unchecked(&self, name: &str) -> VenueHandle {
        self.hubs
            .entry(name.to_owned())
            .or_insert_with(|| {
                VenueHandle::spawn(
                    name,
                    None,
                    self.booking.clone(),
                    self.metrics.clone(),
                    self.timing,
                    self.nats.clone(),
                )
            })
            .clone()
    }

    /// The hub of an existing venue, opening it if needed.
    pub async fn open(&self, name: &str) -> Result<VenueHandle, BookingError> {
        if let Some(handle) = self.hubs.get(name) {
            return Ok(handle.clone());
        }
        if !shared::seat::is_valid_venue_name(name) {
            return Err(unknown_venue(name));
        }
        // The maps' shard locks are held only inside each call, never across an await.
        let opening = self.opening.entry(name.to_owned()).or_default().clone();
        let outcome = opening
            .get_or_init(|| self.fetch_and_open(name))
            .await
            .clone();
        self.opening
            .remove_if(name, |_, o| Arc::ptr_eq(o, &opening));
        outcome
    }

    /// Asks the booking service for the venue and starts its hub with the snapshot.
    async fn fetch_and_open(&self, name: &str) -> Result<VenueHandle, BookingError> {
        if let Some(handle) = self.hubs.get(name) {
            return Ok(handle.clone()); // opened while this caller waited for its turn
        }
        let snapshot = self
            .booking
            .snapshot(name)
            .await?
            .ok_or_else(|| unknown_venue(name))?;
        let handle = self
            .hubs
            .entry(name.to_owned())
            .or_insert_with(|| {
                VenueHandle::spawn(
                    name,
                    Some(snapshot),
                    self.booking.clone(),
                    self.metrics.clone(),
                    self.timing,
                    self.nats.clone(),
                )
            })
            .clone();
        Ok(handle)
    }

    pub fn get(&self, name: &str) -> Option<VenueHandle> {
        self.hubs.get(name).map(|h| h.clone())
    }

    pub fn all(&self) -> Vec<VenueHandle> {
        self.hubs.iter().map(|h| h.clone()).collect()
    }
}

fn unknown_venue(name: &str) -> BookingError {
    let shown: String = name.chars().take(40).collect();
    BookingError {
        code: ErrorCode::UnknownVenue,
        message: format!("there is no venue '{shown}'"),
        seat_ids: None,
    }
}
