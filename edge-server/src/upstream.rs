//! The booking services an edge talks to (`BOOKING_URL`, a comma list), and failing over between
//! them: every request goes to the first one not marked down; one that cannot be connected to,
//! times out or drops the connection is marked down for a while and the request moves on to the
//! next, unless it may already have reached the service and must not run twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use shared::now_ms;

use crate::request_id;

/// How long a booking service that failed is passed over; then one request tries it again.
pub const DOWN_FOR: Duration = Duration::from_secs(5);

/// Whether a request may go on to the next booking service after a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Only when the connection could not be made (so the request was certainly not sent):
    /// seat commands, which must never run twice.
    IfNotSent,
    /// After any transport failure: reads and presence reports, which may be repeated.
    Always,
}

/// The list of booking services and which of them failed lately.
#[derive(Debug)]
pub struct Upstreams {
    urls: Vec<String>,
    /// Per service: unix ms until which it is passed over (0: healthy).
    down_until_ms: Vec<AtomicU64>,
}

impl Upstreams {
    pub fn new(urls: Vec<String>) -> Self {
        assert!(!urls.is_empty(), "at least one booking service URL");
        let down_until_ms = urls.iter().map(|_| AtomicU64::new(0)).collect();
        Upstreams {
            urls,
            down_until_ms,
        }
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The order to try the services in now: the healthy ones in list order (including, for
    /// one request, a failed one whose time out has passed), then the rest, so that with every
    /// service marked down each is still tried.
    fn order(&self, now: u64) -> Vec<usize> {
        let mut first = Vec::with_capacity(self.urls.len());
        let mut last = Vec::new();
        for (i, down_until) in self.down_until_ms.iter().enumerate() {
            let until = down_until.load(Ordering::Relaxed);
            let healthy = until == 0
                // Its time out has passed: this request probes it; others keep passing it over.
                || (until <= now
                    && down_until
                        .compare_exchange(until, now + DOWN_FOR.as_millis() as u64, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok());
            if healthy {
                first.push(i);
            } else {
                last.push(i);
            }
        }
        first.extend(last);
        first
    }

    fn mark_down(&self, i: usize, error: &reqwest::Error) {
        let was =
            self.down_until_ms[i].swap(now_ms() + DOWN_FOR.as_millis() as u64, Ordering::Relaxed);
        if was == 0 {
            tracing::warn!(url = %self.urls[i], %error, "booking service failed; passing it over for {DOWN_FOR:?}");
        }
    }

    fn mark_up(&self, i: usize) {
        if self.down_until_ms[i].swap(0, Ordering::Relaxed) != 0 {
            tracing::info!(url = %self.urls[i], "booking service answers again");
        }
    }

    /// Sends the request `build` makes for a service's base URL to the first service that
    /// takes it. Any HTTP answer counts as taken (an error status is the service's answer).
    pub async fn send(
        &self,
        retry: Retry,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut failure = None;
        for i in self.order(now_ms()) {
            let mut request = build(&self.urls[i]);
            // Within a client's command: the booking service logs it and answers with its id.
            if let Some(id) = request_id::current_command() {
                request = request.header(request_id::HEADER, &*id);
            }
            match request.send().await {
                Ok(response) => {
                    self.mark_up(i);
                    return Ok(response);
                }
                Err(error) => {
                    self.mark_down(i, &error);
                    let not_sent = error.is_connect();
                    failure = Some(error);
                    if !not_sent && retry == Retry::IfNotSent {
                        break; // it may have reached the service: answer, do not repeat it
                    }
                }
            }
        }
        Err(failure.expect("at least one booking service was tried"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A service that reads each request and then drops the connection without answering
    /// (it died mid-request); counts the connections it took.
    async fn dying_service() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let taken = Arc::new(AtomicUsize::new(0));
        let count = taken.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
            }
        });
        (url, taken)
    }

    /// A service that answers every request 200 `ok`; counts the requests.
    async fn live_service() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            }
        });
        (url, served)
    }

    fn dead_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    #[tokio::test]
    async fn a_command_goes_on_only_when_it_was_not_sent_reads_always() {
        let http = reqwest::Client::new();
        let (dying, dying_took) = dying_service().await;
        let (live, live_served) = live_service().await;
        let post = |base: &str| http.post(format!("{base}/api/seats/select")).body("{}");
        let get = |base: &str| http.get(format!("{base}/api/venues/main"));

        // Nothing listens on the first: the command was not sent, so it goes to the second.
        let upstreams = Upstreams::new(vec![dead_url(), live.clone()]);
        let answer = upstreams.send(Retry::IfNotSent, post).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(live_served.load(Ordering::SeqCst), 1);

        // The first took the command and died: it may have run, so it is not sent again.
        let upstreams = Upstreams::new(vec![dying.clone(), live.clone()]);
        assert!(upstreams.send(Retry::IfNotSent, post).await.is_err());
        assert_eq!(dying_took.load(Ordering::SeqCst), 1);
        assert_eq!(live_served.load(Ordering::SeqCst), 1, "not repeated");
        // It is passed over from now on.
        assert!(upstreams.send(Retry::IfNotSent, post).await.is_ok());
        assert_eq!(dying_took.load(Ordering::SeqCst), 1);
        assert_eq!(live_served.load(Ordering::SeqCst), 2);

        // A read goes on to the next after any failure.
        let upstreams = Upstreams::new(vec![dying, live]);
        assert_eq!(
            upstreams.send(Retry::Always, get).await.unwrap().status(),
            200
        );
        assert_eq!(dying_took.load(Ordering::SeqCst), 2);
        assert_eq!(live_served.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_failed_service_is_passed_over_then_probed_by_one_request() {
        let upstreams = Upstreams::new(vec!["http://a".into(), "http://b".into()]);
        assert_eq!(upstreams.order(1_000), vec![0, 1]);
        upstreams.down_until_ms[0].store(6_000, Ordering::Relaxed);
        assert_eq!(upstreams.order(2_000), vec![1, 0], "passed over while down");
        assert_eq!(upstreams.order(6_000), vec![0, 1], "one request probes it");
        assert_eq!(
            upstreams.order(6_001),
            vec![1, 0],
            "the others keep passing it over"
        );
        upstreams.mark_up(0);
        assert_eq!(upstreams.order(6_002), vec![0, 1]);
    }
}
