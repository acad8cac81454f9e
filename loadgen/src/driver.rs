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

/// A seat id from a 0-based index in a venue `cols` wide (`A1`, `A2`, …).
pub fn seat_name(index: usize, cols: usize) -> String {
    format!(
        "{}{}",
        shared::seat::row_label((index / cols) as u16),
        index % cols + 1
    )
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
    cols: usize,
    seats: usize,
    next_seat: usize,
    held: VecDeque<(String, String)>,
    window: usize,
}

impl ChangeDriver {
    pub async fn new(booking: &str, venue: &str) -> anyhow::Result<ChangeDriver> {
        let mut driver = ChangeDriver {
            conn: HttpConnection::new(Target::parse(booking)?),
            venue: venue.to_owned(),
            cols: 1,
            seats: 1,
            next_seat: 0,
            held: VecDeque::new(),
            window: 50,
        };
        let snapshot = driver.snapshot().await?;
        let rows = snapshot["rows"].as_u64().context("snapshot rows")? as usize;
        driver.cols = snapshot["cols"].as_u64().context("snapshot cols")? as usize;
        driver.seats = rows * driver.cols;
        driver.window = driver.window.min(driver.seats / 2).max(1);
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
            let seat = seat_name(self.next_seat % self.seats, self.cols);
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
    fn seat_names() {
        assert_eq!(seat_name(0, 10), "A1");
        assert_eq!(seat_name(99, 10), "J10");
        assert_eq!(seat_name(384, 385), "A385");
        assert_eq!(seat_name(385, 385), "B1");
        assert_eq!(seat_name(9999, 100), "CV100");
    }
}
