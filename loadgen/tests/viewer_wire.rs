//! The viewers' hand-written WebSocket client against scripted servers on real sockets: frames
//! sent with the 101 response, a 600 KB `VENUE_STATE` in pieces, a fragmented message with a
//! ping inside it, frames cut at every byte, pings answered with masked pongs, the close
//! handshake; and the NATS protocol (`INFO` → `CONNECT`/`SUB`/`PING`, `PING` → `PONG`, `MSG` split
//! across frames); and viewers that fail before they are ready (counted as failed, their connect
//! permit given back). Correctness only.

use std::time::Duration;

use loadgen::viewers::{GroupSpec, Protocol, ViewerGroup};
use loadgen::ws_frame::server_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const VIEWERS: usize = 3;

fn text(payload: &str) -> Vec<u8> {
    server_frame(true, 0x1, payload.as_bytes())
}

fn update(seq: u64) -> String {
    format!(r#"{{"type":"SEAT_UPDATE","data":{{"venue":"main","seq":{seq},"seat_id":"A1"}}}}"#)
}

/// Answers the upgrade; `extra` goes out in the same write as the 101 response.
async fn accept(listener: &TcpListener, extra: &[u8]) -> TcpStream {
    let (stream, _) = listener.accept().await.unwrap();
    loadgen::floor::accept_upgrade(stream, extra).await.unwrap()
}

/// Reads one client frame; it must be final and masked. Returns (opcode, unmasked payload).
async fn client_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(head[0] & 0x80, 0x80, "client frames here are final");
    assert_eq!(head[1] & 0x80, 0x80, "client frames are masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).await.unwrap();
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b).await.unwrap();
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut mask = [0u8; 4];
    stream.read_exact(&mut mask).await.unwrap();
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await.unwrap();
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    (head[0] & 0x0f, payload)
}

fn spec(protocol: Protocol, url: String) -> GroupSpec {
    GroupSpec {
        protocol,
        urls: vec![url],
        count: VIEWERS,
        offset: 0,
        venue: None,
        source_ips: 1,
        parallel: VIEWERS,
        compact: false,
        spread_ms: 0,
    }
}

async fn wait_for(group: &ViewerGroup, from: u64, to: u64, delivered: u64, closed: u64) {
    for _ in 0..500 {
        if group.count(from, to).await.unwrap() == (delivered, closed) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "expected ({delivered}, {closed}), have {:?}",
        group.count(from, to).await.unwrap()
    );
}

