//! Venues beyond the 10x10 grid, against real Redis and NATS: grid rows past Z, and the ids of
//! every venue echoed whole in answers, events and snapshots.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;
use shared::EventKind;
use testkit::token;

mod support;
use support::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_by_hundred_grid_serves_cv100_end_to_end() {
    let stack = Stack::start(&[("VENUES", "main:100x100")]).await;
    let user = token();
    let seat = |verb: &'static str, id: &'static str| {
        let api = stack.api.clone();
        let user = user.clone();
        async move {
            api.post_json(
                &format!("/api/seats/{verb}"),
                json!({"seat_id": id, "token": user, "venue": "main"}),
            )
            .await
        }
    };

    // Lower case is accepted and answered in the canonical form.
    let held = seat("select", "cv100").await;
    assert_eq!(held.code(), "OK", "{:?}", held.body);
    assert_eq!(held.body["seat"]["id"], "CV100");
    assert_eq!(held.body["seat"]["row"], 99);
    assert_eq!(held.body["seat"]["col"], 99);
    let booked = seat("book", "CV100").await;
    assert_eq!(booked.code(), "OK", "{:?}", booked.body);
    assert_eq!(booked.body["seat"]["status"], 2);
    let again = seat("release", "CV100").await;
    assert_eq!(again.code(), "SEAT_BOOKED", "{:?}", again.body);
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CV100"),
        "{:?}",
        again.body
    );

    let other = seat("select", "AA1").await;
    assert_eq!(other.code(), "OK", "{:?}", other.body);
    let released = seat("release", "aa1").await;
    assert_eq!(released.code(), "OK", "{:?}", released.body);

    let beyond = seat("select", "CW1").await;
    assert_eq!(
        (beyond.status, beyond.code()),
        (404, "UNKNOWN_SEAT".to_string())
    );
    assert!(
        beyond.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CW1"),
        "{:?}",
        beyond.body
    );

    let snapshot = stack.api.get("/api/venues/main").await;
    assert_eq!(snapshot.body["rows"], 100);
    assert_eq!(snapshot.body["cols"], 100);
    let seats = snapshot.body["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 10_000);
    let last = seats.last().unwrap();
    assert_eq!(
        (&last["id"], &last["row"], &last["col"], &last["status"]),
        (&json!("CV100"), &json!(99), &json!(99), &json!(2))
    );

    assert!(stack.events.wait_for_count(4, Duration::from_secs(2)).await);
    let kinds: Vec<(EventKind, String)> = stack
        .events
        .all()
        .into_iter()
        .map(|e| (e.kind, e.seat_id))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Held, "CV100".to_string()),
            (EventKind::Booked, "CV100".to_string()),
            (EventKind::Held, "AA1".to_string()),
            (EventKind::Released, "AA1".to_string()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_seat_of_a_chart_for_sale_is_held_booked_released_and_expires() {
    let venues = format!(
        "main:10x10,arena:@{},theatre:@{}",
        testkit::shipped_chart("arena").path,
        testkit::shipped_chart("theatre").path
    );
    // Holds outlive the selects and books of a whole round on a busy machine; the expiry part
    // below runs on a stack of its own with one-second holds.
    let settings = |hold_seconds| {
        [
            ("VENUES", venues.clone()),
            ("HOLD_SECONDS", hold_seconds),
            ("MAX_HOLDS_PER_USER", "100000".to_owned()),
            ("USER_RATE_LIMIT", "100000".to_owned()),
        ]
    };
    let env = settings("600".to_owned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stack = Stack::start(&env).await;
    let arena = testkit::shipped_chart("arena");
    let (for_sale, blocked) = (arena.for_sale, arena.blocked);

    let snapshot = stack.api.get("/api/venues/arena").await;
    assert_eq!(snapshot.body["layout"], "chart");
    assert!(snapshot.body.get("rows").is_none() && snapshot.body.get("cols").is_none());
    let seats = snapshot.body["seats"].as_array().unwrap();
    let ids: Vec<&str> = seats.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids, for_sale,
        "state lists exactly the seats for sale, in order"
    );
    assert!(seats
        .iter()
        .all(|s| s.get("row").is_none() && s.get("col").is_none()));
    assert_eq!(
        stack.api.get("/api/venues/main").await.body["layout"],
        "grid"
    );

    let user = token();
    let act = |verb, id, venue| seat_command(&stack.api, &user, verb, id, venue);
    let refused = act("select", blocked.clone(), "arena").await.1;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "SEAT_NOT_FOR_SALE".into())
    );
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&blocked));

    // Every seat for sale: held, then booked (even positions) or released (odd), 200 at a time.
    for chunk in for_sale.chunks(200) {
        for (id, answer) in
            join_all(chunk.iter().map(|id| act("select", id.clone(), "arena"))).await
        {
            assert_eq!(answer.code(), "OK", "{id}: {:?}", answer.body);
            assert_eq!(answer.body["seat"]["id"], json!(id));
        }
        let second = chunk.iter().enumerate().map(|(i, id)| {
            act(
                if i % 2 == 0 { "book" } else { "release" },
                id.clone(),
                "arena",
            )
        });
        for (id, answer) in join_all(second).await {
            assert_eq!(answer.code(), "OK", "{id}: {:?}", answer.body);
        }
    }
    let after = stack.api.get("/api/venues/arena").await;
    let booked = after.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == 2)
        .count();
    assert_eq!(
        booked,
        for_sale
            .chunks(200)
            .map(|c| c.len().div_ceil(2))
            .sum::<usize>()
    );

    // Expiry: every seat of the theatre held, then released by the clock.
    let env = settings("1".to_owned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stack = Stack::start(&env).await;
    let act = |verb, id, venue| seat_command(&stack.api, &user, verb, id, venue);
    let theatre = stack.api.get("/api/venues/theatre").await;
    let theatre_ids: Vec<String> = theatre.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    for (id, answer) in join_all(
        theatre_ids
            .iter()
            .map(|id| act("select", id.clone(), "theatre")),
    )
    .await
    {
        assert_eq!(answer.code(), "OK", "{id}: {:?}", answer.body);
    }
    let expired = testkit::eventually(Duration::from_secs(10), || {
        stack
            .events
            .matching(|e| e.venue == "theatre" && e.reason == Some(shared::ReleaseReason::Expired))
            .len()
            == theatre_ids.len()
    })
    .await;
    assert!(expired, "every theatre hold expired and was announced");
    let theatre = stack.api.get("/api/venues/theatre").await;
    assert!(theatre.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == 0));
}

