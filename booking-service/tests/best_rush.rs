//! A best-available rush on the arena, against real redis-server and nats-server: 1,000
//! identities ask at once for 2 to 4 seats (some within a category or a section, some
//! accessible), with the single-seat rule off and on. Every answer is checked: OK blocks are
//! disjoint, adjacent, in what was asked, held by their asker in the final state, and were one
//! of the best blocks at the moment they were taken (the events replayed in seq order); every
//! refusal is NO_SEATS_TOGETHER and no block fit it even at the end.

use std::collections::{HashMap, HashSet};

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use shared::api::EventsPage;
use shared::EventKind;

mod best_judge;
mod support;
use best_judge::{Ask, Dice, Hall};
use support::Stack;

const ASKERS: usize = 1_000;
/// Requests in flight at once: enough to keep every Redis connection's pipeline full.
const IN_FLIGHT: usize = 250;

struct Answer {
    /// The asker's public id.
    user: String,
    ask: Ask,
    code: String,
    seat_ids: Vec<String>,
}

/// The asks, the same on every run: counts 2 to 4; a fifth of them within a category, one in
/// ten within a section, one in twenty accessible.
fn asks(categories: &[String], sections: &[String]) -> Vec<Ask> {
    (0..ASKERS)
        .map(|i| {
            let mut ask = Ask {
                count: 2 + i % 3,
                ..Ask::default()
            };
            match i % 20 {
                0 => ask.accessible = true,
                1 | 2 => ask.section = Some(sections[(i / 20) % sections.len()].clone()),
                3..=6 => ask.category = Some(categories[(i / 20) % categories.len()].clone()),
                _ => {}
            }
            ask
        })
        .collect()
}

async fn rush(stack: &Stack, venue: &str, asks: Vec<Ask>) -> Vec<Answer> {
    let api = &stack.api;
    stream::iter(asks)
        .map(|ask| async move {
            let signed = testkit::signer().issue();
            let user = signed.user_id();
            let mut body = ask.body();
            body["token"] = json!(signed.as_str());
            body["venue"] = json!(venue);
            let answer = api.post_json("/api/seats/best", body).await;
            Answer {
                user,
                code: answer.code(),
                seat_ids: serde_json::from_value(answer.body["seat_ids"].clone())
                    .unwrap_or_default(),
                ask,
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await
}

/// Every kept event of the venue, in seq order.
async fn events(stack: &Stack, venue: &str) -> Vec<shared::SeatEvent> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &shared::SeatEvent| e.seq);
        let page = stack
            .api
            .get(&format!("/api/venues/{venue}/events?after={after}"))
            .await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let page: EventsPage = serde_json::from_value(page.body).unwrap();
        if page.events.is_empty() {
            return all;
        }
        all.extend(page.events);
    }
}

