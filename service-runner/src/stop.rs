//! Stopping on Ctrl+C or SIGTERM within a bound, whatever the service cannot reach: the signal,
//! one deadline that every step of a stop shares, and a watchdog that ends the process if a
//! step overruns it anyway.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// What the services promise: after SIGTERM or SIGINT the process has exited within this
/// (docs/reliability.md, "Stopping whatever is down").
pub const STOP_BOUND: Duration = Duration::from_secs(5);

/// Every step of a graceful stop (requests in flight, close frames, background work, the last
/// words to NATS and Redis) shares this much time, counted from the signal.
pub const STOP_STEPS_WITHIN: Duration = Duration::from_secs(4);

/// Past this after the signal, the watchdog ends the process whatever it is doing: a step
/// that ignored its deadline (or a runtime waiting on a blocked thread) cannot stretch the
/// stop past `STOP_BOUND`.
pub const STOP_WATCHDOG: Duration = Duration::from_millis(4_500);

/// The exit status when the watchdog had to end the process (a clean stop exits with 0).
pub const FORCED_EXIT_STATUS: i32 = 1;

/// Resolves on Ctrl+C or SIGTERM, and arms the stop watchdog (`STOP_WATCHDOG`). Only a
/// process's `main` should use it: the watchdog ends the whole process.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!(
        bound = ?STOP_BOUND,
        "shutdown signal received; stopping within the bound"
    );
    arm_watchdog(STOP_WATCHDOG);
}

/// A plain thread, not a task: it fires even when every runtime worker is stuck.
fn arm_watchdog(after: Duration) {
    let spawned = std::thread::Builder::new()
        .name("stop-watchdog".into())
        .spawn(move || {
            std::thread::sleep(after);
            tracing::error!(
                after = ?after,
                "the stop overran its deadline; exiting without finishing it"
            );
            std::process::exit(FORCED_EXIT_STATUS);
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the stop watchdog");
    }
}

/// The one deadline of a stop that began at `began`: each step runs until it is done or until
/// its share of the time is used up.
#[derive(Debug, Clone, Copy)]
pub struct StopDeadline {
    deadline: Instant,
}

impl StopDeadline {
    /// The deadline `STOP_STEPS_WITHIN` after `began` (when the stop was asked for).
    pub fn from(began: Instant) -> Self {
        StopDeadline {
            deadline: began + STOP_STEPS_WITHIN,
        }
    }

    /// Runs `step` until it finishes or until `reserve` before the deadline (time kept for the
    /// steps after it); `None` when it was cut short.
    pub async fn run<F: Future>(&self, reserve: Duration, step: F) -> Option<F::Output> {
        tokio::time::timeout_at(self.until(reserve), step)
            .await
            .ok()
    }

    /// `reserve` before the deadline (never before now's instant arithmetic allows).
    pub fn until(&self, reserve: Duration) -> Instant {
        self.deadline.checked_sub(reserve).unwrap_or(self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_and_the_watchdog_fit_inside_the_bound() {
        assert!(STOP_STEPS_WITHIN < STOP_WATCHDOG);
        assert!(STOP_WATCHDOG < STOP_BOUND);
    }

    #[tokio::test]
    async fn a_step_is_cut_short_at_its_share_of_the_deadline() {
        // A stop that began long enough ago that 200 ms of its time are left.
        let left = Duration::from_millis(200);
        let stop = StopDeadline::from(Instant::now() - (STOP_STEPS_WITHIN - left));
        let reserve = Duration::from_millis(100);
        let asked = Instant::now();
        assert_eq!(stop.run(reserve, std::future::pending::<()>()).await, None);
        let took = asked.elapsed();
        assert!(took >= left - reserve && took < left, "{took:?}");
        assert_eq!(stop.run(Duration::ZERO, async { 7 }).await, Some(7));
        assert_eq!(
            stop.run(Duration::ZERO, std::future::pending::<()>()).await,
            None
        );
        assert!(asked.elapsed() >= left);
    }
}
