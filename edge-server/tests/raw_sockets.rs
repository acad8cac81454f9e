//! Raw sockets against a real edge: only a GET is upgraded, frames sent in the same write as the
//! upgrade request are read at once, and clients that flood the edge with pings stall neither
//! `/health` nor other viewers: those that never read stop being read (and do not grow the
//! edge's memory), and those that read their pongs do not keep a worker thread to themselves.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::raw::{self, Frame, RawWs};
use support::{Backend, Viewer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_get_is_upgraded_and_head_or_post_get_405() {
    let backend = Backend::start(1, &[]).await;
    let port = backend.edges[0].port;
    for method in ["HEAD", "POST"] {
        let request = raw::UPGRADE.replacen("GET", method, 1);
        let head = raw::http_head(port, &request).await;
        assert!(head.starts_with("HTTP/1.1 405"), "{method} /ws: {head}");
    }
    let bad_key = raw::UPGRADE.replace("dGhlIHNhbXBsZSBub25jZQ==", "abc");
    let head = raw::http_head(port, &bad_key).await;
    assert!(
        head.starts_with("HTTP/1.1 400"),
        "a key that is not 16 bytes: {head}"
    );
    let opened = "edge_connections_opened_total";
    assert_eq!(backend.edge_metric(0, opened).await, 0.0, "no WebSocket");
    // The same request as a GET is upgraded.
    let mut ws = RawWs::connect(port, None, &[]).await;
    let first = ws.reader.next_within(Duration::from_secs(5)).await;
    assert_eq!(first.as_ref().map(Frame::kind), Some("WELCOME"));
    assert_eq!(backend.edge_metric(0, opened).await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_sent_in_the_same_write_as_the_upgrade_request_are_read_at_once() {
    let backend = Backend::start(1, &[]).await;
    let token = testkit::token();
    let user_id = testkit::signer().verify(&token).unwrap().user_id();
    // A CONNECT with a token and a ping, in the very write that carries the upgrade request.
    let early = [
        raw::text("CONNECT", json!({"token": token})),
        raw::masked(raw::OP_PING, b"sent with the handshake"),
    ]
    .concat();
    let mut ws = RawWs::connect(backend.edges[0].port, None, &early).await;
    // Both are answered without the client sending anything more: the CONNECT with the resumed
    // identity and a VENUE_STATE, the ping with its pong.
    let (mut resumed, mut state, mut pong) = (false, false, false);
    let frames = ws
        .reader
        .until(Duration::from_secs(5), |frame| {
            resumed |= frame.kind() == "WELCOME" && frame.data()["user_id"] == json!(user_id);
            state |= resumed && frame.kind() == "VENUE_STATE";
            pong |= *frame == Frame::Pong(b"sent with the handshake".to_vec());
            state && pong
        })
        .await;
    let welcomes = frames.iter().filter(|f| f.kind() == "WELCOME").count();
    assert_eq!(welcomes, 2, "the fresh identity, then the resumed one");
}

/// Masked empty pings, back to back: 60 KB per write.
fn ping_flood() -> Vec<u8> {
    raw::masked(raw::OP_PING, b"").repeat(10_000)
}

/// Asks the edge for `/health` every 100 ms while `flooding` holds, on a new connection each
/// time (as a health checker does), from a thread of its own so that nothing in this process
/// delays it. Returns how long each took to answer 200.
fn health_while(port: u16, flooding: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut took = Vec::new();
        while flooding.load(Ordering::Relaxed) {
            let asked = Instant::now();
            let mut http = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            http.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let request = b"GET /health HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n";
            http.write_all(request).unwrap();
            let mut answer = String::new();
            http.read_to_string(&mut answer).expect("/health answers");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            took.push(asked.elapsed());
            std::thread::sleep(Duration::from_millis(100));
        }
        took
    })
}

/// The `/proc` directory of the process listening on `port`.
fn process_listening_on(port: u16) -> std::path::PathBuf {
    let listening = format!(":{port:04X}");
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let inode = tcp
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|f| f[1].ends_with(&listening) && f[3] == "0A")
        .map(|f| format!("socket:[{}]", f[9]))
        .expect("a socket listening on the port");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| p.file_name().to_string_lossy().parse::<u32>().is_ok())
        .find(|p| {
            std::fs::read_dir(p.path().join("fd")).is_ok_and(|fds| {
                fds.flatten().any(|fd| {
                    std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == inode)
                })
            })
        })
        .expect("the process listening on the port")
        .path()
}