async fn check_rush(stack: &Stack, venue: &str, rule: bool) {
    let chart = stack.api.get(&format!("/api/venues/{venue}/chart")).await;
    let hall = Hall::from_chart(&chart.body);
    let ids_of = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let categories = ids_of(&chart.body["categories"]);
    let sections = ids_of(&chart.body["sections"]);
    let answers = rush(stack, venue, asks(&categories, &sections)).await;

    let mut codes: HashMap<&str, usize> = HashMap::new();
    for answer in &answers {
        *codes.entry(answer.code.as_str()).or_default() += 1;
    }
    let refused: Vec<&str> = codes
        .keys()
        .copied()
        .filter(|c| !matches!(*c, "OK" | "NO_SEATS_TOGETHER" | "MAX_HOLDS_EXCEEDED"))
        .collect();
    assert!(refused.is_empty(), "{venue}: unexpected answers {codes:?}");
    assert!(
        codes.get("OK").copied().unwrap_or(0) > ASKERS / 2,
        "{venue}: {codes:?}"
    );

    // The events in seq order: each seat is held once, by one user.
    let events = events(stack, venue).await;
    let mut seq_of: HashMap<&str, u64> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.seq, i as u64 + 1, "{venue}: seqs without gaps");
        assert_eq!(event.kind, EventKind::Held, "{venue}: only holds in a rush");
        assert!(
            seq_of.insert(&event.seat_id, event.seq).is_none(),
            "{venue}: {} held twice",
            event.seat_id
        );
    }
    let snapshot = stack.api.get(&format!("/api/venues/{venue}")).await;
    let seats = testkit::http::seats_of(&snapshot.body["seats"]);

    // Judge each OK against the seats taken just before its first event.
    let mut oks: Vec<&Answer> = answers.iter().filter(|a| a.code == "OK").collect();
    oks.sort_by_key(|a| seq_of[a.seat_ids[0].as_str()]);
    let mut taken: HashSet<String> = HashSet::new();
    let mut replayed = 0;
    for answer in &oks {
        assert_eq!(
            answer.seat_ids.len(),
            answer.ask.count,
            "{venue}: {:?}",
            answer.seat_ids
        );
        let first = seq_of[answer.seat_ids[0].as_str()];
        for (i, id) in answer.seat_ids.iter().enumerate() {
            assert_eq!(
                seq_of[id.as_str()],
                first + i as u64,
                "{venue}: one step, consecutive seqs"
            );
            let (status, holder) = &seats[id];
            assert_eq!(*status, 1, "{venue}: {id} is held at the end");
            assert_eq!(*holder, json!(answer.user), "{venue}: {id} by its asker");
        }
        while replayed < events.len() && events[replayed].seq < first {
            taken.insert(events[replayed].seat_id.clone());
            replayed += 1;
        }
        hall.judge(&answer.ask, &taken, rule, &answer.seat_ids)
            .unwrap_or_else(|why| panic!("{venue}: {why}"));
    }
    let final_taken: HashSet<String> = events.iter().map(|e| e.seat_id.clone()).collect();
    for answer in answers.iter().filter(|a| a.code == "NO_SEATS_TOGETHER") {
        assert!(
            hall.fitting(&answer.ask, &final_taken, rule).is_empty(),
            "{venue}: {:?} was refused, yet a block fits even at the end",
            answer.ask
        );
    }
    eprintln!("{venue}: {codes:?}, {} seats held", events.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_identities_rush_best_available_on_the_arena() {
    let arena = concat!(env!("CARGO_MANIFEST_DIR"), "/../venues/arena.json");
    let mut ruled: Value = serde_json::from_str(&std::fs::read_to_string(arena).unwrap()).unwrap();
    ruled["single_seat_rule"] = json!(true);
    let dir = std::env::temp_dir().join(format!("best-rush-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ruled_path = dir.join("ruled.json");
    std::fs::write(&ruled_path, ruled.to_string()).unwrap();
    let venues = format!("arena:@{arena},ruled:@{}", ruled_path.display());
    let stack = Stack::start(&[
        ("VENUES", venues.as_str()),
        // Rate limits lifted for the rush; a hold outlives the test.
        ("USER_RATE_LIMIT", "100000"),
        ("HOLD_SECONDS", "600"),
    ])
    .await;
    check_rush(&stack, "arena", false).await;
    check_rush(&stack, "ruled", true).await;
}

/// Best available keeps a ranking per kind of request, brought up to date from a log of the
/// runs that changed (and ranked again in full when a kind falls far behind or the log's old
/// entries are gone). One client, one request at a time, so the seats taken before each answer
/// are known exactly: single holds and releases between best-available requests of many kinds,
/// well past the log's length, and every answer judged against the seats taken just before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_available_stays_right_while_seats_are_held_and_released() {
    let arena = concat!(env!("CARGO_MANIFEST_DIR"), "/../venues/arena.json");
    let venues = format!("arena:@{arena}");
    let stack = Stack::start(&[
        ("VENUES", venues.as_str()),
        ("USER_RATE_LIMIT", "100000"),
        ("HOLD_SECONDS", "600"),
        ("MAX_HOLDS_PER_USER", "100000"),
    ])
    .await;
    let chart = stack.api.get("/api/venues/arena/chart").await;
    let hall = Hall::from_chart(&chart.body);
    let first_id = |list: &str, i: usize| {
        let list = chart.body[list].as_array().unwrap();
        list[i % list.len()]["id"].as_str().unwrap().to_owned()
    };
    let for_sale = hall.for_sale();
    let signed = testkit::signer().issue();
    let token = signed.as_str();
    let mut dice = Dice(19);
    let mut taken: HashSet<String> = HashSet::new();
    let mut held: Vec<String> = Vec::new();
    let (mut changes, mut oks, mut refusals) = (0, 0, 0);
    while changes < 5_000 {
        match dice.roll(10) {
            0..=4 => {
                let seat = &for_sale[dice.roll(for_sale.len())];
                if taken.contains(seat) {
                    continue;
                }
                let answer = stack.api.seat("select", seat, token).await;
                assert_eq!(answer.code(), "OK", "{seat}: {:?}", answer.body);
                taken.insert(seat.clone());
                held.push(seat.clone());
                changes += 1;
            }
            5..=6 if !held.is_empty() => {
                let seat = held.swap_remove(dice.roll(held.len()));
                let answer = stack.api.seat("release", &seat, token).await;
                assert_eq!(answer.code(), "OK", "{seat}: {:?}", answer.body);
                taken.remove(&seat);
                changes += 1;
            }
            _ => {
                let kind = dice.roll(12);
                let ask = Ask {
                    count: 1 + kind % 4,
                    category: (kind % 6 == 1).then(|| first_id("categories", kind)),
                    section: (kind % 6 == 2).then(|| first_id("sections", kind)),
                    accessible: kind == 11,
                };
                let mut body = ask.body();
                body["token"] = json!(token);
                body["venue"] = json!("arena");
                let answer = stack.api.post_json("/api/seats/best", body).await;
                match answer.code().as_str() {
                    "OK" => {
                        let ids: Vec<String> =
                            serde_json::from_value(answer.body["seat_ids"].clone()).unwrap();
                        hall.judge(&ask, &taken, false, &ids)
                            .unwrap_or_else(|why| panic!("after {changes} changes: {why}"));
                        changes += ids.len();
                        taken.extend(ids.iter().cloned());
                        held.extend(ids);
                        oks += 1;
                    }
                    "NO_SEATS_TOGETHER" => {
                        assert!(
                            hall.fitting(&ask, &taken, false).is_empty(),
                            "after {changes} changes: {ask:?} refused, yet a block fits"
                        );
                        refusals += 1;
                    }
                    other => panic!("{ask:?}: {other} {:?}", answer.body),
                }
            }
        }
    }
    eprintln!("{changes} changes, {oks} best-available holds judged, {refusals} refusals judged");
    assert!(oks > 500, "{oks} holds");
}
