//! What the judge prints and writes: the one verdict line and the JSON with every finding.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::history::{History, Outcome};
use crate::judge::Judgement;

impl Judgement {
    /// Why the run fails; empty when it passes.
    pub fn broken_promises(&self) -> Vec<String> {
        let mut broken = Vec::new();
        if self.ok == 0 {
            broken.push("no command was answered OK: the load proved nothing".to_owned());
        }
        let mut count = |n: usize, what: &str| {
            if n > 0 {
                broken.push(format!("{n} {what}"));
            }
        };
        count(self.lost.len(), "acknowledged bookings lost");
        count(self.phantom.len(), "phantom seats");
        count(self.double_holders.len(), "double holders");
        count(self.seqs.missing.len(), "seqs missing on NATS");
        count(
            self.seqs.conflicting.len(),
            "seqs carried with two different payloads",
        );
        count(
            self.stream_vs_state.len(),
            "seats whose end state the stream does not give",
        );
        broken
    }

    pub fn passed(&self) -> bool {
        self.broken_promises().is_empty()
    }

    /// "judge: verdict pass: …; ok N, refused N (…), indeterminate N (…), lost 0, …"
    pub fn verdict_line(&self) -> String {
        let verdict = if self.passed() {
            "pass".to_owned()
        } else {
            format!("FAIL: {}", self.broken_promises().join(", "))
        };
        let refused: usize = self.refused.values().sum();
        let by_code = |counts: &BTreeMap<String, usize>| {
            counts
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut unsure: BTreeMap<String, usize> = BTreeMap::new();
        for item in &self.indeterminate {
            let how = match &item.command.outcome {
                Outcome::Unconfirmed(code) => format!("answered {code}"),
                _ => "no answer".to_owned(),
            };
            *unsure.entry(how).or_default() += 1;
        }
        let booked = self
            .indeterminate
            .iter()
            .filter(|i| i.ended == "booked")
            .count();
        format!(
            "judge: verdict {verdict}; ok {}, refused {refused} ({}), indeterminate {} ({}{}booked {booked}), lost {}, phantom {}, double holders {}, seq gaps {}, seq conflicts {}, stream vs state {}",
            self.ok,
            by_code(&self.refused),
            self.indeterminate.len(),
            by_code(&unsure),
            if unsure.is_empty() { "" } else { "; " },
            self.lost.len(),
            self.phantom.len(),
            self.double_holders.len(),
            self.seqs.missing.len(),
            self.seqs.conflicting.len(),
            self.stream_vs_state.len(),
        )
    }

    /// Every finding, and the history it was judged from.
    pub fn to_json(&self, history: &History, figures: Value) -> Value {
        let pairs = |list: &[(String, String)]| {
            list.iter()
                .map(|(seat, user)| json!({"seat": seat, "user_id": user}))
                .collect::<Vec<_>>()
        };
        json!({
            "verdict": if self.passed() { "pass" } else { "FAIL" },
            "broken": self.broken_promises(),
            "venue": history.venue,
            "hold_seconds": history.hold_seconds,
            "figures": figures,
            "ok": self.ok,
            "refused": self.refused,
            "indeterminate": self.indeterminate.iter().map(|i| {
                let mut command = i.command.to_json();
                command["ended"] = json!(i.ended);
                command
            }).collect::<Vec<_>>(),
            "lost": pairs(&self.lost),
            "phantom": pairs(&self.phantom),
            "double_holders": self.double_holders.iter().map(|d| json!({
                "seat": d.seat, "first": d.first, "second": d.second,
                "seen_in": d.seen_in, "at_ms": d.at_ms,
            })).collect::<Vec<_>>(),
            "seq_missing": self.seqs.missing,
            "seq_conflicting": self.seqs.conflicting,
            "events": history.arrivals.iter()
                .filter(|a| a.event.venue == history.venue)
                .map(|a| json!({"seq": a.event.seq, "arrived_ms": a.arrived_ms, "payload": a.payload}))
                .collect::<Vec<_>>(),
            "seq_repeats": self.seqs.repeats,
            "stream_vs_state": self.stream_vs_state,
            "initial_seq": history.initial.seq,
            "last_seq": history.last.seq,
            "events_seen": history.arrivals.len(),
            "history": history.commands.iter().map(|c| c.to_json()).collect::<Vec<_>>(),
        })
    }
}
