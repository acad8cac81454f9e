//! Latency histograms: log-linear buckets (128 per power of two, so any value is within 0.8 % of
//! its bucket), mergeable across viewer processes, with the exact maximum kept beside them.

use serde::{Deserialize, Serialize};
use std::fmt;

const SUB: u64 = 128;

/// Counts of nanosecond values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Histogram {
    /// Sparse: (bucket, count), built on demand by `to_wire`; empty in memory.
    #[serde(default)]
    wire: Vec<(u32, u64)>,
    #[serde(skip)]
    counts: Vec<u64>,
    pub count: u64,
    pub max_ns: u64,
    pub sum_ns: u128,
}

fn bucket(ns: u64) -> usize {
    if ns < SUB {
        return ns as usize;
    }
    let e = 63 - u64::from(ns.leading_zeros()); // >= 7
    let mantissa = ns >> (e - 7); // 128..=255
    ((e - 6) * SUB + (mantissa - SUB)) as usize
}

/// The midpoint of a bucket's range.
fn value_of(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index;
    }
    let e = index / SUB + 6;
    let mantissa = index % SUB + SUB;
    let low = mantissa << (e - 7);
    let width = 1u64 << (e - 7);
    low + width / 2
}

impl Histogram {
    pub fn record(&mut self, ns: u64) {
        let b = bucket(ns);
        if self.counts.len() <= b {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        self.sum_ns += u128::from(ns);
    }

    pub fn merge(&mut self, other: &Histogram) {
        let mut other = other.clone();
        other.load_wire();
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (i, c) in other.counts.iter().enumerate() {
            self.counts[i] += c;
        }
        self.count += other.count;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.sum_ns += other.sum_ns;
    }

    /// Fills the sparse form for sending.
    pub fn to_wire(&mut self) {
        self.wire = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i as u32, *c))
            .collect();
    }

    /// Rebuilds the dense form after receiving.
    fn load_wire(&mut self) {
        if self.counts.is_empty() && !self.wire.is_empty() {
            let len = self
                .wire
                .iter()
                .map(|(i, _)| *i as usize + 1)
                .max()
                .unwrap_or(0);
            self.counts = vec![0; len];
            for (i, c) in &self.wire {
                self.counts[*i as usize] = *c;
            }
        }
        self.wire.clear();
    }

    /// The value at quantile `q` (0..=1), in nanoseconds; the maximum is exact.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        if q >= 1.0 {
            return self.max_ns;
        }
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_of(i).min(self.max_ns);
            }
        }
        self.max_ns
    }

    pub fn mean_ns(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            (self.sum_ns / u128::from(self.count)) as u64
        }
    }

    /// The summary row: p50, p90, p99, p99.9 and max, in milliseconds.
    pub fn summary(&self) -> Summary {
        let ms = |ns: u64| ns as f64 / 1e6;
        Summary {
            count: self.count,
            p50_ms: ms(self.quantile(0.50)),
            p90_ms: ms(self.quantile(0.90)),
            p99_ms: ms(self.quantile(0.99)),
            p999_ms: ms(self.quantile(0.999)),
            max_ms: ms(self.max_ns),
            mean_ms: ms(self.mean_ns()),
        }
    }
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_within_one_percent() {
        for ns in [
            0,
            1,
            127,
            128,
            129,
            255,
            256,
            1_000,
            123_456,
            9_999_999,
            3_000_000_000,
        ] {
            let v = value_of(bucket(ns));
            let err = (v as f64 - ns as f64).abs() / (ns as f64).max(1.0);
            assert!(err <= 0.008, "{ns} -> {v}");
        }
    }

    #[test]
    fn percentiles_of_a_known_set() {
        let mut h = Histogram::default();
        for ms in 1..=1000u64 {
            h.record(ms * 1_000_000);
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 500.0).abs() < 4.0, "{s}");
        assert!((s.p99_ms - 990.0).abs() < 8.0, "{s}");
        assert!((s.p999_ms - 999.0).abs() < 8.0, "{s}");
        assert_eq!(s.max_ms, 1000.0);
    }

    #[test]
    fn merges_over_the_wire() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        a.record(1_000);
        b.record(5_000_000);
        b.to_wire();
        let b: Histogram = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        a.merge(&b);
        assert_eq!(a.count, 2);
        assert_eq!(a.max_ns, 5_000_000);
        assert!(a.quantile(1.0) == 5_000_000 && a.quantile(0.5) < 1_100);
    }
}
