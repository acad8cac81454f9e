//! What Linux says about processes: the monotonic clock every seatbench process shares, CPU time
//! and resident memory from `/proc`.

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in the driver and in every viewer process on
/// this machine, so a send time and a receive time from two processes can be subtracted.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// The fields of /proc/<pid>/stat after the command name (which may contain spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// User + system CPU time a process has used so far, in milliseconds (0 if it is gone).
pub fn cpu_ms(pid: u32) -> u64 {
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    stat_fields(pid)
        .and_then(|f| Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
        .map(|ticks| ticks * 1000 / ticks_per_second())
        .unwrap_or(0)
}

/// Sum of `cpu_ms` over processes.
pub fn cpu_ms_sum(pids: &[u32]) -> u64 {
    pids.iter().map(|p| cpu_ms(*p)).sum()
}

/// Resident memory (VmRSS) of a process in KiB (0 if it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// Sum of `rss_kib` over processes.
pub fn rss_kib_sum(pids: &[u32]) -> u64 {
    pids.iter().map(|p| rss_kib(*p)).sum()
}

/// The direct children of a process (e.g. NGINX's workers under its master).
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            stat_fields(*pid)
                .and_then(|f| f.get(1)?.parse::<u32>().ok())
                .is_some_and(|ppid| ppid == parent)
        })
        .collect();
    children.sort_unstable();
    children
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(rss_kib(me) > 0);
        let a = now_ns();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(now_ns() > a);
        let _ = cpu_ms(me);
        assert_eq!(rss_kib(u32::MAX - 1), 0);
    }
}
