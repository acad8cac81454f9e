//! The waiting room as an edge sees it. Each venue hub reports, every 500 ms, the authority keys
//! of the identities watching the venue on this edge (each once, in the order they joined) with
//! `join: true` (`POST /internal/queue/{venue}/presence`); that keeps their places and passes,
//! queues newcomers and admits, all in Redis. Each client then gets its standing: `QUEUE` when it
//! joins and when its position changes (at most once a second), `ADMITTED` once per pass. A
//! client that joins, or takes on another identity, is reported at once rather than at the next
//! tick. With the room off, clients get nothing and the hub only asks every 5 s whether it has
//! been turned on. The edge counts nothing itself: admission is Redis's alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::api::WaitingRoomStanding;
use shared::ws::{Admission, QueuePlace, ServerMessage};

use crate::booking::{BookingClient, WaitingRoomStandings};

/// How often the identities watching a venue are reported while the room is on (or not yet
/// known to be off).
pub const REPORT_EVERY: Duration = Duration::from_millis(500);
/// How often a hub asks whether the room has been turned on, while it is off.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);
/// A client hears of a new position at most this often.
pub const QUEUE_MIN_GAP: Duration = Duration::from_secs(1);
/// Owners per request: the booking service reads bodies of up to 16 KiB, and an owner takes
/// 67 bytes of JSON.
pub const OWNERS_PER_REQUEST: usize = 200;

/// Which identities a report carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Every identity watching the venue (the periodic report).
    All,
    /// Only those not answered for yet: clients that just joined or changed identity.
    Newcomers,
    /// None: is the room on? (while it is off)
    Probe,
}

/// What a hub knows of its venue's waiting room, and when it reports next. One report is in
/// flight at a time, so answers arrive in the order they were asked and never go back in time.
#[derive(Debug)]
pub struct VenueWaitingRoom {
    /// From the last answer; `None` before the first.
    enabled: Option<bool>,
    in_flight: bool,
    next_report: Instant,
    /// Clients are waiting for their first standing.
    newcomers: bool,
}

impl VenueWaitingRoom {
    pub fn new(now: Instant) -> Self {
        VenueWaitingRoom {
            enabled: None,
            in_flight: false,
            next_report: now,
            newcomers: false,
        }
    }

    /// Whether the last answer said the room is on.
    pub fn is_on(&self) -> bool {
        self.enabled == Some(true)
    }

    /// A client joined or took on another identity: report it as soon as possible, unless the
    /// room is known to be off.
    pub fn newcomer(&mut self) {
        if self.enabled != Some(false) {
            self.newcomers = true;
        }
    }

    /// The report to send now, if any; it is then in flight until `answered`.
    pub fn due(&mut self, now: Instant) -> Option<Report> {
        if self.in_flight {
            return None;
        }
        let report = if now >= self.next_report {
            self.newcomers = false;
            if self.enabled == Some(false) {
                self.next_report = now + PROBE_EVERY;
                Report::Probe
            } else {
                self.next_report = now + REPORT_EVERY;
                Report::All
            }
        } else if self.newcomers {
            self.newcomers = false;
            Report::Newcomers
        } else {
            return None;
        };
        self.in_flight = true;
        Some(report)
    }

    /// The report in flight came back.
    pub fn answered(&mut self, outcome: &Outcome, now: Instant) {
        self.in_flight = false;
        match outcome {
            Outcome::Off => {
                if self.enabled != Some(false) {
                    tracing::debug!("waiting room off");
                    self.next_report = now + PROBE_EVERY;
                }
                self.enabled = Some(false);
                self.newcomers = false;
            }
            Outcome::On(_) => {
                if self.enabled == Some(false) {
                    // It was off (this was a probe): report everyone at once.
                    self.next_report = self.next_report.min(now);
                }
                if self.enabled != Some(true) {
                    tracing::info!("waiting room on: reporting who watches every 500 ms");
                }
                self.enabled = Some(true);
            }
            Outcome::Failed => {}
        }
    }
}

/// The answer to a report: each reported owner's standing.
#[derive(Debug)]
pub enum Outcome {
    Off,
    On(HashMap<Arc<str>, WaitingRoomStanding>),
    /// Nothing came back (booking service unreachable): try again at the next tick.
    Failed,
}

/// Reports `owners` (none: a probe) in requests of `OWNERS_PER_REQUEST`, one after another so
/// that newcomers join the queue in the order given.
pub async fn report(booking: &BookingClient, venue: &str, owners: &[Arc<str>]) -> Outcome {
    let mut standings = HashMap::with_capacity(owners.len());
    if owners.is_empty() {
        return match booking.presence(venue, &[], true).await {
            Ok(WaitingRoomStandings::Off) => Outcome::Off,
            Ok(WaitingRoomStandings::On(_)) => Outcome::On(standings),
            Err(_) => Outcome::Failed,
        };
    }
    for chunk in owners.chunks(OWNERS_PER_REQUEST) {
        let keys: Vec<&str> = chunk.iter().map(|o| &**o).collect();
        match booking.presence(venue, &keys, true).await {
            Ok(WaitingRoomStandings::Off) => return Outcome::Off,
            Ok(WaitingRoomStandings::On(list)) => standings.extend(chunk.iter().cloned().zip(list)),
            // What came back so far is good; the rest waits for the next report.
            Err(_) if standings.is_empty() => return Outcome::Failed,
            Err(_) => break,
        }
    }
    Outcome::On(standings)
}

