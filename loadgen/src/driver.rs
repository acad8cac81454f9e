//! The change driver: makes seat changes through the booking API at a steady rate, one at a
//! time, and notes when each was sent. Being the venue's only writer (holds are released by the
//! driver itself, long before any could expire), the k-th successful change is numbered
//! `first_seq + k`; that is checked against the venue's seq at the end.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::json;

use crate::http::{HttpConnection, Target};
use crate::sys::now_ns;

/// Mints tokens the services accept, with the `TOKEN_SECRET` the stack was started with.
pub fn signer() -> &'static shared::TokenSigner {
    static SIGNER: std::sync::OnceLock<shared::TokenSigner> = std::sync::OnceLock::new();
    SIGNER.get_or_init(|| {
        shared::TokenSigner::from_setting(std::env::var("TOKEN_SECRET").ok().as_deref())
            .unwrap_or_else(|e| panic!("seatbench needs the stack's TOKEN_SECRET: {e}"))
    })
}

/// The seat ids of a snapshot, in order.
pub fn seat_ids(snapshot: &serde_json::Value) -> anyhow::Result<Vec<String>> {
    seat_ids_where(snapshot, |_| true)
}

/// The ids of a snapshot's available seats, in order.
pub fn available_seat_ids(snapshot: &serde_json::Value) -> anyhow::Result<Vec<String>> {
    seat_ids_where(snapshot, |seat| seat["status"] == 0)
}

fn seat_ids_where(
    snapshot: &serde_json::Value,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> anyhow::Result<Vec<String>> {
    snapshot["seats"]
        .as_array()
        .context("a snapshot without seats")?
        .iter()
        .filter(|seat| keep(seat))
        .map(|seat| {
            seat["id"]
                .as_str()
                .map(String::from)
                .context("a seat without id")
        })
        .collect()
}

/// What a run of changes produced.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// Seq of the first successful change.
    pub first_seq: u64,
    /// Send instant (CLOCK_MONOTONIC ns) of seq `first_seq + i`.
    pub sent_ns: Vec<u64>,
    pub failures: usize,
    pub seconds: f64,
}

impl Sent {
    pub fn last_seq(&self) -> u64 {
        self.first_seq + self.sent_ns.len() as u64 - 1
    }
}

/// Holds a window of seats: selects with a fresh identity until `window` seats are held, then
/// alternates releasing the oldest hold and selecting the next seat.
pub struct ChangeDriver {
    conn: HttpConnection,
    venue: String,
    /// The venue's seats, in seat order.
    seats: Vec<String>,
    next_seat: usize,
    held: VecDeque<(String, String)>,
    window: usize,
}

impl ChangeDriver {
    pub async fn new(booking: &str, venue: &str) -> anyhow::Result<ChangeDriver> {
        let mut driver = ChangeDriver {
            conn: HttpConnection::new(Target::parse(booking)?),
            venue: venue.to_owned(),
            seats: Vec::new(),
            next_seat: 0,
            held: VecDeque::new(),
            window: 50,
        };
        // Seats others hold or booked (a venue filled for the run) are left alone.
        driver.seats = available_seat_ids(&driver.snapshot().await?)?;
        if driver.seats.is_empty() {
            bail!("venue {venue} has no available seat to change");
        }
        driver.window = driver.window.min(driver.seats.len() / 2).max(1);
        Ok(driver)
    }

    async fn snapshot(&mut self) -> anyhow::Result<serde_json::Value> {
        let response = self
            .conn
            .get(&format!("/api/venues/{}", self.venue))
            .await?;
        if response.status != 200 {
            bail!(
                "GET /api/venues/{} answered {}",
                self.venue,
                response.status
            );
        }
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// The venue's current seq.
    pub async fn venue_seq(&mut self) -> anyhow::Result<u64> {
        self.snapshot().await?["seq"]
            .as_u64()
            .context("snapshot without seq")
    }

    /// One change; returns whether the API accepted it.
    async fn change(&mut self) -> anyhow::Result<bool> {
        let (verb, seat, token) = if self.held.len() >= self.window {
            let (seat, token) = self.held.pop_front().expect("window > 0");
            ("release", seat, token)
        } else {
            let seat = self.seats[self.next_seat % self.seats.len()].clone();
            self.next_seat += 1;
            ("select", seat, signer().issue().as_str().to_owned())
        };
        let body = json!({"seat_id": seat, "token": token, "venue": self.venue}).to_string();
        let response = self
            .conn
            .post_json(&format!("/api/seats/{verb}"), &body)
            .await?;
        let ok = response.status == 200;
        if ok && verb == "select" {
            self.held.push_back((seat, token));
        } else if !ok {
            eprintln!(
                "driver: {verb} {seat} answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
        }
        Ok(ok)
    }

    /// `changes` changes at `rate` a second (on a fixed schedule; late ones go at once).
    pub async fn run(&mut self, rate: f64, changes: usize) -> anyhow::Result<Sent> {
        let first_seq = self.venue_seq().await? + 1;
        let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let started = tokio::time::Instant::now();
        let started_ns = now_ns();
        let mut sent = Sent {
            first_seq,
            ..Sent::default()
        };
        for k in 0..changes {
            tokio::time::sleep_until(started + interval * k as u32).await;
            let at = now_ns();
            if self.change().await? {
                sent.sent_ns.push(at);
            } else {
                sent.failures += 1;
            }
        }
        sent.seconds = (now_ns() - started_ns) as f64 / 1e9;
        let seq = self.venue_seq().await?;
        if !sent.sent_ns.is_empty() && seq != sent.last_seq() {
            bail!(
                "venue {} is at seq {seq}, expected {}: another writer changed it during the run",
                self.venue,
                sent.last_seq()
            );
        }
        Ok(sent)
    }

    /// Releases every seat this driver holds (not measured).
    pub async fn release_all(&mut self) -> anyhow::Result<()> {
        while let Some((seat, token)) = self.held.pop_front() {
            let body = json!({"seat_id": seat, "token": token, "venue": self.venue}).to_string();
            self.conn.post_json("/api/seats/release", &body).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_ids_come_from_the_snapshot_in_order() {
        let snapshot =
            json!({"seats": [{"id": "FL1-A-1", "status": 0}, {"id": "CV100", "status": 2}]});
        assert_eq!(seat_ids(&snapshot).unwrap(), ["FL1-A-1", "CV100"]);
        assert!(seat_ids(&json!({"rows": 10})).is_err());
        assert_eq!(available_seat_ids(&snapshot).unwrap(), ["FL1-A-1"]);
    }
}
