// The page's seq and epoch rules (js/seq-tracker.js): what it applies, ignores and resyncs.
import assert from 'node:assert/strict';
import test from 'node:test';
import { SNAPSHOT, SeqTracker, UPDATE } from '../../frontend/js/seq-tracker.js';

const EPOCH = 1763723420511;

function trackerAt(seq, epoch = EPOCH) {
  const seqs = new SeqTracker();
  seqs.snapshot(seq, epoch);
  return seqs;
}

test('before the first VENUE_STATE no update applies and there is nothing to resume from', () => {
  const seqs = new SeqTracker();
  assert.equal(seqs.update(1), UPDATE.EARLY);
  assert.equal(seqs.update(null), UPDATE.EARLY);
  assert.equal(seqs.resumePoint(), null);
  assert.equal(seqs.snapshot(5, EPOCH), SNAPSHOT.FIRST);
  assert.deepEqual(seqs.resumePoint(), { after_seq: 5, epoch: EPOCH });
});

test('seqs strictly increase: each next one applies, and the resume point follows', () => {
  const seqs = trackerAt(10);
  for (const seq of [11, 12, 13]) assert.equal(seqs.update(seq), UPDATE.APPLY);
  assert.equal(seqs.seq, 13);
  assert.deepEqual(seqs.resumePoint(), { after_seq: 13, epoch: EPOCH });
});

test('no seq twice: a repeat or an older one is ignored and changes nothing', () => {
  const seqs = trackerAt(10);
  assert.equal(seqs.update(11), UPDATE.APPLY);
  assert.equal(seqs.update(11), UPDATE.REPEAT);
  assert.equal(seqs.update(10), UPDATE.REPEAT, 'the snapshot already included 10');
  assert.equal(seqs.update(3), UPDATE.REPEAT);
  assert.equal(seqs.seq, 11);
  assert.equal(seqs.gaps, 0);
});

test('an update without a seq applies without moving the seq', () => {
  const seqs = trackerAt(10);
  assert.equal(seqs.update(undefined), UPDATE.APPLY);
  assert.equal(seqs.update('not a number'), UPDATE.APPLY);
  assert.equal(seqs.seq, 10);
});

test('a gap (which the edge promises never to send) is applied, counted and followed; no resume until the next VENUE_STATE', () => {
  // Each update carries its seat's whole state, so applying it is right for that seat; the
  // seats of 11 and 12 may be wrong, so the page asks for the whole state.
  const seqs = trackerAt(10);
  assert.equal(seqs.update(13), UPDATE.GAP, '11 and 12 never came');
  assert.equal(seqs.seq, 13);
  assert.equal(seqs.gaps, 1);
  assert.equal(seqs.update(12), UPDATE.REPEAT, 'a late one from the hole is not applied over newer news');
  assert.equal(seqs.update(14), UPDATE.APPLY);
  assert.equal(seqs.resumePoint(), null, 'a new socket must get the whole state, not what came after 14');
  assert.equal(seqs.snapshot(14, EPOCH), SNAPSHOT.SAME);
  assert.deepEqual(seqs.resumePoint(), { after_seq: 14, epoch: EPOCH });
});

test('after a VENUE_STATE of a new epoch the live seqs jump ahead of it: a gap, applied', () => {
  const seqs = trackerAt(30);
  assert.equal(seqs.snapshot(0, 987654), SNAPSHOT.NEW_EPOCH);
  assert.equal(seqs.update(31), UPDATE.GAP);
  assert.equal(seqs.resumePoint(), null);
  assert.equal(seqs.snapshot(31, 987654), SNAPSHOT.SAME);
  assert.deepEqual(seqs.resumePoint(), { after_seq: 31, epoch: 987654 });
});

test('a VENUE_STATE may jump forward, or repeat the seq we have', () => {
  const seqs = trackerAt(10);
  assert.equal(seqs.snapshot(10, EPOCH), SNAPSHOT.SAME);
  assert.equal(seqs.snapshot(500, EPOCH), SNAPSHOT.FORWARD);
  assert.equal(seqs.seq, 500);
  assert.equal(seqs.update(501), UPDATE.APPLY, 'updates follow on from the new seq');
  assert.equal(seqs.rewinds, 0);
});

test('a VENUE_STATE never goes back within an epoch: one that does is told apart and counted', () => {
  // The edge sends one only after a Redis failover lost the latest changes; it is still the truth.
  const seqs = trackerAt(40);
  assert.equal(seqs.snapshot(35, EPOCH), SNAPSHOT.REWOUND);
  assert.equal(seqs.rewinds, 1);
  assert.equal(seqs.seq, 35);
  assert.equal(seqs.update(36), UPDATE.APPLY);
});

test('a new epoch starts over: a lower seq is the truth and old seqs compare no more', () => {
  const seqs = trackerAt(900);
  assert.equal(seqs.snapshot(2, EPOCH + 1), SNAPSHOT.NEW_EPOCH);
  assert.equal(seqs.rewinds, 0, 'not a rewind: another epoch');
  assert.equal(seqs.seq, 2);
  assert.equal(seqs.epoch, EPOCH + 1);
  assert.equal(seqs.update(3), UPDATE.APPLY);
  assert.deepEqual(seqs.resumePoint(), { after_seq: 3, epoch: EPOCH + 1 });
});

test('a VENUE_STATE without a usable seq leaves nothing to apply updates to', () => {
  const seqs = trackerAt(10);
  seqs.snapshot(undefined, EPOCH);
  assert.equal(seqs.update(11), UPDATE.EARLY);
  assert.equal(seqs.resumePoint(), null);
});
