//! What each viewer noted (every update's seq and receive instant, resyncs, duplicates, order),
//! and how a group's notes become the answers to the driver: counts, joins and reports.

use shared::{SeqTracker, StateCheck, UpdateCheck};

use super::{Joins, Report};

/// One viewer's notes, owned by the event loop and read only between its batches.
#[derive(Default)]
pub struct Notes {
    pub connect_ns: u64,
    pub ready_ns: Option<u64>,
    pub state_bytes: usize,
    /// The seq of the first VENUE_STATE: changes up to it came before the viewer joined (a
    /// viewer that joins while changes run), so its state already had them.
    pub joined_at_seq: u64,
    /// Where the viewer is in the stream: the last seq applied (from a VENUE_STATE or an
    /// update) and its epoch, by the same rules every viewer checks.
    pub position: SeqTracker,
    /// (seq, received ns) of updates since the last report, in seq order.
    pub updates: Vec<(u64, u64)>,
    /// Seqs of VENUE_STATEs received after the first one, since the last report.
    pub resync_states: Vec<u64>,
    /// Updates at or before the position already seen (the last one, or one noted since the
    /// last report).
    pub duplicates: u64,
    /// Other updates at or before the position, and VENUE_STATEs that went back in an epoch.
    pub out_of_order: u64,
    pub closed: Option<String>,
}

impl Notes {
    /// An update; a gap is not counted here: the report finds each missing seq (or the resync
    /// that covered it).
    pub fn update(&mut self, seq: u64, at: u64) {
        match self.position.update(seq) {
            UpdateCheck::Stale { last } => {
                let seen = seq == last || self.updates.binary_search_by_key(&seq, |u| u.0).is_ok();
                if seen {
                    self.duplicates += 1;
                } else {
                    self.out_of_order += 1;
                }
            }
            UpdateCheck::Next | UpdateCheck::Gap { .. } | UpdateCheck::First => {
                self.updates.push((seq, at));
            }
        }
    }

    /// A VENUE_STATE of `bytes` at `seq` of `epoch`: the first makes the viewer ready, later
    /// ones are resyncs.
    pub fn state(&mut self, epoch: u64, seq: u64, bytes: usize, at: u64) {
        let check = self.position.state(epoch, seq);
        if self.ready_ns.is_none() {
            self.ready_ns = Some(at);
            self.state_bytes = bytes;
            self.joined_at_seq = seq;
        } else {
            if matches!(check, StateCheck::WentBack { .. }) {
                self.out_of_order += 1;
            }
            self.resync_states.push(seq);
        }
    }
}

/// Joins of the viewers that reached the loop (`failed` and `first_error` are the caller's).
pub fn joins<'a>(notes: impl Iterator<Item = &'a Notes>) -> Joins {
    let mut joins = Joins::default();
    for n in notes {
        if let Some(ready) = n.ready_ns {
            joins.ready += 1;
            joins.join.record(ready.saturating_sub(n.connect_ns));
            joins.state_bytes = joins.state_bytes.max(n.state_bytes as u64);
        }
    }
    joins
}

/// Updates received so far with seq in `from..=to` (or that came before the viewer joined: its
/// first state had them), and how many ready viewers closed since.
pub fn count<'a>(notes: impl Iterator<Item = &'a Notes>, from: u64, to: u64) -> (u64, u64) {
    let mut delivered = 0u64;
    let mut closed = 0u64;
    for n in notes {
        let lo = n.updates.partition_point(|u| u.0 < from);
        let hi = n.updates.partition_point(|u| u.0 <= to);
        delivered += (hi - lo) as u64;
        if n.ready_ns.is_some() && n.joined_at_seq >= from {
            delivered += n.joined_at_seq.min(to) - from + 1;
        }
        closed += u64::from(n.closed.is_some() && n.ready_ns.is_some());
    }
    (delivered, closed)
}

