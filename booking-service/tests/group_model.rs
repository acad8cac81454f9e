//! Random sequences of one-seat and group commands from three users on a 2 x 5 grid, against a
//! model of the contract: every answer (code and the seats named), the final state and the
//! kept events must be the model's. Run with the single-seat rule off and on; against real
//! redis-server and nats-server.

use std::collections::HashMap;

use serde_json::{json, Value};
use shared::api::EventsPage;
use shared::EventKind;

mod support;
use support::Stack;

const ROWS: [char; 2] = ['A', 'B'];
const COLS: usize = 5;
const MAX_HOLDS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Free,
    Held(usize),
    Booked(usize),
}

/// What the contract says happens: the code ("OK" or an error), the seats an error names, and
/// the events of a success.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    code: String,
    named: Vec<String>,
    events: Vec<(String, EventKind, usize)>,
}

struct Model {
    seats: HashMap<String, Slot>,
    rule: bool,
}

impl Model {
    fn held_by(&self, user: usize) -> usize {
        self.seats
            .values()
            .filter(|s| **s == Slot::Held(user))
            .count()
    }

    /// The single-seat rule: per row, the free seats the select would leave alone in a free
    /// stretch it places seats in, unless the stretch is one longer than the seats placed.
    fn stranded(&self, asked: &[String]) -> Vec<String> {
        let mut stranded = Vec::new();
        for row in ROWS {
            let ids: Vec<String> = (1..=COLS).map(|c| format!("{row}{c}")).collect();
            let free: Vec<bool> = ids
                .iter()
                .map(|id| asked.contains(id) || self.seats[id] == Slot::Free)
                .collect();
            let mut start = 0;
            while start < ids.len() {
                if !free[start] {
                    start += 1;
                    continue;
                }
                let end = (start..ids.len()).take_while(|i| free[*i]).last().unwrap();
                let stretch = &ids[start..=end];
                let placed = stretch.iter().filter(|id| asked.contains(id)).count();
                if placed > 0 && stretch.len() - placed != 1 {
                    for (i, id) in stretch.iter().enumerate() {
                        let taken = |j: Option<usize>| {
                            j.and_then(|j| stretch.get(j))
                                .is_none_or(|n| asked.contains(n))
                        };
                        if !asked.contains(id) && taken(i.checked_sub(1)) && taken(Some(i + 1)) {
                            stranded.push(id.clone());
                        }
                    }
                }
                start = end + 1;
            }
        }
        stranded
    }

    fn refuse(code: &str, named: Vec<String>) -> Outcome {
        Outcome {
            code: code.into(),
            named,
            events: Vec::new(),
        }
    }

    /// Applies a command to the model; `one`: sent with `seat_id` rather than `seat_ids`.
    fn apply(&mut self, user: usize, verb: &str, seats: &[String], one: bool) -> Outcome {
        let slot = |s: &String| self.seats[s];
        let booked: Vec<String> = seats
            .iter()
            .filter(|s| matches!(slot(s), Slot::Booked(_)))
            .cloned()
            .collect();
        let named = |v: Vec<String>| if one { Vec::new() } else { v };
        if verb == "select" {
            let in_the_way: Vec<String> = seats
                .iter()
                .filter(|s| {
                    matches!(slot(s), Slot::Booked(_))
                        || matches!(slot(s), Slot::Held(u) if u != user)
                })
                .cloned()
                .collect();
            if !in_the_way.is_empty() {
                let code = if booked.is_empty() {
                    "SEAT_UNAVAILABLE"
                } else {
                    "SEAT_BOOKED"
                };
                return Self::refuse(code, named(in_the_way));
            }
            let new: Vec<String> = seats
                .iter()
                .filter(|s| slot(s) == Slot::Free)
                .cloned()
                .collect();
            if self.rule && !new.is_empty() {
                let stranded = self.stranded(&new);
                if !stranded.is_empty() {
                    return Self::refuse("SINGLE_SEAT_GAP", stranded);
                }
            }
            if self.held_by(user) + new.len() > MAX_HOLDS {
                return Self::refuse("MAX_HOLDS_EXCEEDED", named(new));
            }
            let mut events = Vec::new();
            for seat in new {
                self.seats.insert(seat.clone(), Slot::Held(user));
                events.push((seat, EventKind::Held, user));
            }
            return Outcome {
                code: "OK".into(),
                named: Vec::new(),
                events,
            };
        }
        let not_mine: Vec<String> = seats
            .iter()
            .filter(|s| slot(s) != Slot::Held(user))
            .cloned()
            .collect();
        if !not_mine.is_empty() {
            let code = if booked.is_empty() {
                "NOT_HOLDER"
            } else {
                "SEAT_BOOKED"
            };
            return Self::refuse(code, named(not_mine));
        }
        let (next, kind) = match verb {
            "book" => (Slot::Booked(user), EventKind::Booked),
            _ => (Slot::Free, EventKind::Released),
        };
        let mut events = Vec::new();
        for seat in seats {
            self.seats.insert(seat.clone(), next);
            events.push((seat.clone(), kind, user));
        }
        Outcome {
            code: "OK".into(),
            named: Vec::new(),
            events,
        }
    }
}