/// One seat-map connection, scripted; returns once the client answered the close.
async fn seatmap_server(mut s: TcpStream, mut go: watch::Receiver<bool>) {
    let (op, connect) = client_frame(&mut s).await;
    assert_eq!(op, 0x1);
    assert!(String::from_utf8(connect).unwrap().contains("CONNECT"));
    // A 600 KB state, written in pieces.
    let seats = "x".repeat(600_000);
    let state = text(&format!(
        r#"{{"type":"VENUE_STATE","data":{{"venue":"main","seq":0,"seats":"{seats}"}}}}"#
    ));
    for piece in state.chunks(70_001) {
        s.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // A ping is answered with a masked pong carrying its payload.
    s.write_all(&server_frame(true, 0x9, b"abc")).await.unwrap();
    assert_eq!(client_frame(&mut s).await, (0xA, b"abc".to_vec()));
    // Update 1 in three fragments, a ping between them.
    let one = update(1);
    let (a, rest) = one.as_bytes().split_at(10);
    let (b, c) = rest.split_at(20);
    let mut bytes = server_frame(false, 0x1, a);
    bytes.extend(server_frame(false, 0x0, b));
    bytes.extend(server_frame(true, 0x9, b""));
    bytes.extend(server_frame(true, 0x0, c));
    s.write_all(&bytes).await.unwrap();
    assert_eq!(client_frame(&mut s).await, (0xA, Vec::new()));
    // 2..=20 in one write; 21..=30 one byte at a time.
    let many: Vec<u8> = (2..=20).flat_map(|seq| text(&update(seq))).collect();
    s.write_all(&many).await.unwrap();
    let bytes: Vec<u8> = (21..=30).flat_map(|seq| text(&update(seq))).collect();
    for byte in bytes {
        s.write_all(&[byte]).await.unwrap();
        s.flush().await.unwrap();
    }
    go.wait_for(|go| *go).await.unwrap();
    let mut close = 1001u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    s.write_all(&server_frame(true, 0x8, &close)).await.unwrap();
    assert_eq!(
        client_frame(&mut s).await,
        (0x8, 1001u16.to_be_bytes().to_vec())
    );
    let mut end = [0u8; 1];
    assert_eq!(
        s.read(&mut end).await.unwrap(),
        0,
        "the client closed its socket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seatmap_frames_in_any_shape() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let (go, going) = watch::channel(false);
    let server = tokio::spawn(async move {
        let welcome = text(r#"{"type":"WELCOME","data":{}}"#);
        let mut scripts = Vec::new();
        for _ in 0..VIEWERS {
            let conn = accept(&listener, &welcome).await;
            scripts.push(tokio::spawn(seatmap_server(conn, going.clone())));
        }
        for script in scripts {
            script.await.unwrap();
        }
    });
    let group = ViewerGroup::connect(&spec(Protocol::Seatmap, url), Duration::from_secs(20))
        .await
        .unwrap();
    let joins = group.joins().await.unwrap();
    assert_eq!((joins.ready, joins.failed), (VIEWERS as u64, 0));
    assert!(joins.state_bytes > 600_000);
    wait_for(&group, 1, 30, 30 * VIEWERS as u64, 0).await;
    let report = group.report(1, vec![0; 30], Vec::new()).await.unwrap();
    assert!(report.is_correct(), "{report:?}");
    assert_eq!(report.delivered, 30 * VIEWERS as u64);
    go.send(true).unwrap();
    server.await.unwrap();
    wait_for(&group, 1, 30, 0, VIEWERS as u64).await;
    let report = group.report(31, Vec::new(), Vec::new()).await.unwrap();
    assert_eq!(report.closed, VIEWERS as u64);
    assert_eq!(
        report.close_reasons,
        vec!["closed by the server (1001: bye)"]
    );
}

/// One nats-server connection, scripted.
async fn nats_server(mut s: TcpStream) {
    let (op, hello) = client_frame(&mut s).await;
    assert_eq!(op, 0x2);
    let hello = String::from_utf8(hello).unwrap();
    assert!(hello.starts_with("CONNECT {"), "{hello}");
    assert!(hello.ends_with("\r\nSUB seats.> 1\r\nPING\r\n"), "{hello}");
    s.write_all(&server_frame(true, 0x2, b"PONG\r\n"))
        .await
        .unwrap();
    // Messages 1..=20, the protocol bytes cut into frames at odd places, a PING among them.
    let mut stream = Vec::new();
    for seq in 1..=20u64 {
        let payload = format!(r#"{{"venue":"main","seq":{seq},"seat_id":"A1"}}"#);
        stream.extend(format!("MSG seats.main.A1 1 {}\r\n{payload}\r\n", payload.len()).bytes());
        if seq == 10 {
            stream.extend(b"PING\r\n");
        }
    }
    for piece in stream.chunks(37) {
        s.write_all(&server_frame(true, 0x2, piece)).await.unwrap();
    }
    assert_eq!(client_frame(&mut s).await, (0x2, b"PONG\r\n".to_vec()));
    // Held open until the client goes.
    let mut end = [0u8; 1];
    let _ = s.read(&mut end).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_protocol_over_websocket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let info = server_frame(
            true,
            0x2,
            b"INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n",
        );
        let mut scripts = Vec::new();
        for _ in 0..VIEWERS {
            let conn = accept(&listener, &info).await;
            scripts.push(tokio::spawn(nats_server(conn)));
        }
        scripts
    });
    let group = ViewerGroup::connect(&spec(Protocol::Nats, url), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(group.ready(), VIEWERS);
    wait_for(&group, 1, 20, 20 * VIEWERS as u64, 0).await;
    let report = group.report(1, vec![0; 20], Vec::new()).await.unwrap();
    assert!(report.is_correct(), "{report:?}");
    assert_eq!(report.delivered, 20 * VIEWERS as u64);
    drop(group);
    for script in server.await.unwrap() {
        script.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_before_ready_are_counted_and_free_their_permit() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        // An HTTP error instead of the upgrade.
        let (mut s, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 1024];
        let _ = s.read(&mut request).await.unwrap();
        s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        // A close frame right after the 101, before any VENUE_STATE.
        let mut s = accept(&listener, &server_frame(true, 0x8, &1013u16.to_be_bytes())).await;
        assert_eq!(client_frame(&mut s).await.0, 0x1, "CONNECT first");
        assert_eq!(
            client_frame(&mut s).await,
            (0x8, 1013u16.to_be_bytes().to_vec())
        );
        // The TCP connection closed after the 101.
        drop(accept(&listener, b"").await);
    });
    let spec = GroupSpec {
        parallel: 1, // each failure must give its permit back for the next viewer to connect
        ..spec(Protocol::Seatmap, url)
    };
    let group = ViewerGroup::connect(&spec, Duration::from_secs(20))
        .await
        .unwrap();
    server.await.unwrap();
    let joins = group.joins().await.unwrap();
    assert_eq!((joins.ready, joins.failed), (0, VIEWERS as u64));
    assert!(
        joins.first_error.as_deref().unwrap().contains("503"),
        "{:?}",
        joins.first_error
    );
    // Viewers that never joined are neither closed nor expected in a report.
    assert_eq!(group.count(1, 10).await.unwrap(), (0, 0));
    let report = group.report(1, vec![0; 10], Vec::new()).await.unwrap();
    assert_eq!((report.viewers, report.expected), (0, 0));
}
