//! An independent judge of best available, written from the contract and docs/architecture.md
//! rather than from the script: from the served chart and the seats taken just before an
//! answer, every block that fits the request, and whether the answer was one of the best.

#![allow(dead_code)]

use std::collections::HashSet;

use serde_json::{json, Value};

/// One seat as the judge sees it.
#[derive(Debug, Clone)]
pub struct Place {
    pub id: String,
    /// Hundredths of a chart unit to the focal point, rounded.
    pub distance: u64,
    pub blocked: bool,
    pub wheelchair: bool,
    pub companion: bool,
    pub category: String,
    pub section: String,
}

/// What a best-available request asked for.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub count: usize,
    pub category: Option<String>,
    pub section: Option<String>,
    pub accessible: bool,
}

impl Ask {
    /// The request's body for `POST /api/seats/best`, without `token` and `venue`.
    pub fn body(&self) -> Value {
        let mut body = json!({"count": self.count, "accessible": self.accessible});
        if let Some(category) = &self.category {
            body["category"] = json!(category);
        }
        if let Some(section) = &self.section {
            body["section"] = json!(section);
        }
        body
    }
}

/// A small deterministic generator (xorshift), so a failing run can be replayed.
pub struct Dice(pub u64);

impl Dice {
    /// A number below `n`.
    pub fn roll(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A block that fits: its seats and how it ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub ids: Vec<String>,
    /// (distance band, strands a seat, sum of distances): smaller is better.
    pub rank: (u64, bool, u64),
}

/// A venue's runs: each row cut at its aisles.
pub struct Hall {
    pub runs: Vec<Vec<Place>>,
}

impl Hall {
    /// From `GET /api/venues/{venue}/chart`.
    pub fn from_chart(chart: &Value) -> Hall {
        let focal = &chart["focal_point"];
        let (fx, fy) = (focal["x"].as_f64().unwrap(), focal["y"].as_f64().unwrap());
        let mut runs = Vec::new();
        for section in chart["sections"].as_array().unwrap() {
            let section_id = section["id"].as_str().unwrap();
            for row in section["rows"].as_array().unwrap() {
                let mut run: Vec<Place> = Vec::new();
                for item in row["seats"].as_array().unwrap() {
                    if item == "aisle" {
                        runs.push(std::mem::take(&mut run));
                        continue;
                    }
                    let flag = |name: &str| item[name].as_bool().unwrap_or(false);
                    let (x, y) = (item["x"].as_f64().unwrap(), item["y"].as_f64().unwrap());
                    run.push(Place {
                        id: item["id"].as_str().unwrap().to_owned(),
                        distance: ((x - fx).hypot(y - fy) * 100.0).round() as u64,
                        blocked: flag("blocked"),
                        wheelchair: flag("accessible"),
                        companion: flag("companion"),
                        category: item["category"].as_str().unwrap().to_owned(),
                        section: section_id.to_owned(),
                    });
                }
                runs.push(run);
            }
        }
        runs.retain(|run| !run.is_empty());
        Hall { runs }
    }

    /// Every seat for sale, run by run.
    pub fn for_sale(&self) -> Vec<String> {
        self.runs
            .iter()
            .flatten()
            .filter(|p| !p.blocked)
            .map(|p| p.id.clone())
            .collect()
    }

    /// Every block that fits `ask` with `taken` seats taken. Ordinary requests use companion
    /// seats only when no block without them fits; with the single-seat rule on, a block that
    /// strands a seat its stretch could have spared does not fit.
    pub fn fitting(&self, ask: &Ask, taken: &HashSet<String>, rule: bool) -> Vec<Block> {
        let blocks = self.blocks(ask, taken, rule, ask.accessible);
        if blocks.is_empty() && !ask.accessible {
            return self.blocks(ask, taken, rule, true);
        }
        blocks
    }

    fn blocks(
        &self,
        ask: &Ask,
        taken: &HashSet<String>,
        rule: bool,
        companions: bool,
    ) -> Vec<Block> {
        let n = ask.count;
        let mut found = Vec::new();
        for run in &self.runs {
            let free: Vec<bool> = run
                .iter()
                .map(|p| !p.blocked && !taken.contains(&p.id))
                .collect();
            for start in 0..run.len().saturating_sub(n - 1) {
                let seats = &run[start..start + n];
                if !(start..start + n).all(|i| free[i]) {
                    continue;
                }
                let wheelchairs = seats.iter().filter(|p| p.wheelchair).count();
                let allowed = seats.iter().all(|p| {
                    ask.category.as_ref().is_none_or(|c| *c == p.category)
                        && ask.section.as_ref().is_none_or(|s| *s == p.section)
                        && (ask.accessible || (!p.wheelchair && (companions || !p.companion)))
                });
                if !allowed || (ask.accessible && wheelchairs != 1) {
                    continue;
                }
                // The free stretch the block lies in.
                let mut a = start;
                while a > 0 && free[a - 1] {
                    a -= 1;
                }
                let mut b = start + n - 1;
                while b + 1 < run.len() && free[b + 1] {
                    b += 1;
                }
                let strands = start - a == 1 || b - (start + n - 1) == 1;
                if rule && strands && b - a + 1 != n + 1 {
                    continue;
                }
                let sum: u64 = seats.iter().map(|p| p.distance).sum();
                found.push(Block {
                    ids: seats.iter().map(|p| p.id.clone()).collect(),
                    rank: (sum / (n as u64 * 100), strands, sum),
                });
            }
        }
        found
    }

    /// Whether `chosen` was one of the best answers to `ask` with `taken` taken just before:
    /// a block that fits, and none fits with a better rank.
    pub fn judge(
        &self,
        ask: &Ask,
        taken: &HashSet<String>,
        rule: bool,
        chosen: &[String],
    ) -> Result<(), String> {
        let fitting = self.fitting(ask, taken, rule);
        let Some(mine) = fitting.iter().find(|b| b.ids == chosen) else {
            return Err(format!("{chosen:?} is not a free block that fits {ask:?}"));
        };
        let best = fitting.iter().map(|b| b.rank).min().unwrap();
        if mine.rank != best {
            let better = fitting.iter().find(|b| b.rank == best).unwrap();
            return Err(format!(
                "{ask:?}: chose {chosen:?} ranked {:?}, but {:?} ranked {best:?} was free",
                mine.rank, better.ids
            ));
        }
        Ok(())
    }
}
