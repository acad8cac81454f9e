//! A bad network between NATS and the edges: a forwarder from the NATS the booking service
//! publishes to, to a second NATS the edges subscribe to, that can lose, repeat and reorder
//! events on the way, or cut them off altogether. Both ends are real nats-server processes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

/// What the link does to the events passing through; change it at any time.
#[derive(Default)]
pub struct Link {
    /// Lose every n-th event (0: none).
    pub drop_every: AtomicU64,
    /// Send every n-th event twice (0: none).
    pub repeat_every: AtomicU64,
    /// Hold every n-th event back until the one after it has gone (0: none).
    pub swap_every: AtomicU64,
    /// Lose everything.
    pub cut: AtomicBool,
    /// Events that came in.
    pub seen: AtomicU64,
}

impl Link {
    pub fn set(&self, drop_every: u64, repeat_every: u64, swap_every: u64) {
        self.drop_every.store(drop_every, Ordering::Relaxed);
        self.repeat_every.store(repeat_every, Ordering::Relaxed);
        self.swap_every.store(swap_every, Ordering::Relaxed);
    }

    fn every(setting: &AtomicU64, n: u64) -> bool {
        let every = setting.load(Ordering::Relaxed);
        every > 0 && n.is_multiple_of(every)
    }

    /// Forwards `seats.>` from `from` to `to` until the test ends.
    pub async fn start(from: &str, to: &str) -> Arc<Link> {
        let link = Arc::new(Link::default());
        let source = async_nats::connect(from).await.expect("connect to NATS");
        let sink = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(to)
            .await
            .expect("connect to the edges' NATS");
        let mut events = source
            .subscribe(shared::event::SUBJECT_ALL)
            .await
            .expect("subscribe");
        source.flush().await.expect("flush");
        let state = link.clone();
        tokio::spawn(async move {
            let _source = source; // keep the connection open
            let mut held: Option<async_nats::Message> = None;
            loop {
                let message = tokio::select! {
                    message = events.next() => match message {
                        Some(message) => message,
                        None => break,
                    },
                    // A held event goes on by itself if nothing follows it soon.
                    _ = tokio::time::sleep(Duration::from_millis(100)), if held.is_some() => {
                        let late = held.take().expect("held");
                        let _ = sink.publish(late.subject, late.payload).await;
                        continue;
                    }
                };
                let n = state.seen.fetch_add(1, Ordering::Relaxed) + 1;
                if state.cut.load(Ordering::Relaxed) || Link::every(&state.drop_every, n) {
                    continue;
                }
                if held.is_none() && Link::every(&state.swap_every, n) {
                    held = Some(message);
                    continue;
                }
                let copies = if Link::every(&state.repeat_every, n) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let _ = sink
                        .publish(message.subject.clone(), message.payload.clone())
                        .await;
                }
                if let Some(late) = held.take() {
                    let _ = sink.publish(late.subject, late.payload).await;
                }
            }
        });
        link
    }
}
