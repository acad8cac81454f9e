//! What the measured processes cost: CPU time used between two readings and resident memory,
//! for the servers named with `--server` and for seatbench's own processes. The API run and
//! every fan-out phase read them the same way.

use crate::sys::{cpu_ms_sum, rss_kib_sum};

/// Processes whose CPU and memory are reported under one name.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub pids: Vec<u32>,
}

impl Server {
    /// This seatbench process alone.
    pub fn me(name: &str) -> Server {
        Server {
            name: name.to_owned(),
            pids: vec![std::process::id()],
        }
    }
}

/// CPU time of each server, read when it starts; `used_ms` reads it again.
pub struct CpuMeter<'a> {
    servers: &'a [Server],
    start_ms: Vec<u64>,
}

impl<'a> CpuMeter<'a> {
    pub fn start(servers: &'a [Server]) -> CpuMeter<'a> {
        CpuMeter {
            servers,
            start_ms: servers.iter().map(|s| cpu_ms_sum(&s.pids)).collect(),
        }
    }

    /// (name, CPU ms) of each server since `start`.
    pub fn used_ms(&self) -> Vec<(&'a str, u64)> {
        self.servers
            .iter()
            .zip(&self.start_ms)
            .map(|(server, start)| {
                let used = cpu_ms_sum(&server.pids).saturating_sub(*start);
                (server.name.as_str(), used)
            })
            .collect()
    }

    /// The CPU ms of all servers together since `start`.
    pub fn total_ms(&self) -> u64 {
        self.used_ms().iter().map(|(_, ms)| ms).sum()
    }
}

/// Resident memory of each server now, in KiB.
pub fn rss_kib(servers: &[Server]) -> Vec<u64> {
    servers.iter().map(|s| rss_kib_sum(&s.pids)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meters_this_process() {
        let me = [Server::me("seatbench")];
        let meter = CpuMeter::start(&me);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let used = meter.used_ms();
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].0, "seatbench");
        assert!(rss_kib(&me)[0] > 0);
    }
}
