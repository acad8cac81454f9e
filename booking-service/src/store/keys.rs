//! The venue's Redis keys, all under the venue's hash tag so one venue's scripts run on one
//! Redis Cluster slot, and the KEYS lists the scripts take.

/// The venue's Redis keys. All carry the venue as a hash tag (`{main}`) so they share a slot.
#[derive(Debug, Clone)]
pub struct VenueKeys {
    pub(super) venue: String,
    pub(super) lock_prefix: String,
    pub(super) state: String,
    pub(super) holds: String,
    pub(super) counts: String,
    pub(super) seq: String,
    pub(super) epoch: String,
    /// The outbox: a stream of events whose ids are their seqs.
    pub events: String,
    /// Which relay publishes this venue (a lease).
    pub relay_lease: String,
    /// The last seq NATS has taken.
    pub published: String,
    /// Every seat's lock key, declared by the reset script.
    pub(super) all_locks: Vec<String>,
    /// Events kept in the outbox (`EVENT_HISTORY`).
    pub(super) history: String,
    /// The waiting room's keys, in the order its scripts take them.
    pub(super) waiting_room: Vec<String>,
    pub(super) shoppers: String,
    pub(super) booked_at: String,
    /// The free-seat index best available searches, kept by every seat script.
    pub(super) free: String,
    pub(super) place: String,
    /// Best available's static picture of the venue, its search orders, and which layout
    /// they hold.
    pub(super) best_runs: String,
    pub(super) best_order: String,
    pub(super) best_index: String,
    /// Best available's rankings: per kind of request, the runs by their best block.
    pub(super) best_rank: String,
}

impl VenueKeys {
    /// The keys of venue `venue` whose seats for sale are `seats`.
    pub fn new<'a>(venue: &str, seats: impl Iterator<Item = &'a str>, history: u64) -> Self {
        let lock_prefix = format!("seat:{{{venue}}}:");
        VenueKeys {
            venue: venue.to_owned(),
            all_locks: seats.map(|id| format!("{lock_prefix}{id}")).collect(),
            lock_prefix,
            state: format!("state:{{{venue}}}"),
            holds: format!("holds:{{{venue}}}"),
            counts: format!("holdcount:{{{venue}}}"),
            seq: format!("seq:{{{venue}}}"),
            epoch: format!("epoch:{{{venue}}}"),
            events: format!("events:{{{venue}}}"),
            relay_lease: format!("relay:{{{venue}}}"),
            published: format!("published:{{{venue}}}"),
            history: history.to_string(),
            waiting_room: [
                "queue",
                "queue_seq",
                "queue_joined",
                "shoppers",
                "presence",
                "booked_at",
                "admissions",
                "holdcount",
                "queue_reports",
            ]
            .iter()
            .map(|name| format!("{name}:{{{venue}}}"))
            .collect(),
            shoppers: format!("shoppers:{{{venue}}}"),
            booked_at: format!("booked_at:{{{venue}}}"),
            free: format!("free:{{{venue}}}"),
            place: format!("place:{{{venue}}}"),
            best_runs: format!("bestruns:{{{venue}}}"),
            best_order: format!("bestorder:{{{venue}}}"),
            best_index: format!("bestindex:{{{venue}}}"),
            best_rank: format!("bestrank:{{{venue}}}"),
        }
    }

    /// KEYS of the per-seat scripts: lock, state, holds, counts, seq, epoch, events, shoppers,
    /// booked_at, free, place.
    pub(super) fn seat_keys(&self, seat: &str) -> Vec<String> {
        // The seat's lock, then the same venue keys the group script takes after its locks.
        let mut keys = Vec::with_capacity(11);
        keys.push(self.lock(seat));
        self.push_venue_keys(&mut keys);
        keys
    }

    /// A seat's lock.
    pub(super) fn lock(&self, seat: &str) -> String {
        format!("{}{seat}", self.lock_prefix)
    }

    /// KEYS of the group script before the seats' locks: state, holds, counts, seq, epoch,
    /// events, shoppers, booked_at, free, place.
    pub(super) fn group_keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(10);
        self.push_venue_keys(&mut keys);
        keys
    }

    /// KEYS of best available: the group script's, then bestruns, bestorder, bestindex,
    /// bestrank.
    pub(super) fn best_keys(&self) -> Vec<String> {
        let mut keys = self.group_keys();
        keys.extend([
            self.best_runs.clone(),
            self.best_order.clone(),
            self.best_index.clone(),
            self.best_rank.clone(),
        ]);
        keys
    }

    /// KEYS of the script that builds best available's index: state, free, place, bestruns,
    /// bestorder, bestindex, bestrank.
    pub(super) fn best_index_keys(&self) -> Vec<String> {
        [
            &self.state,
            &self.free,
            &self.place,
            &self.best_runs,
            &self.best_order,
            &self.best_index,
            &self.best_rank,
        ]
        .into_iter()
        .cloned()
        .collect()
    }

    /// state, holds, counts, seq, epoch, events, shoppers, booked_at, free, place: what every
    /// seat script takes after its locks.
    fn push_venue_keys(&self, keys: &mut Vec<String>) {
        keys.extend(
            [
                &self.state,
                &self.holds,
                &self.counts,
                &self.seq,
                &self.epoch,
                &self.events,
                &self.shoppers,
                &self.booked_at,
                &self.free,
                &self.place,
            ]
            .into_iter()
            .cloned(),
        );
    }

    /// KEYS of the relay's scripts: lease, published, epoch.
    pub(super) fn relay_keys(&self) -> Vec<String> {
        vec![
            self.relay_lease.clone(),
            self.published.clone(),
            self.epoch.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_venue_hash_tag() {
        let seats = shared::VenueSeats::grid(2, 2);
        let keys = VenueKeys::new("main", seats.ids(), 100);
        assert_eq!(keys.all_locks.len(), 4);
        for key in keys.all_locks.iter().chain(&keys.relay_keys()) {
            assert!(key.contains("{main}"), "{key}");
        }
        for key in keys.seat_keys("A1").iter().chain(&keys.best_keys()) {
            assert!(key.contains("{main}"), "{key}");
        }
    }
}
