// The venue's seq and epoch as this page has applied them: which VENUE_STATE and SEAT_UPDATE
// frames to apply, and where a new socket resumes from.
// Pure: no DOM, no network (unit-tested in tests/page/seq-tracker.test.mjs).
//
// The rules (docs/protocol.md, "Sequence guarantees"):
// - SEAT_UPDATE seqs strictly increase: one at or below ours is a repeat and is ignored.
// - The edge promises no gaps. One anyway is applied (each update carries the seat's whole state,
//   so applying it is right for that seat) and counted, so it can be seen; the seq follows it.
//   The seats the skipped seqs changed may be wrong here, so the page asks for the whole state,
//   and until a VENUE_STATE comes there is nothing to resume from.
// - A VENUE_STATE is the whole truth as of its seq. It may jump forward; a new epoch starts seqs
//   over (a lower seq is still the truth). It never goes back within an epoch, except after a
//   Redis failover that lost the latest changes: then it is still the truth, and counted.

/** What a VENUE_STATE did to the seq: all are applied. */
export const SNAPSHOT = Object.freeze({
  FIRST: 'first', SAME: 'same', FORWARD: 'forward', NEW_EPOCH: 'new-epoch', REWOUND: 'rewound',
});

/** What to do with a SEAT_UPDATE. */
export const UPDATE = Object.freeze({
  APPLY: 'apply',   // the next seq (or an update without one): apply it
  GAP: 'gap',       // seqs were skipped: apply it all the same (counted in `gaps`)
  REPEAT: 'repeat', // already included in what we show: ignore it
  EARLY: 'early',   // before any VENUE_STATE: nothing to apply it to, ignore it
});

const seqOf = (value) => (value != null && Number.isFinite(Number(value)) ? Number(value) : null);

export class SeqTracker {
  constructor() {
    this.seq = -1;          // the last seq applied; -1 before the first VENUE_STATE
    this.epoch = null;      // from VENUE_STATE; seqs compare only within one epoch
    this.gaps = 0;          // SEAT_UPDATEs that skipped seqs
    this.rewinds = 0;       // VENUE_STATEs that went back within an epoch
    this.gapped = false;    // an update skipped seqs since the last VENUE_STATE
  }

  /** A VENUE_STATE with `seq` and `epoch`: it replaces what we had. */
  snapshot(seq, epoch) {
    const nextSeq = seqOf(seq) ?? -1;
    const nextEpoch = seqOf(epoch);
    let verdict;
    if (this.seq < 0) verdict = SNAPSHOT.FIRST;
    else if (nextEpoch !== this.epoch) verdict = SNAPSHOT.NEW_EPOCH;
    else if (nextSeq > this.seq) verdict = SNAPSHOT.FORWARD;
    else if (nextSeq === this.seq) verdict = SNAPSHOT.SAME;
    else verdict = SNAPSHOT.REWOUND;
    if (verdict === SNAPSHOT.REWOUND) this.rewinds++;
    this.gapped = false;
    this.seq = nextSeq;
    this.epoch = nextEpoch;
    return verdict;
  }

  /** A SEAT_UPDATE with `seq` (null when it carries none): whether and how to apply it. */
  update(seq) {
    if (this.seq < 0) return UPDATE.EARLY;
    const next = seqOf(seq);
    if (next == null) return UPDATE.APPLY;
    if (next <= this.seq) return UPDATE.REPEAT;
    const skipped = next > this.seq + 1;
    this.seq = next;
    if (!skipped) return UPDATE.APPLY;
    this.gaps++;
    this.gapped = true;
    return UPDATE.GAP;
  }

  /**
   * What a CONNECT on a new socket resumes from: the last seq and its epoch, so the edge sends
   * just what we missed. None before the first VENUE_STATE, nor after a gap until the next one:
   * the view is not whole up to our seq.
   */
  resumePoint() {
    if (this.seq < 0 || this.epoch == null || this.gapped) return null;
    return { after_seq: this.seq, epoch: this.epoch };
  }
}
