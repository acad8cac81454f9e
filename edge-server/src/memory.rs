//! Giving memory back to the system after a crowd of connections is gone: glibc's allocator
//! keeps the pages of freed buffers in its arenas, so without a trim an edge's RSS stays at its
//! peak after thousands of viewers left (or vanished and were freed by the edge's pings).

use std::time::Duration;

use crate::metrics::Metrics;

/// How often the connection count is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// A trim follows a fall of at least this many connections from the highest count since the
/// last trim. Trimming walks every arena under its lock, so not after every close; 500 idle
/// connections hold about 2.5 MiB (docs/benchmarks.md), less is not worth a walk.
const TRIM_AFTER_FALL: i64 = 500;

/// The highest connection count since the last trim, and when to trim next.
#[derive(Debug, Default)]
pub struct TrimWatch {
    peak: i64,
}

impl TrimWatch {
    /// Takes the current connection count; true when memory should be given back now.
    pub fn observe(&mut self, connections: i64) -> bool {
        self.peak = self.peak.max(connections);
        if self.peak - connections >= TRIM_AFTER_FALL {
            self.peak = connections;
            return true;
        }
        false
    }
}

/// Runs for the life of the edge: gives freed memory back after each large fall of the
/// connection count.
pub async fn give_back_after_crowds(metrics: Metrics) {
    let mut watch = TrimWatch::default();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tick.tick().await;
        if watch.observe(metrics.connections.get()) {
            let connections = metrics.connections.get();
            // Milliseconds on a heap of tens of MiB, but off the async workers all the same.
            let _ = tokio::task::spawn_blocking(release_free_memory).await;
            tracing::debug!(
                connections,
                "gave freed memory back after connections closed"
            );
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    extern "C" {
        /// glibc: returns the free pages of every arena to the system (`malloc_trim(3)`).
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: malloc_trim takes no pointers and is safe to call from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

/// Other allocators (musl, macOS) give memory back on their own or have no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_a_large_fall_from_the_peak() {
        let mut watch = TrimWatch::default();
        assert!(!watch.observe(0));
        assert!(
            !watch.observe(2000),
            "a crowd arriving is no reason to trim"
        );
        assert!(!watch.observe(1600), "a fall of 400 is too small");
        assert!(watch.observe(1500), "a fall of 500 from the peak");
        assert!(!watch.observe(1400), "the peak starts over at the trim");
        assert!(!watch.observe(1200));
        assert!(watch.observe(900), "another 500 below where it trimmed");
        assert!(!watch.observe(900));
    }

    /// Resident memory of this process, in KiB.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn trimming_gives_back_freed_small_buffers() {
        // 32 MiB of small buffers (as connections leave behind), then one kept after them, so
        // the freed space is not at the top of the heap, where glibc would give it back anyway.
        let buffers: Vec<Vec<u8>> = (0..64 * 1024).map(|i| vec![i as u8; 512]).collect();
        let kept = vec![1u8; 512];
        let full = rss_kib();
        drop(buffers);
        release_free_memory();
        let trimmed = rss_kib();
        assert_eq!(kept.len(), 512);
        assert!(
            trimmed + 16 * 1024 < full,
            "RSS {full} KiB with the buffers, {trimmed} KiB after freeing and trimming"
        );
    }
}