/// What one client was last told of its standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    Queue { position: u64, at: Instant },
    Admitted { until_ms: u64 },
}

/// One client's side of the waiting room: whether a report has answered for its identity yet,
/// and what it was told last.
#[derive(Debug, Default)]
pub struct ClientStanding {
    told: Option<Told>,
    answered: bool,
}

impl ClientStanding {
    /// Whether a report has answered for this client's identity since it joined.
    pub fn answered(&self) -> bool {
        self.answered
    }

    /// The message this client should get for `standing`, if any: `ADMITTED` for a pass it has
    /// not heard of; `QUEUE` on joining the queue, and on a new position once a second at most
    /// (a change within the second waits for a later report).
    pub fn next(&mut self, standing: &WaitingRoomStanding, now: Instant) -> Option<ServerMessage> {
        self.answered = true;
        match standing {
            WaitingRoomStanding::Admitted { venue, until_ms } => {
                let told = Told::Admitted {
                    until_ms: *until_ms,
                };
                if self.told == Some(told) {
                    return None;
                }
                self.told = Some(told);
                Some(ServerMessage::Admitted(Admission {
                    venue: venue.clone(),
                    until_ms: *until_ms,
                }))
            }
            WaitingRoomStanding::Waiting {
                venue,
                position,
                size,
                estimated_wait_s,
            } => {
                if let Some(Told::Queue { position: p, at }) = self.told {
                    if p == *position || now.duration_since(at) < QUEUE_MIN_GAP {
                        return None;
                    }
                }
                self.told = Some(Told::Queue {
                    position: *position,
                    at: now,
                });
                Some(ServerMessage::Queue(QueuePlace {
                    venue: venue.clone(),
                    position: *position,
                    size: *size,
                    estimated_wait_s: *estimated_wait_s,
                }))
            }
            WaitingRoomStanding::Open { .. } | WaitingRoomStanding::Outside { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(position: u64) -> WaitingRoomStanding {
        WaitingRoomStanding::Waiting {
            venue: "main".into(),
            position,
            size: 10,
            estimated_wait_s: 30,
        }
    }

    fn admitted(until_ms: u64) -> WaitingRoomStanding {
        WaitingRoomStanding::Admitted {
            venue: "main".into(),
            until_ms,
        }
    }

    fn kind(message: Option<ServerMessage>) -> &'static str {
        match message {
            Some(ServerMessage::Queue(_)) => "QUEUE",
            Some(ServerMessage::Admitted(_)) => "ADMITTED",
            Some(_) => "other",
            None => "-",
        }
    }

    #[test]
    fn a_client_hears_of_its_place_on_joining_of_moves_once_a_second_and_of_each_pass() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = ClientStanding::default();
        assert!(!s.answered());
        assert_eq!(kind(s.next(&waiting(5), ms(0))), "QUEUE");
        assert!(s.answered());
        assert_eq!(kind(s.next(&waiting(5), ms(500))), "-", "no change");
        assert_eq!(kind(s.next(&waiting(4), ms(600))), "-", "within a second");
        assert_eq!(kind(s.next(&waiting(3), ms(1000))), "QUEUE");
        assert_eq!(kind(s.next(&admitted(9), ms(1100))), "ADMITTED", "at once");
        assert_eq!(kind(s.next(&admitted(9), ms(1600))), "-", "once per pass");
        // The pass ended and the identity is back in the queue, then admitted again.
        assert_eq!(kind(s.next(&waiting(40), ms(1700))), "QUEUE", "at once");
        assert_eq!(kind(s.next(&admitted(20), ms(1800))), "ADMITTED");
        let open = WaitingRoomStanding::Open {
            venue: "main".into(),
        };
        assert_eq!(kind(s.next(&open, ms(1900))), "-");
    }

    #[test]
    fn one_report_at_a_time_newcomers_at_once_and_a_slow_probe_while_off() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut waiting_room = VenueWaitingRoom::new(t0);
        assert_eq!(waiting_room.due(ms(0)), Some(Report::All));
        waiting_room.newcomer();
        assert_eq!(waiting_room.due(ms(10)), None, "one in flight at a time");
        waiting_room.answered(&Outcome::On(HashMap::new()), ms(20));
        assert!(waiting_room.is_on());
        assert_eq!(waiting_room.due(ms(20)), Some(Report::Newcomers));
        waiting_room.answered(&Outcome::Failed, ms(30));
        assert_eq!(waiting_room.due(ms(100)), None);
        assert_eq!(waiting_room.due(ms(500)), Some(Report::All));
        waiting_room.answered(&Outcome::Off, ms(510));
        waiting_room.newcomer();
        assert_eq!(
            waiting_room.due(ms(1000)),
            None,
            "off: newcomers need no report"
        );
        assert_eq!(waiting_room.due(ms(5510)), Some(Report::Probe));
        waiting_room.answered(&Outcome::On(HashMap::new()), ms(5520));
        assert_eq!(
            waiting_room.due(ms(5520)),
            Some(Report::All),
            "turned on: everyone at once"
        );
    }
}