/// Latency and correctness for the changes `first_seq ..` sent at `sent_ns` (and, when given,
/// seen by the NATS probe at `probe_ns`, 0 = not seen); then forgets what was noted so far (order
/// checking goes on across reports).
pub fn report<'a>(
    notes: impl Iterator<Item = &'a mut Notes>,
    first_seq: u64,
    sent_ns: &[u64],
    probe_ns: &[u64],
) -> Report {
    let mut report = Report::default();
    for n in notes {
        if n.ready_ns.is_none() {
            // Never joined: counted as a failed connection, not as missing deliveries.
            continue;
        }
        report.viewers += 1;
        if let Some(reason) = &n.closed {
            report.closed += 1;
            if report.close_reasons.len() < 5 && !report.close_reasons.contains(reason) {
                report.close_reasons.push(reason.clone());
            }
        }
        let covered_to = n.resync_states.iter().copied().max().unwrap_or(0);
        let mut updates = n.updates.iter().peekable();
        for (i, sent) in sent_ns.iter().enumerate() {
            let seq = first_seq + i as u64;
            if seq <= n.joined_at_seq {
                report.before_join += 1; // its first state had it: nothing to deliver
                continue;
            }
            report.expected += 1;
            while updates.next_if(|u| u.0 < seq).is_some() {}
            match updates.peek() {
                Some(&&(s, at)) if s == seq => {
                    report.delivered += 1;
                    report.latency.record(at.saturating_sub(*sent));
                    if let Some(&probe) = probe_ns.get(i).filter(|p| **p > 0) {
                        report.hop.record(at.saturating_sub(probe));
                    }
                }
                _ if seq <= covered_to => report.resynced += 1,
                _ => report.missing += 1,
            }
        }
        report.duplicates += n.duplicates;
        report.out_of_order += n.out_of_order;
        // Keeps the capacity: the next phase notes into the same memory without growing it.
        n.updates.clear();
        n.resync_states.clear();
        n.duplicates = 0;
        n.out_of_order = 0;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_count_duplicates_and_reordering() {
        let mut n = Notes::default();
        n.state(1, 10, 100, 1);
        n.update(11, 2);
        n.update(11, 3);
        n.update(13, 4);
        n.update(12, 5);
        assert_eq!((n.duplicates, n.out_of_order), (1, 1));
        assert_eq!(n.updates, vec![(11, 2), (13, 4)]);
    }

    #[test]
    fn a_state_counts_as_out_of_order_only_when_it_goes_back_within_its_epoch() {
        let mut n = Notes::default();
        n.state(1, 10, 100, 1);
        n.state(1, 12, 100, 2);
        n.state(1, 8, 100, 3);
        assert_eq!(n.out_of_order, 1);
        n.state(2, 0, 100, 4); // a new epoch starts over
        assert_eq!(n.out_of_order, 1);
        assert_eq!(n.resync_states, vec![12, 8, 0]);
        n.update(1, 5);
        assert_eq!(n.updates, vec![(1, 5)]);
    }

    #[test]
    fn reports_missing_and_resynced() {
        let mut notes = [Notes::default(), Notes::default()];
        let n = &mut notes[0];
        n.state(1, 0, 10, 0);
        n.update(1, 1_000);
        n.state(1, 3, 10, 5_000); // a resync covering 2 and 3
        n.update(5, 9_000); // 4 never arrives
                            // notes[1] never joined: not counted at all.
        assert_eq!(count(notes.iter(), 1, 5), (2, 0));
        let report = report(notes.iter_mut(), 1, &[0, 0, 0, 0, 0], &[]);
        assert_eq!(report.viewers, 1);
        assert_eq!(report.delivered, 2);
        assert_eq!(report.resynced, 2);
        assert_eq!(report.missing, 1);
        assert_eq!(report.latency.max_ns, 9_000);
        assert!(!report.is_correct());
        assert_eq!(count(notes.iter(), 1, 5), (0, 0));
    }

    #[test]
    fn changes_before_a_viewer_joined_are_neither_expected_nor_missing() {
        let mut notes = [Notes::default()];
        notes[0].state(1, 7, 10, 0); // joined while changes 5… ran: its state had 5, 6 and 7
        notes[0].update(8, 1_000);
        assert_eq!(count(notes.iter(), 5, 9), (4, 0));
        let report = report(notes.iter_mut(), 5, &[0, 0, 0, 0, 0], &[]);
        assert_eq!((report.before_join, report.expected), (3, 2));
        assert_eq!((report.delivered, report.missing), (1, 1));
    }
}
