// Request bookkeeping (js/request-book.js): req_id → the command, answered by OK or ERROR,
// given up after a timeout, and dropped when the socket is gone.
import assert from 'node:assert/strict';
import test from 'node:test';
import { RequestBook } from '../../frontend/js/request-book.js';

/** Timers that fire only when the test says so. */
function fakeTimers() {
  const due = new Map();
  let next = 1;
  return {
    setTimeout(fn, ms) { due.set(next, { fn, ms }); return next++; },
    clearTimeout(id) { due.delete(id); },
    fireAll() {
      const fns = [...due.values()].map((t) => t.fn);
      due.clear();
      fns.forEach((fn) => fn());
    },
    get count() { return due.size; },
  };
}

test('each command gets its own req_id, and one seat has at most one in flight', () => {
  const book = new RequestBook({ timeoutMs: 10000, timers: fakeTimers() });
  const first = book.open({ action: 'select', seatId: 'D5', mark: 0 });
  const second = book.open({ action: 'select', seatId: 'D6', mark: 0 });
  assert.equal(first, 'r-1');
  assert.equal(second, 'r-2');
  assert.equal(book.open({ action: 'book', seatId: 'D5', mark: 1 }), null, 'D5 is still waiting');
  assert.ok(book.isBusy('D5'));
  assert.ok(book.isBusy('D6'));
  assert.equal(book.pending.size, 2);
});

test('an OK or ERROR takes the command it answers, once', () => {
  const timers = fakeTimers();
  const book = new RequestBook({ timeoutMs: 10000, timers });
  const reqId = book.open({ action: 'book', seatId: 'D5', mark: 7 });
  const request = book.take(reqId);
  assert.equal(request.action, 'book');
  assert.equal(request.seatId, 'D5');
  assert.equal(request.mark, 7);
  assert.equal(book.isBusy('D5'), false);
  assert.equal(timers.count, 0, 'its timeout is cleared');
  assert.equal(book.take(reqId), undefined, 'a second answer matches nothing');
  assert.equal(book.open({ action: 'release', seatId: 'D5', mark: 8 }), 'r-2', 'the seat is free for the next');
});

test('answers with no req_id or one we never sent match nothing', () => {
  const book = new RequestBook({ timeoutMs: 10000, timers: fakeTimers() });
  book.open({ action: 'select', seatId: 'D5', mark: 0 });
  assert.equal(book.take(null), undefined);
  assert.equal(book.take(undefined), undefined);
  assert.equal(book.take('r-99'), undefined);
  assert.ok(book.isBusy('D5'));
});

test('a command with no answer in time is given up, and its callback told', () => {
  const timers = fakeTimers();
  const book = new RequestBook({ timeoutMs: 10000, timers });
  const timedOut = [];
  const reqId = book.open({ action: 'select', seatId: 'D5', mark: 0 }, (r) => timedOut.push(r.seatId));
  timers.fireAll();
  assert.deepEqual(timedOut, ['D5']);
  assert.equal(book.isBusy('D5'), false);
  assert.equal(book.take(reqId), undefined, 'a late answer matches nothing');
});

test('when the socket is gone every command is dropped; ids are never reused', () => {
  const timers = fakeTimers();
  const book = new RequestBook({ timeoutMs: 10000, timers });
  book.open({ action: 'select', seatId: 'D5', mark: 0 });
  book.open({ action: 'book', seatId: 'E1', mark: 0 });
  assert.deepEqual(book.dropAll().sort(), ['D5', 'E1']);
  assert.equal(book.pending.size, 0);
  assert.equal(book.isBusy('D5'), false);
  assert.equal(timers.count, 0, 'no timeout left behind');
  assert.equal(book.take('r-1'), undefined, 'an answer for the old socket matches nothing');
  assert.equal(book.open({ action: 'select', seatId: 'D5', mark: 1 }), 'r-3', 'the count goes on');
  assert.deepEqual(book.dropAll(), ['D5']);
  assert.deepEqual(book.dropAll(), [], 'nothing twice');
});

test('a command on several seats keeps each of them busy until it is answered', () => {
  const book = new RequestBook({ timeoutMs: 10000, timers: fakeTimers() });
  const group = book.open({ action: 'select', seatIds: ['D5', 'D6'], mark: 3 });
  assert.ok(book.isBusy('D5') && book.isBusy('D6'));
  assert.equal(book.open({ action: 'select', seatIds: ['D6', 'D7'], mark: 3 }), null, 'D6 is in a group in flight');
  assert.equal(book.open({ action: 'release', seatId: 'D5', mark: 3 }), null);
  const request = book.take(group);
  assert.deepEqual(request.seatIds, ['D5', 'D6']);
  assert.ok(!book.isBusy('D5') && !book.isBusy('D6'));
});

test('best available names no seat yet: one at a time, and its extra fields are kept', () => {
  const book = new RequestBook({ timeoutMs: 10000, timers: fakeTimers() });
  const reqId = book.open({ action: 'best', seatIds: [], mark: 0, count: 4, where: 'in Floor' });
  assert.ok(book.bestPending());
  assert.ok(!book.isBusy('D5'));
  const request = book.take(reqId);
  assert.equal(request.count, 4);
  assert.equal(request.where, 'in Floor');
  assert.ok(!book.bestPending());
});
