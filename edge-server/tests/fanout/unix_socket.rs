//! `UNIX_SOCKET`: an edge also serves its routes on a Unix socket, for a proxy on the same host.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::Backend;

/// The `type` of the next text frame (pings and pongs are skipped).
async fn next_type(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::UnixStream>,
) -> (String, Value) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .expect("a valid frame");
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(text.as_str()).unwrap();
            return (message["type"].as_str().unwrap().to_owned(), message);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_serves_websockets_on_its_unix_socket_too_and_removes_it_when_it_stops() {
    let mut backend = Backend::start(0, &[]).await;
    let path = std::env::temp_dir().join(format!("seatmap-edge-test-{}.sock", std::process::id()));
    // A stale socket file from an earlier run is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let edge = backend
        .start_edge(&[("UNIX_SOCKET", path.to_str().unwrap())])
        .await;
    backend.edges.push(edge);
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o666,
        "any local user may connect"
    );

    let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("ws://localhost/ws", stream)
        .await
        .expect("the upgrade works on the Unix socket");
    assert_eq!(next_type(&mut ws).await.0, "WELCOME");
    ws.send(Message::text(r#"{"type":"CONNECT","data":{}}"#))
        .await
        .unwrap();
    assert_eq!(next_type(&mut ws).await.0, "WELCOME");
    assert_eq!(next_type(&mut ws).await.0, "VENUE_STATE");
    let token = testkit::token();
    assert_eq!(backend.api.seat("select", "B7", &token).await.code(), "OK");
    let (kind, update) = next_type(&mut ws).await;
    assert_eq!(
        (kind.as_str(), &update["data"]["seat_id"]),
        ("SEAT_UPDATE", &Value::from("B7"))
    );
    // Commands work on it like on the TCP port.
    ws.send(Message::text(
        r#"{"type":"SELECT_SEAT","data":{"seat_id":"B8","req_id":"u1"}}"#,
    ))
    .await
    .unwrap();
    loop {
        let (kind, message) = next_type(&mut ws).await;
        if kind == "OK" {
            assert_eq!(message["data"]["req_id"], "u1");
            break;
        }
    }

    assert!(
        backend.edges[0].terminate(),
        "SIGTERM ends the edge cleanly"
    );
    assert!(
        !path.exists(),
        "the socket file is removed when the edge stops"
    );
}
