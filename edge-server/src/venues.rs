//! The venues this edge serves: a hub per venue, opened on first use once the booking service
//! confirms the venue exists.

use dashmap::DashMap;
use shared::ErrorCode;

use crate::booking::{BookingClient, BookingError};
use crate::hub::{HubTiming, VenueHandle};
use crate::metrics::Metrics;

pub struct Venues {
    hubs: DashMap<String, VenueHandle>,
    booking: BookingClient,
    metrics: Metrics,
    timing: HubTiming,
}

impl Venues {
    pub fn new(booking: BookingClient, metrics: Metrics, timing: HubTiming) -> Self {
        Venues {
            hubs: DashMap::new(),
            booking,
            metrics,
            timing,
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
        let snapshot = self
            .booking
            .snapshot(name)
            .await?
            .ok_or_else(|| unknown_venue(name))?;
        // The map's shard lock is held only inside this call, never across an await.
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
    }
}