/// `POST /api/seats/{verb}` for one seat (sent in lower case), answered with the seat's id.
async fn seat_command(
    api: &testkit::Api,
    user: &str,
    verb: &str,
    id: String,
    venue: &str,
) -> (String, testkit::http::Answer) {
    let body = json!({"seat_id": id.to_lowercase(), "token": user, "venue": venue});
    let answer = api.post_json(&format!("/api/seats/{verb}"), body).await;
    (id, answer)
}

/// Asked with `Accept-Encoding: gzip`, the chart comes gzipped (the same JSON), with a weak form
/// of its `ETag` that answers `304` too; `gzip;q=0` gets it plain.
async fn assert_chart_comes_gzipped_when_asked(url: &str, etag: &str, plain: &serde_json::Value) {
    use std::io::Read;
    // reqwest here has no gzip feature: it sends the header as given and leaves the body alone.
    let client = reqwest::Client::new();
    let zipped = client
        .get(url)
        .header("Accept-Encoding", "br, gzip;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
    let weak = zipped.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(weak, format!("W/{etag}"));
    let bytes = zipped.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        bytes.len() * 4 < text.len(),
        "{} bytes gzipped of {}",
        bytes.len(),
        text.len()
    );
    assert_eq!(
        &serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        plain
    );
    let again = client
        .get(url)
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", &weak)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let refused = client
        .get(url)
        .header("Accept-Encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_endpoint_answers_304_to_its_own_etag() {
    let venues = format!("main:10x10,arena:@{}", testkit::shipped_chart("arena").path);
    let stack = Stack::start(&[("VENUES", venues.as_str())]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/venues/arena/chart", stack.api.base);
    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(first.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let chart: serde_json::Value = first.json().await.unwrap();
    assert_eq!(
        (&chart["venue"], &chart["layout"]),
        (&json!("arena"), &json!("chart"))
    );
    let seats = chart["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["rows"].as_array().unwrap())
        .flat_map(|r| r["seats"].as_array().unwrap())
        .filter(|s| s.is_object())
        .count();
    assert!(
        (10_000..=20_000).contains(&seats),
        "{seats} seats, blocked ones included"
    );
    let again = client
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    let weak = client
        .get(&url)
        .header("If-None-Match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 304);
    let other = client
        .get(&url)
        .header("If-None-Match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_chart_comes_gzipped_when_asked(&url, &etag, &chart).await;
    let grid: serde_json::Value = client
        .get(format!("{}/api/venues/main/chart", stack.api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(grid["layout"], "grid");
    assert_eq!(grid["sections"][0]["rows"][9]["seats"][9]["id"], "J10");
    let missing = stack.api.get("/api/venues/nowhere/chart").await;
    assert_eq!(missing.code(), "UNKNOWN_VENUE");
}

#[test]
fn a_broken_chart_file_stops_the_service_with_the_file_and_the_json_path() {
    let dir = std::env::temp_dir().join(format!("broken-chart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.json");
    let text = std::fs::read_to_string(testkit::shipped_chart("theatre").path)
        .unwrap()
        .replacen("\"price\": 3000", "\"price\": \"cheap\"", 1);
    std::fs::write(&path, text).unwrap();
    let output = std::process::Command::new(support::BINARY)
        .env("TOKEN_SECRET", testkit::token_secret())
        .env("PORT", "0")
        .env("VENUES", format!("main:10x10,theatre:@{}", path.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("$.categories[2].price"), "{stderr}");
    assert!(stderr.contains("invalid type"), "{stderr}");
    let missing = std::process::Command::new(support::BINARY)
        .env("TOKEN_SECRET", testkit::token_secret())
        .env("VENUES", "arena:@no/such/chart.json")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/chart.json"));
    std::fs::remove_dir_all(dir).unwrap();
}