async fn run_against_model(rule: bool, seed: u64) {
    // One user sends many commands in a row here; the per-user limit is not what is tested.
    let rule_setting = if rule { "1" } else { "0" };
    let stack = Stack::start(&[
        ("SINGLE_SEAT_RULE", rule_setting),
        ("USER_RATE_LIMIT", "100000"),
        ("VENUES", "main:2x5"),
    ])
    .await;
    let ids: Vec<String> = ROWS
        .iter()
        .flat_map(|r| (1..=COLS).map(move |c| format!("{r}{c}")))
        .collect();
    let tokens: Vec<String> = (0..3).map(|_| testkit::token()).collect();
    let signer = shared::TokenSigner::new(testkit::token_secret()).unwrap();
    let user_ids: Vec<String> = tokens
        .iter()
        .map(|t| signer.verify(t).unwrap().user_id())
        .collect();
    let mut model = Model {
        seats: ids.iter().map(|id| (id.clone(), Slot::Free)).collect(),
        rule,
    };
    let mut state = seed;
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    let mut expected_events = Vec::new();
    for step in 0..300 {
        let user = next(3);
        let verb = ["select", "select", "book", "release"][next(4)];
        let size = 1 + next(3);
        let mut seats: Vec<String> = Vec::new();
        while seats.len() < size {
            let seat = ids[next(ids.len())].clone();
            if !seats.contains(&seat) {
                seats.push(seat);
            }
        }
        let one = size == 1 && next(2) == 0;
        let body = if one {
            json!({"seat_id": seats[0], "token": tokens[user]})
        } else {
            json!({"seat_ids": seats, "token": tokens[user]})
        };
        let answer = stack
            .api
            .post_json(&format!("/api/seats/{verb}"), body)
            .await;
        let expected = model.apply(user, verb, &seats, one);
        let named: Vec<String> =
            serde_json::from_value(answer.body["error"]["seat_ids"].clone()).unwrap_or_default();
        assert_eq!(
            (answer.code(), named),
            (expected.code.clone(), expected.named.clone()),
            "step {step}: user {user} {verb} {seats:?} (one: {one}); model {:?}",
            model.seats
        );
        expected_events.extend(expected.events);
    }

    let snapshot = stack.api.get("/api/venues/main").await;
    let seats = testkit::http::seats_of(&snapshot.body["seats"]);
    for (id, slot) in &model.seats {
        let want = match slot {
            Slot::Free => (0, Value::Null),
            Slot::Held(u) => (1, json!(user_ids[*u])),
            Slot::Booked(u) => (2, json!(user_ids[*u])),
        };
        assert_eq!(seats[id], want, "{id}");
    }
    let page: EventsPage =
        serde_json::from_value(stack.api.get("/api/venues/main/events?after=0").await.body)
            .unwrap();
    let got: Vec<(String, EventKind, String)> = page
        .events
        .iter()
        .map(|e| {
            (
                e.seat_id.clone(),
                e.kind,
                e.user_id.clone().unwrap_or_default(),
            )
        })
        .collect();
    let want: Vec<(String, EventKind, String)> = expected_events
        .into_iter()
        .map(|(seat, kind, user)| (seat, kind, user_ids[user].clone()))
        .collect();
    assert_eq!(got, want);
    assert!(page
        .events
        .iter()
        .enumerate()
        .all(|(i, e)| e.seq == i as u64 + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_commands_match_the_model_without_the_rule() {
    for seed in [0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d] {
        run_against_model(false, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_commands_match_the_model_with_the_single_seat_rule() {
    for seed in [0xd1b5_4a32_d192_ed03, 0x8cb9_2ba7_2f3d_8dd7] {
        run_against_model(true, seed).await;
    }
}
