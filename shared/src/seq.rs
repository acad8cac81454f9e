//! A viewer's side of the seq contract, as pure bookkeeping: updates come one by one in seq
//! order and never twice; a missed seq is noticed; a `VENUE_STATE` may jump forward but never
//! back within an epoch; a new epoch starts the seqs over. Every client that checks a stream of
//! `VENUE_STATE`s and `SEAT_UPDATE`s (the test viewers, the fault viewers, the load tool's
//! viewers) keeps its position here and decides itself what a breach costs it.

/// Where one viewer is in one venue's stream of changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqTracker {
    /// The epoch of the last `VENUE_STATE`; `None` before one, or after resuming without it.
    epoch: Option<u64>,
    /// The last seq applied (from a `VENUE_STATE` or an update); `None` before anything.
    seq: Option<u64>,
}

/// What a `VENUE_STATE` means for the viewer's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateCheck {
    /// The viewer's first position.
    First,
    /// At or after the seq already held, in the same epoch: a resync may skip changes.
    Forward,
    /// Another epoch (or one the viewer did not know): the seqs start over from here.
    NewEpoch,
    /// Behind `from` within the same epoch: the viewer would show an older venue than it did.
    /// The state is still taken (it is what the server says now).
    WentBack { from: u64 },
}

/// What a `SEAT_UPDATE` means for the viewer's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateCheck {
    /// The seq right after the last one: apply it.
    Next,
    /// Later than the next one: apply it, but the seqs after `after` and before it never came.
    Gap { after: u64 },
    /// At or before `last`, the seq already applied (a repeat, or one overtaken by a later
    /// one): not applied, the position stays.
    Stale { last: u64 },
    /// Before any position (a stream without snapshots starts this way): it becomes the start.
    First,
}

impl SeqTracker {
    /// A viewer that has seen nothing yet.
    pub fn new() -> SeqTracker {
        SeqTracker::default()
    }

    /// A viewer resuming at `seq` of `epoch` (`None`: it does not know the epoch, so the next
    /// `VENUE_STATE` is taken as a new start whatever its seq).
    pub fn resumed(epoch: Option<u64>, seq: u64) -> SeqTracker {
        SeqTracker {
            epoch,
            seq: Some(seq),
        }
    }

    /// The last seq applied.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// The epoch of the last `VENUE_STATE`, or the one resumed in.
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// Takes a `VENUE_STATE` at `seq` of `epoch`; the position is now there in every case.
    pub fn state(&mut self, epoch: u64, seq: u64) -> StateCheck {
        let check = match (self.seq, self.epoch) {
            (None, _) => StateCheck::First,
            (Some(last), Some(known)) if known == epoch => {
                if seq < last {
                    StateCheck::WentBack { from: last }
                } else {
                    StateCheck::Forward
                }
            }
            (Some(_), _) => StateCheck::NewEpoch,
        };
        self.epoch = Some(epoch);
        self.seq = Some(seq);
        check
    }

    /// Takes a `SEAT_UPDATE` at `seq`; the position moves unless it is `Stale`.
    pub fn update(&mut self, seq: u64) -> UpdateCheck {
        let check = match self.seq {
            None => UpdateCheck::First,
            Some(last) if seq <= last => return UpdateCheck::Stale { last },
            Some(last) if seq == last + 1 => UpdateCheck::Next,
            Some(last) => UpdateCheck::Gap { after: last },
        };
        self.seq = Some(seq);
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_one_by_one_are_next() {
        let mut tracker = SeqTracker::new();
        assert_eq!(tracker.state(1, 10), StateCheck::First);
        assert_eq!(tracker.update(11), UpdateCheck::Next);
        assert_eq!(tracker.update(12), UpdateCheck::Next);
        assert_eq!((tracker.epoch(), tracker.seq()), (Some(1), Some(12)));
    }

    #[test]
    fn a_seq_twice_or_out_of_order_is_stale_and_not_applied() {
        let mut tracker = SeqTracker::new();
        tracker.state(1, 10);
        tracker.update(11);
        assert_eq!(tracker.update(11), UpdateCheck::Stale { last: 11 });
        assert_eq!(tracker.update(9), UpdateCheck::Stale { last: 11 });
        assert_eq!(tracker.update(10), UpdateCheck::Stale { last: 11 });
        assert_eq!(tracker.seq(), Some(11));
    }

    #[test]
    fn a_gap_is_noticed_and_the_later_seq_applied() {
        let mut tracker = SeqTracker::new();
        tracker.state(1, 10);
        assert_eq!(tracker.update(13), UpdateCheck::Gap { after: 10 });
        assert_eq!(tracker.seq(), Some(13));
        assert_eq!(tracker.update(14), UpdateCheck::Next);
    }

    #[test]
    fn a_state_may_jump_forward_but_not_back_within_an_epoch() {
        let mut tracker = SeqTracker::new();
        tracker.state(1, 10);
        assert_eq!(tracker.state(1, 10), StateCheck::Forward);
        assert_eq!(tracker.state(1, 50), StateCheck::Forward);
        assert_eq!(tracker.state(1, 40), StateCheck::WentBack { from: 50 });
        // The state is what the server says now: the position follows it.
        assert_eq!(tracker.seq(), Some(40));
        assert_eq!(tracker.update(41), UpdateCheck::Next);
    }

    #[test]
    fn a_new_epoch_starts_over() {
        let mut tracker = SeqTracker::new();
        tracker.state(1, 500);
        assert_eq!(tracker.state(2, 0), StateCheck::NewEpoch);
        assert_eq!(tracker.update(1), UpdateCheck::Next);
        assert_eq!((tracker.epoch(), tracker.seq()), (Some(2), Some(1)));
    }

    #[test]
    fn an_update_before_any_state_becomes_the_start() {
        let mut tracker = SeqTracker::new();
        assert_eq!(tracker.update(7), UpdateCheck::First);
        assert_eq!(tracker.update(8), UpdateCheck::Next);
        assert_eq!(tracker.epoch(), None);
    }

    #[test]
    fn resuming_keeps_the_position_and_an_unknown_epoch_accepts_any_state() {
        let mut known = SeqTracker::resumed(Some(3), 20);
        assert_eq!(known.update(21), UpdateCheck::Next);
        assert_eq!(known.state(3, 5), StateCheck::WentBack { from: 21 });

        let mut unknown = SeqTracker::resumed(None, 20);
        assert_eq!(unknown.state(3, 5), StateCheck::NewEpoch);
        assert_eq!(unknown.epoch(), Some(3));
    }
}
