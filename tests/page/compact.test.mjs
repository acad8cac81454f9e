// The compact VENUE_STATE and MINE (js/compact.js), as the contract gives them.
import assert from 'node:assert/strict';
import test from 'node:test';
import { decodeCompact, decodeMine, isCompact } from '../../frontend/js/compact.js';

const ORDER = ['112-F-14', '112-F-15', '112-F-16', '112-F-17'];

test('a compact state: one digit per seat in seat order, expiries of held seats by index', () => {
  const data = {
    venue: 'arena', seq: 12, epoch: 1765000000000, layout: 'chart', state: 'compact', count: 4,
    status: '0120', held: [[1, 1765000030]], server_time_ms: 1765000001000,
  };
  assert.ok(isCompact(data));
  const { seats, mismatch } = decodeCompact(data, ORDER);
  assert.equal(mismatch, false);
  assert.deepEqual(seats, [
    { id: '112-F-14', status: 0, held_by: null, expires_at: null },
    { id: '112-F-15', status: 1, held_by: null, expires_at: 1765000030 },
    { id: '112-F-16', status: 2, held_by: null, expires_at: null },
    { id: '112-F-17', status: 0, held_by: null, expires_at: null },
  ]);
});

test('the full form is not compact', () => {
  assert.equal(isCompact({ venue: 'main', seats: [] }), false);
  assert.equal(isCompact({ venue: 'main', state: 'compact' }), false, 'no status string');
});

test('a state that does not fit the seat order says so, and decodes what it can', () => {
  const { seats, mismatch } = decodeCompact({ state: 'compact', count: 3, status: '012', held: [[7, 1]] }, ORDER);
  assert.equal(mismatch, true);
  assert.equal(seats.length, 3);
  assert.ok(seats.every((s) => s.expires_at === null), 'a held index past the end is ignored');
});

test('MINE: held seats with their expiry, booked seats', () => {
  const mine = decodeMine({ venue: 'arena', seq: 12, held: [{ id: '112-F-14', expires_at: 1765000030 }], booked: ['112-F-15'] });
  assert.deepEqual([...mine.held], [['112-F-14', 1765000030]]);
  assert.deepEqual([...mine.booked], ['112-F-15']);
  assert.deepEqual(decodeMine({}), { held: new Map(), booked: new Set() });
});
