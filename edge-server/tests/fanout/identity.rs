//! Identity and origin: a page from another site cannot open a socket, a request that is no
//! WebSocket gets a coded error, a token the system did not issue acts on nothing, and identity
//! fields a client makes up are ignored.

use std::time::Duration;

use serde_json::json;
use shared::ws::ServerMessage;
use shared::ErrorCode;

use crate::support::{assert_all_converge, Backend, Viewer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_from_a_page_of_another_origin_is_refused_with_403() {
    let backend = Backend::start(1, &[]).await;
    let url = backend.ws_url(0);
    let own_origin = format!("http://127.0.0.1:{}", backend.edges[0].port);

    assert_eq!(
        Viewer::connect_from(&url, "http://evil.example")
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        Viewer::connect_from(&url, "http://127.0.0.1:1").await.err(),
        Some(403),
        "same host, another port: another origin"
    );
    assert_eq!(Viewer::connect_from(&url, "null").await.err(), Some(403));
    // The page's own origin (its host:port is the Host header) and tools without an Origin work.
    let page = Viewer::connect_from(&url, &own_origin)
        .await
        .expect("own origin");
    let tool = Viewer::connect(&url).await;
    for client in [&page, &tool] {
        client
            .wait_for("VENUE_STATE", |m| matches!(m, ServerMessage::VenueState(_)))
            .await;
    }
    assert_eq!(
        backend.edge_metric(0, "edge_origins_refused_total").await,
        3.0
    );

    // ALLOWED_ORIGINS lists the origins exactly; then the edge's own host is no longer enough.
    let listed = backend
        .start_edge(&[(
            "ALLOWED_ORIGINS",
            "http://localhost:8080, https://seats.example",
        )])
        .await;
    let listed_url = format!("ws://127.0.0.1:{}/ws", listed.port);
    for allowed in ["http://localhost:8080", "https://seats.example"] {
        assert!(
            Viewer::connect_from(&listed_url, allowed).await.is_ok(),
            "{allowed}"
        );
    }
    let own = format!("http://127.0.0.1:{}", listed.port);
    for refused in [own.as_str(), "http://localhost:8081", "http://evil.example"] {
        assert_eq!(
            Viewer::connect_from(&listed_url, refused).await.err(),
            Some(403),
            "{refused}"
        );
    }
}

fn unauthorized(m: &ServerMessage) -> bool {
    matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::Unauthorized)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_the_system_did_not_issue_act_on_nothing_and_made_up_fields_are_ignored() {
    let backend = Backend::start(1, &[]).await;
    let mut client = Viewer::ready(&backend.ws_url(0)).await;
    let victim = Viewer::ready(&backend.ws_url(0)).await;
    let me = client.welcome();
    let victim_id = victim.welcome().user_id;

    // A made-up token in the right shape, and one signed with another secret.
    let made_up = "v1.AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB";
    let foreign = shared::TokenSigner::new("some-other-secret-123")
        .unwrap()
        .issue();
    for token in [made_up, foreign.as_str()] {
        client.send("CONNECT", json!({"token": token, "venue": "main"}));
        assert_eq!(
            backend.api.seat("select", "A1", token).await.code(),
            "UNAUTHORIZED"
        );
    }
    let ok = testkit::eventually(Duration::from_secs(5), || {
        let view = client.view.lock().unwrap();
        view.messages.iter().filter(|m| unauthorized(m)).count() == 2
    })
    .await;
    assert!(ok, "both CONNECTs were answered UNAUTHORIZED");

    // Identity fields a client adds are ignored: it stays who its token says.
    client.send("CONNECT", json!({"user_id": victim_id, "venue": "main"}));
    client.send_raw(tokio_tungstenite::tungstenite::Message::text(
        json!({"type": "SELECT_SEAT", "data": {"seat_id": "D4", "req_id": "forged",
            "user_id": victim_id, "held_by": victim_id, "token": "x"}})
        .to_string(),
    ));
    let answer = client
        .wait_for(
            "the answer",
            |m| matches!(m, ServerMessage::Ok(ok) if ok.req_id == json!("forged")),
        )
        .await;
    let ServerMessage::Ok(answer) = answer else {
        unreachable!()
    };
    assert_eq!(
        answer.seats.all()[0].held_by.as_deref(),
        Some(me.user_id.as_str())
    );
    assert_eq!(
        client.welcome().user_id,
        me.user_id,
        "the WELCOME after CONNECT"
    );
    // The victim cannot be acted for: its seat commands are its own.
    assert_eq!(
        backend.truth().await.1["D4"],
        (1, json!(me.user_id)),
        "held by the sender, not the victim"
    );

    // The token from WELCOME is a real identity on the HTTP API too.
    let held = backend.api.seat("select", "E5", &me.token).await;
    assert_eq!(held.code(), "OK");
    assert_eq!(held.body["seat"]["held_by"], json!(me.user_id));
    assert_eq!(client.command("BOOK_SEAT", "E5").await, "OK");
    assert_all_converge(&backend, &[client, victim], Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_an_edge_cannot_serve_get_coded_json_errors() {
    let backend = Backend::start(1, &[]).await;
    let edge = testkit::Api::new(backend.edges[0].base_url());
    let plain = edge.get("/ws").await;
    assert_eq!(
        (plain.status, plain.code().as_str()),
        (426, "UPGRADE_REQUIRED"),
        "{:?}",
        plain.body
    );
    let nowhere = edge.get("/api/seats").await;
    assert_eq!(
        (nowhere.status, nowhere.code().as_str()),
        (404, "NOT_FOUND")
    );
    let wrong = edge.post_json("/health", json!({})).await;
    assert_eq!(
        (wrong.status, wrong.code().as_str()),
        (405, "METHOD_NOT_ALLOWED")
    );
    assert!(plain.body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    // The edge still serves sockets.
    Viewer::ready(&backend.ws_url(0)).await;
}
