//! The waiting room over HTTP: at most MAX_SHOPPERS shop at once, the rest wait first come,
//! first served, and the queue cannot be skipped with curl.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};
use testkit::{token, Api};

mod support;
use support::Stack;

async fn join(api: &Api, token: &str) -> Value {
    let answer = api
        .post_json("/api/queue/join", json!({"token": token}))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_max_shoppers_everyone_shops() {
    let stack = Stack::start(&[]).await;
    let user = token();
    assert_eq!(join(&stack.api, &user).await["state"], "open");
    assert_eq!(stack.api.seat("select", "A1", &user).await.code(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shoppers_are_capped_admitted_in_arrival_order_and_waiters_cannot_skip() {
    let stack = Stack::start(&[("MAX_SHOPPERS", "2"), ("SHOPPING_SECONDS", "2")]).await;
    let api = &stack.api;
    let users: Vec<String> = (0..6).map(|_| token()).collect();
    let mut first = Vec::new();
    for user in &users {
        first.push(join(api, user).await);
    }
    assert_eq!(first[0]["state"], "admitted");
    assert_eq!(first[1]["state"], "admitted");
    for (i, user) in users.iter().enumerate().skip(2) {
        assert_eq!(first[i]["state"], "waiting", "{}", first[i]);
        // Asking again keeps the place; the size is everyone waiting now.
        let standing = join(api, user).await;
        assert_eq!(standing["position"], json!(i - 1), "{standing}");
        assert_eq!(standing["size"], 4);
        assert!(standing["estimated_wait_s"].as_u64().unwrap() > 0);
    }
    // Joining again keeps the place.
    assert_eq!(join(api, &users[3]).await["position"], 2);

    // The queue cannot be skipped with curl.
    let refused = api.seat("select", "B1", &users[2]).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "NOT_ADMITTED")
    );
    assert_eq!(
        api.seat("book", "B1", &users[2]).await.code(),
        "NOT_ADMITTED"
    );
    let outsider = api.seat("select", "B2", &token()).await;
    assert_eq!(outsider.code(), "NOT_ADMITTED", "no place, no pass");
    assert_eq!(api.seat("select", "A1", &users[0]).await.code(), "OK");

    // Passes end after SHOPPING_SECONDS; the next two are admitted, in order, within a second.
    // When each was admitted is read from its pass (`until_ms` = admission + SHOPPING_SECONDS),
    // not from when this loop noticed: two admitted by one script run are noticed in turn.
    let until = first[0]["until_ms"].as_u64().unwrap();
    let mut admitted_at = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    while admitted_at.len() < 4 && Instant::now() < deadline {
        for (i, user) in users.iter().enumerate().skip(2) {
            if admitted_at.iter().any(|(j, _)| *j == i) {
                continue;
            }
            let standing = join(api, user).await;
            if standing["state"] == "admitted" {
                let pass_ends = standing["until_ms"].as_u64().unwrap();
                admitted_at.push((i, pass_ends - 2_000));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    admitted_at.sort_by_key(|&(i, at)| (at, i));
    let order: Vec<usize> = admitted_at.iter().map(|(i, _)| *i).collect();
    assert_eq!(order, vec![2, 3, 4, 5], "admitted in arrival order");
    assert!(
        admitted_at[0].1 <= until + 1_000,
        "the next in line is admitted within a second of the slot freeing"
    );
    // The first shopper's hold runs out as usual; its pass is over.
    assert_eq!(
        api.seat("select", "A2", &users[0]).await.code(),
        "NOT_ADMITTED"
    );
    let (latest, _) = admitted_at.last().unwrap();
    assert_eq!(api.seat("select", "C1", &users[*latest]).await.code(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_arrivals_fill_exactly_the_free_slots() {
    let stack = Stack::start(&[("MAX_SHOPPERS", "10")]).await;
    let users: Vec<String> = (0..50).map(|_| token()).collect();
    let standings = join_all(users.iter().map(|u| join(&stack.api, u))).await;
    let admitted = standings
        .iter()
        .filter(|s| s["state"] == "admitted")
        .count();
    assert_eq!(admitted, 10);
    let mut positions: Vec<u64> = standings
        .iter()
        .filter_map(|s| s["position"].as_u64())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=40).collect::<Vec<u64>>(), "no place twice");
    let metrics = stack.api.get("/metrics").await.body;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("booking_queue_shoppers{venue=\"main\"} 10"),
        "{metrics}"
    );
}

/// A chart venue has a waiting room of its own, as a grid does: its queue is per venue, and a
/// seat of the chart cannot be held without a pass for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_venue_has_its_own_waiting_room() {
    let theatre = testkit::shipped_chart("theatre");
    let venues = format!("main:10x10,theatre:@{}", theatre.path);
    let stack = Stack::start(&[("VENUES", venues.as_str()), ("MAX_SHOPPERS", "1")]).await;
    let api = &stack.api;
    let join_theatre = |user: String| async move {
        let answer = api
            .post_json(
                "/api/queue/join",
                json!({"token": user, "venue": "theatre"}),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body
    };
    let (first, second) = (token(), token());
    assert_eq!(join_theatre(first.clone()).await["state"], "admitted");
    let waiting = join_theatre(second.clone()).await;
    assert_eq!(
        (waiting["state"].as_str(), waiting["position"].as_u64()),
        (Some("waiting"), Some(1))
    );
    let seat = |user: &str, id: &str| {
        api.post_json(
            "/api/seats/select",
            json!({"seat_id": id, "token": user, "venue": "theatre"}),
        )
    };
    assert_eq!(seat(&first, &theatre.for_sale[0]).await.code(), "OK");
    assert_eq!(
        seat(&second, &theatre.for_sale[1]).await.code(),
        "NOT_ADMITTED"
    );
    // The grid's room is another queue: the second identity is its first shopper there.
    assert_eq!(join(api, &second).await["state"], "admitted");
    assert_eq!(api.seat("select", "A1", &second).await.code(), "OK");
}

/// With `INTERNAL_TOKEN` set, the edges' presence route answers only callers that show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_internal_routes_refuse_callers_without_the_internal_token() {
    let secret = "internal-0123456789abcdef";
    let stack = Stack::start(&[("INTERNAL_TOKEN", secret), ("MAX_SHOPPERS", "1")]).await;
    let url = format!("{}/internal/queue/main/presence", stack.api.base);
    let owner = "a".repeat(64);
    let report = json!({"owners": [owner], "join": true});
    let client = reqwest::Client::new();
    let post = |auth: Option<&str>| {
        let mut request = client.post(&url).json(&report);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.send()
    };
    for (auth, what) in [
        (None, "no token"),
        (Some("Bearer internal-0123456789abcdeX"), "a wrong token"),
        (Some("Bearer internal-0123456789abcde"), "a shorter token"),
        (Some(secret), "the token without Bearer"),
    ] {
        let answer = post(auth).await.unwrap();
        assert_eq!(answer.status(), 401, "{what}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{what}");
    }
    let answer = post(Some(&format!("Bearer {secret}"))).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["enabled"], true, "{body}");
}
