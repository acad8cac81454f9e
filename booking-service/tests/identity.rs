//! Only identities the system issued act on seats, and only on their own: tokens, the authority
//! key behind a hold, and fields a client might forge.

use serde_json::json;
use shared::TokenSigner;
use testkit::token;

mod support;
use support::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_and_foreign_tokens_act_on_nothing() {
    let stack = Stack::start(&[]).await;
    let api = &stack.api;
    let holder = token();
    assert_eq!(api.seat("select", "A1", &holder).await.code(), "OK");

    let made_up = "abcdefghijklmnopqrstuvwxyz012345";
    let foreign = TokenSigner::new("a-secret-this-stack-never-saw")
        .unwrap()
        .issue();
    let mut forged_mac = holder.clone();
    let flipped = if holder.ends_with("AAA") {
        "BBB"
    } else {
        "AAA"
    };
    forged_mac.replace_range(holder.len() - 3.., flipped);
    for bad in [made_up, foreign.as_str(), forged_mac.as_str()] {
        for (verb, seat) in [("select", "B1"), ("book", "A1"), ("release", "A1")] {
            let answer = api.seat(verb, seat, bad).await;
            assert_eq!(
                (answer.status, answer.code().as_str()),
                (401, "UNAUTHORIZED"),
                "{verb} with {bad}"
            );
        }
    }
    let seat = stack.seat_status("A1").await;
    assert_eq!(seat["status"], 1, "the hold is untouched: {seat}");
    assert_eq!(stack.seat_status("B1").await["status"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_works_and_forged_identity_fields_change_nothing() {
    let stack = Stack::start(&[]).await;
    let api = &stack.api;
    let session = api.post_json("/api/session", json!({})).await;
    assert_eq!(session.status, 200, "{:?}", session.body);
    let token = session.body["token"].as_str().unwrap().to_owned();
    let user_id = session.body["user_id"].as_str().unwrap().to_owned();
    assert!(
        user_id.starts_with("u-") && user_id.len() == 14,
        "{user_id}"
    );
    assert!(
        token.len() >= 16
            && token.len() <= 128
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)),
        "{token}"
    );

    let victim = token_and_id(api).await;
    assert_eq!(api.seat("select", "C1", &victim.0).await.code(), "OK");
    // A client claiming someone else's public id in the body is still itself.
    let answer = api
        .post_json(
            "/api/seats/select",
            json!({"seat_id": "C2", "token": token, "user_id": victim.1, "held_by": victim.1}),
        )
        .await;
    assert_eq!(answer.code(), "OK");
    assert_eq!(answer.body["seat"]["held_by"], json!(user_id));
    let answer = api
        .post_json(
            "/api/seats/book",
            json!({"seat_id": "C1", "token": token, "user_id": victim.1}),
        )
        .await;
    assert_eq!((answer.status, answer.code().as_str()), (403, "NOT_HOLDER"));
    assert_eq!(api.seat("book", "C2", &token).await.code(), "OK");
    assert_eq!(stack.seat_status("C1").await["held_by"], json!(victim.1));
}

/// A new identity from `POST /api/session`: (token, user_id).
async fn token_and_id(api: &testkit::Api) -> (String, String) {
    let body = api.post_json("/api/session", json!({})).await.body;
    (
        body["token"].as_str().unwrap().to_owned(),
        body["user_id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_public_id_grants_nothing_the_authority_key_decides() {
    let stack = Stack::start(&[("MAX_HOLDS_PER_USER", "1")]).await;
    let api = &stack.api;
    let (alice, bob) = (token(), token());
    assert_eq!(api.seat("select", "D1", &alice).await.code(), "OK");
    // Make the announced holder of D1 show Bob's public id, as if the two ids collided.
    let bob_id = testkit::signer().verify(&bob).unwrap().user_id();
    let stored = stack.redis.cli(&["HGET", "state:{main}", "D1"]);
    let mut fields: Vec<&str> = stored.split('|').collect();
    assert_eq!(fields.len(), 4, "{stored}");
    fields[1] = &bob_id;
    stack
        .redis
        .cli(&["HSET", "state:{main}", "D1", &fields.join("|")]);
    assert_eq!(stack.seat_status("D1").await["held_by"], json!(bob_id));

    for verb in ["book", "release"] {
        let answer = api.seat(verb, "D1", &bob).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "NOT_HOLDER"),
            "{verb}: the public id Bob shares is not the key that owns the hold"
        );
    }
    // Hold counts belong to the key too: Bob's one allowed hold is still his to take.
    assert_eq!(api.seat("select", "D2", &bob).await.code(), "OK");
    assert_eq!(
        api.seat("select", "D3", &alice).await.code(),
        "MAX_HOLDS_EXCEEDED"
    );
    assert_eq!(api.seat("book", "D1", &alice).await.code(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_a_token_secret_refuses_to_start() {
    let output = std::process::Command::new(support::BINARY)
        .env_remove("TOKEN_SECRET")
        .env("PORT", testkit::free_port().to_string())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("TOKEN_SECRET is not set"), "{said}");
}
