//! `RecentUpdates`: the last serialised `SEAT_UPDATE` frames of one venue, contiguous in seq and
//! ending at the mirror's seq, so a client that reconnects with `after_seq` can be sent exactly
//! what it missed. The frames are the very bytes fanned out to everyone (shared, not copied).

use std::collections::VecDeque;

use crate::wire::WireFrame;

/// How many updates a venue keeps for resuming clients.
pub const KEPT_UPDATES: usize = 1024;

pub struct RecentUpdates {
    frames: VecDeque<WireFrame>,
    /// The seq of the newest frame (or, when empty, the seq the next frame follows).
    last_seq: u64,
    capacity: usize,
}

impl RecentUpdates {
    pub fn new(capacity: usize) -> Self {
        RecentUpdates {
            frames: VecDeque::new(),
            last_seq: 0,
            capacity,
        }
    }

    /// Forgets everything: the next frame follows `seq` (after a rebuild from a snapshot).
    pub fn restart_at(&mut self, seq: u64) {
        self.frames.clear();
        self.last_seq = seq;
    }

    /// Keeps the frame of update `seq`; a frame that does not follow the last one restarts the
    /// buffer, so it never has a hole.
    pub fn push(&mut self, seq: u64, frame: WireFrame) {
        if seq != self.last_seq + 1 {
            self.frames.clear();
        }
        if self.frames.len() >= self.capacity {
            self.frames.pop_front();
        }
        self.frames.push_back(frame);
        self.last_seq = seq;
    }

    /// The frames of every update after `after_seq`, if all of them are kept.
    pub fn since(&self, after_seq: u64) -> Option<Vec<WireFrame>> {
        if after_seq > self.last_seq {
            return None;
        }
        let missed = usize::try_from(self.last_seq - after_seq).ok()?;
        if missed > self.frames.len() {
            return None;
        }
        Some(
            self.frames
                .range(self.frames.len() - missed..)
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> WireFrame {
        WireFrame::from(format!("u{seq}"))
    }

    fn texts(frames: Option<Vec<WireFrame>>) -> Option<Vec<String>> {
        frames.map(|f| {
            f.iter()
                .map(|t| String::from_utf8(t.to_vec()).unwrap())
                .collect()
        })
    }

    #[test]
    fn gives_exactly_the_missed_frames_while_kept() {
        let mut recent = RecentUpdates::new(3);
        recent.restart_at(10);
        assert_eq!(texts(recent.since(10)), Some(vec![]));
        assert_eq!(texts(recent.since(9)), None);
        for seq in 11..=14 {
            recent.push(seq, frame(seq));
        }
        assert_eq!(texts(recent.since(14)), Some(vec![]));
        assert_eq!(
            texts(recent.since(12)),
            Some(vec!["u13".into(), "u14".into()])
        );
        assert_eq!(texts(recent.since(11)).map(|f| f.len()), Some(3));
        assert_eq!(texts(recent.since(10)), None, "11 fell out");
        assert_eq!(texts(recent.since(15)), None, "ahead of this edge");
    }

    #[test]
    fn a_hole_or_a_restart_forgets_what_came_before() {
        let mut recent = RecentUpdates::new(8);
        recent.restart_at(0);
        recent.push(1, frame(1));
        recent.push(3, frame(3));
        assert_eq!(texts(recent.since(2)), Some(vec!["u3".into()]));
        assert_eq!(texts(recent.since(1)), None);
        recent.restart_at(20);
        assert_eq!(texts(recent.since(3)), None);
        assert_eq!(texts(recent.since(20)), Some(vec![]));
    }
}