/// A process's resident memory in bytes (`VmRSS`).
fn resident_memory(process: &std::path::Path) -> u64 {
    let status = std::fs::read_to_string(process.join("status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_flood_pings_and_never_read_stop_being_read_and_stall_nothing() {
    let backend = Backend::start(1, &[]).await;
    let port = backend.edges[0].port;
    let viewer = Viewer::ready(&backend.ws_url(0)).await;
    let edge = process_listening_on(port);
    let before = resident_memory(&edge);
    // Two clients on a small receive buffer send pings as fast as the edge takes them and
    // never read a pong: the edge must stop reading them rather than queue pongs without end.
    let flooding = Arc::new(AtomicBool::new(true));
    let mut floods = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..2 {
        let ws = RawWs::connect(port, Some(4096), &[]).await;
        let taken = Arc::new(AtomicU64::new(0));
        sent.push(taken.clone());
        let (flag, mut writer) = (flooding.clone(), ws.writer);
        floods.push((
            ws.reader,
            tokio::spawn(async move {
                let blob = ping_flood();
                while flag.load(Ordering::Relaxed) {
                    if writer.write_all(&blob).await.is_err() {
                        return;
                    }
                    taken.fetch_add(blob.len() as u64, Ordering::Relaxed);
                }
            }),
        ));
    }
    let probes = health_while(port, flooding.clone());
    let mut largest = before;
    let started = Instant::now();
    // A second into the floods a seat changes: the viewer on the same edge sees it meanwhile.
    let (mut changed, mut seen) = (false, false);
    while started.elapsed() < Duration::from_secs(4) {
        largest = largest.max(resident_memory(&edge));
        seen |= changed && viewer.seats()["A1"].0 == 1;
        if !changed && started.elapsed() > Duration::from_secs(1) {
            let token = testkit::token();
            assert_eq!(backend.api.seat("select", "A1", &token).await.code(), "OK");
            changed = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    flooding.store(false, Ordering::Relaxed);
    let took = probes.join().expect("every /health answered 200");
    let grew = largest.saturating_sub(before) >> 20;
    let sent: Vec<u64> = sent
        .iter()
        .map(|s| s.load(Ordering::Relaxed) >> 20)
        .collect();
    println!("/health took {took:?}; the edge grew by {grew} MiB; the clients sent {sent:?} MiB");
    assert!(
        took.len() >= 5,
        "/health answered {} times in 4 s",
        took.len()
    );
    let slowest = took.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(2),
        "/health answers in milliseconds; during the floods one took {slowest:?}"
    );
    assert!(
        grew < 64,
        "the edge grew by {grew} MiB while clients sent pings it could not answer"
    );
    assert!(seen, "the viewer got the change during the floods");
    for (_reader, flood) in floods {
        flood.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_flooding_pings_and_reading_the_pongs_stall_neither_health_nor_a_viewer() {
    let backend = Backend::start(1, &[]).await;
    let port = backend.edges[0].port;
    let viewer = Viewer::ready(&backend.ws_url(0)).await;
    let flooding = Arc::new(AtomicBool::new(true));
    let mut floods = Vec::new();
    for _ in 0..2 {
        let ws = RawWs::connect(port, None, &[]).await;
        let (flag, mut writer) = (flooding.clone(), ws.writer);
        floods.push(tokio::spawn(async move {
            let blob = raw::masked(raw::OP_PING, b"").repeat(10_000);
            while flag.load(Ordering::Relaxed) {
                if writer.write_all(&blob).await.is_err() {
                    return;
                }
            }
        }));
        // It reads (and drops) its pongs, so the edge keeps reading its pings.
        let (mut reader, _) = ws.reader.into_inner();
        floods.push(tokio::spawn(async move {
            let mut chunk = vec![0u8; 64 * 1024];
            while let Ok(1..) = reader.read(&mut chunk).await {}
        }));
    }
    // `/health` on a new connection each time, from a thread of its own.
    let probing = flooding.clone();
    let probes = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut took = Vec::new();
        while probing.load(Ordering::Relaxed) {
            let asked = Instant::now();
            let mut http = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            http.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            http.write_all(b"GET /health HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            let _ = http.read_to_string(&mut answer);
            took.push(asked.elapsed());
            std::thread::sleep(Duration::from_millis(100));
        }
        took
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let token = testkit::token();
    assert_eq!(backend.api.seat("select", "A1", &token).await.code(), "OK");
    let changed = Instant::now();
    let seen = testkit::eventually(Duration::from_secs(2), || viewer.seats()["A1"].0 == 1).await;
    let seen_after = changed.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    flooding.store(false, Ordering::Relaxed);
    let took = probes.join().unwrap();
    for flood in floods {
        flood.abort();
    }
    println!("/health took {took:?}; the viewer saw the change after {seen_after:?}");
    assert!(
        seen,
        "the viewer got the change within 2 s (normally milliseconds)"
    );
    let slowest = took.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(2),
        "/health answers in milliseconds; during the floods one took {slowest:?}"
    );
}
