//! The single-seat rule, judged in the same atomic step as the hold, table by table: a chart
//! with a plain row, a row cut by an aisle and a row with a blocked seat, and a grid with
//! SINGLE_SEAT_RULE=1; against real redis-server and nats-server.

use serde_json::{json, Value};
use testkit::token;

mod support;
use support::Stack;

/// Row A: four seats. Row B: two seats, an aisle, three seats. Row C: three seats, a blocked
/// seat, one seat.
fn chart() -> Value {
    let seat = |n: u32| json!({"number": n, "x": n, "y": 0});
    json!({
        "title": "Rule hall",
        "focal_point": {"x": 0, "y": -5},
        "single_seat_rule": true,
        "categories": [{"id": "std", "label": "Standard", "color": "#888", "price": 1000, "currency": "EUR"}],
        "sections": [{"id": "S", "category": "std", "rows": [
            {"label": "A", "seats": [seat(1), seat(2), seat(3), seat(4)]},
            {"label": "B", "seats": [seat(1), seat(2), "aisle", seat(3), seat(4), seat(5)]},
            {"label": "C", "seats": [seat(1), seat(2), seat(3),
                {"number": 4, "x": 4, "y": 0, "blocked": true}, seat(5)]}
        ]}]
    })
}

async fn select(stack: &Stack, seats: &[&str], token: &str, venue: &str) -> testkit::http::Answer {
    let body = match seats {
        [one] => json!({"seat_id": one, "token": token, "venue": venue}),
        _ => json!({"seat_ids": seats, "token": token, "venue": venue}),
    };
    stack.api.post_json("/api/seats/select", body).await
}

/// (what, seats another user holds, seats I hold, what I ask for, refused seats or none)
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static [&'static str]>,
);

const CASES: &[Case] = &[
    (
        "a stretch of 3 asked for 2 leaves one whatever",
        &["S-A-4"],
        &[],
        &["S-A-1", "S-A-2"],
        None,
    ),
    (
        "the other 2 of a stretch of 3",
        &["S-A-4"],
        &[],
        &["S-A-2", "S-A-3"],
        None,
    ),
    (
        "the middle 2 of 4",
        &[],
        &[],
        &["S-A-2", "S-A-3"],
        Some(&["S-A-1", "S-A-4"]),
    ),
    ("the end 2 of 4", &[], &[], &["S-A-1", "S-A-2"], None),
    (
        "one seat in from a row's end",
        &[],
        &[],
        &["S-A-2"],
        Some(&["S-A-1"]),
    ),
    ("a row's end seat", &[], &[], &["S-A-1"], None),
    (
        "seats you hold count as taken",
        &[],
        &["S-A-1"],
        &["S-A-3"],
        Some(&["S-A-2", "S-A-4"]),
    ),
    ("beside your own hold", &[], &["S-A-1"], &["S-A-2"], None),
    (
        "a stretch of 2 after another's holds",
        &["S-A-1", "S-A-2"],
        &[],
        &["S-A-4"],
        None,
    ),
    (
        "the middle of 3 after another's hold",
        &["S-A-1"],
        &[],
        &["S-A-3"],
        Some(&["S-A-2", "S-A-4"]),
    ),
    (
        "the middle of 3 beside an aisle",
        &[],
        &[],
        &["S-B-4"],
        Some(&["S-B-3", "S-B-5"]),
    ),
    ("next to an aisle", &[], &[], &["S-B-3"], None),
    (
        "one of 2 before an aisle leaves one whatever",
        &[],
        &[],
        &["S-B-1"],
        None,
    ),
    ("across an aisle", &[], &[], &["S-B-2", "S-B-3"], None),
    (
        "the middle of 3 before a blocked seat",
        &[],
        &[],
        &["S-C-2"],
        Some(&["S-C-1", "S-C-3"]),
    ),
    ("next to a blocked seat", &[], &[], &["S-C-3"], None),
    ("alone past a blocked seat", &[], &[], &["S-C-5"], None),
    (
        "two rows, one leaving a gap",
        &[],
        &[],
        &["S-A-1", "S-C-2"],
        Some(&["S-C-1", "S-C-3"]),
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_with_the_rule_refuses_selects_that_strand_a_single_seat() {
    let dir = std::env::temp_dir().join(format!("rule-hall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rule.json");
    std::fs::write(&path, chart().to_string()).unwrap();
    let venues = format!("rule:@{}", path.display());
    let stack = Stack::start(&[("VENUES", venues.as_str())]).await;

    for (what, others, mine, asked, refused) in CASES {
        let reset = stack.api.admin_reset("venue=rule", "admin-secret").await;
        assert_eq!(reset.status, 200, "{:?}", reset.body);
        let (me, other) = (token(), token());
        for (holder, seats) in [(&other, *others), (&me, *mine)] {
            if !seats.is_empty() {
                let held = select(&stack, seats, holder, "rule").await;
                assert_eq!(
                    held.code(),
                    "OK",
                    "{what}: setup {seats:?}: {:?}",
                    held.body
                );
            }
        }
        let answer = select(&stack, asked, &me, "rule").await;
        match refused {
            None => assert_eq!(answer.code(), "OK", "{what}: {:?}", answer.body),
            Some(stranded) => {
                assert_eq!(
                    (answer.status, answer.code()),
                    (409, "SINGLE_SEAT_GAP".into()),
                    "{what}: {:?}",
                    answer.body
                );
                assert_eq!(answer.body["error"]["seat_ids"], json!(stranded), "{what}");
                for seat in *asked {
                    let snapshot = stack.api.get("/api/venues/rule").await;
                    let status = snapshot.body["seats"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|s| s["id"] == *seat)
                        .unwrap()["status"]
                        .clone();
                    assert_eq!(status, 0, "{what}: {seat} was held after a refusal");
                }
            }
        }
    }

    // Book and release are never refused by it.
    stack.api.admin_reset("venue=rule", "admin-secret").await;
    let me = token();
    assert_eq!(
        select(&stack, &["S-A-1", "S-A-2"], &me, "rule")
            .await
            .code(),
        "OK"
    );
    let release = stack
        .api
        .post_json(
            "/api/seats/release",
            json!({"seat_id": "S-A-1", "token": me, "venue": "rule"}),
        )
        .await;
    assert_eq!(release.code(), "OK", "{:?}", release.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grids_take_the_rule_from_single_seat_rule() {
    let stack = Stack::start(&[("SINGLE_SEAT_RULE", "1")]).await;
    // The served chart says so, as a chart file with the rule would.
    let chart = stack.api.get("/api/venues/main/chart").await;
    assert_eq!(
        chart.body["single_seat_rule"],
        json!(true),
        "{:?}",
        chart.body
    );
    let me = token();
    let refused = select(&stack, &["A2"], &me, "main").await;
    assert_eq!(refused.code(), "SINGLE_SEAT_GAP", "{:?}", refused.body);
    assert_eq!(refused.body["error"]["seat_ids"], json!(["A1"]));
    assert_eq!(
        select(&stack, &["A1", "A2"], &me, "main").await.code(),
        "OK"
    );
    // Off by default: the same select is held.
    let plain = Stack::start(&[]).await;
    assert_eq!(select(&plain, &["A2"], &token(), "main").await.code(), "OK");
    let chart = plain.api.get("/api/venues/main/chart").await;
    assert_eq!(chart.body["single_seat_rule"], json!(false));
}
