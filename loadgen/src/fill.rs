//! Fills a venue before a measurement, as a sale in progress leaves it: a share of its seats
//! booked and a share held, spread over the whole venue, each by an identity of its own, from a
//! few keep-alive connections. Holds last `HOLD_SECONDS`: start the stack with a long one.

use anyhow::bail;
use serde::Serialize;
use serde_json::json;

use crate::driver::{available_seat_ids, signer};
use crate::http::{HttpConnection, Target};
use crate::sys::now_ns;

/// What a fill did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Filled {
    pub seats: usize,
    pub held: usize,
    pub booked: usize,
    /// Commands not answered 200 (the first few reasons go to stderr).
    pub failed: usize,
    pub seconds: f64,
}

/// What seat number `index` of a venue becomes: spread evenly (a stride coprime with 100, so
/// every hundred consecutive seats get the shares).
fn fate(index: usize, held_pct: usize, booked_pct: usize) -> Option<&'static str> {
    let slot = index * 37 % 100;
    if slot < booked_pct {
        Some("book")
    } else if slot < booked_pct + held_pct {
        Some("hold")
    } else {
        None
    }
}

/// Books `booked_pct` % and holds `held_pct` % of the venue's available seats.
pub async fn run(
    booking: &str,
    venue: &str,
    held_pct: usize,
    booked_pct: usize,
    connections: usize,
) -> anyhow::Result<Filled> {
    if held_pct + booked_pct > 100 {
        bail!("--held and --booked add up to more than 100 %");
    }
    let target = Target::parse(booking)?;
    let mut probe = HttpConnection::new(target.clone());
    let response = probe.get(&format!("/api/venues/{venue}")).await?;
    if response.status != 200 {
        bail!("GET /api/venues/{venue} answered {}", response.status);
    }
    let seats = available_seat_ids(&serde_json::from_slice(&response.body)?)?;
    let work: Vec<(String, &'static str)> = seats
        .iter()
        .enumerate()
        .filter_map(|(i, id)| fate(i, held_pct, booked_pct).map(|f| (id.clone(), f)))
        .collect();
    let started = now_ns();
    let connections = connections.max(1);
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let share: Vec<_> = work.iter().skip(c).step_by(connections).cloned().collect();
            let conn = HttpConnection::new(target.clone());
            tokio::spawn(fill_share(conn, venue.to_owned(), share))
        })
        .collect();
    let mut filled = Filled {
        seats: seats.len(),
        ..Filled::default()
    };
    for task in tasks {
        let part: Filled = task.await??;
        filled.held += part.held;
        filled.booked += part.booked;
        filled.failed += part.failed;
    }
    filled.seconds = (now_ns() - started) as f64 / 1e9;
    Ok(filled)
}

async fn fill_share(
    mut conn: HttpConnection,
    venue: String,
    share: Vec<(String, &'static str)>,
) -> anyhow::Result<Filled> {
    let mut filled = Filled::default();
    for (seat, fate) in share {
        let token = signer().issue();
        let body = json!({"seat_id": seat, "token": token.as_str(), "venue": venue}).to_string();
        let verbs: &[&str] = if fate == "book" {
            &["select", "book"]
        } else {
            &["select"]
        };
        let mut ok = true;
        for verb in verbs {
            let response = conn.post_json(&format!("/api/seats/{verb}"), &body).await?;
            if response.status != 200 {
                if filled.failed < 3 {
                    eprintln!(
                        "fill: {verb} {seat} answered {}: {}",
                        response.status,
                        String::from_utf8_lossy(&response.body)
                    );
                }
                ok = false;
                break;
            }
        }
        match (ok, fate) {
            (false, _) => filled.failed += 1,
            (true, "book") => filled.booked += 1,
            (true, _) => filled.held += 1,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::fate;

    #[test]
    fn every_hundred_seats_get_the_shares() {
        for start in [0, 100, 4_321] {
            let fates: Vec<_> = (start..start + 100).map(|i| fate(i, 5, 50)).collect();
            let count = |f| fates.iter().filter(|x| **x == Some(f)).count();
            assert_eq!((count("book"), count("hold")), (50, 5));
        }
    }
}
