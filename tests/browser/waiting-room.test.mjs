// The waiting room end to end, in headless Chromium, against a stack whose booking service runs
// with MAX_SHOPPERS=1 (./test.sh starts a separate small stack for it: one edge, a fresh Redis).
// Three browser contexts play three people who arrive one after another: the first shops, the
// second and third wait in that order (a reload keeps the third's place), and move up when the
// first is done (booked, and holding nothing for 10 s). Then the curl way: POST /api/queue/join with a token from POST /api/session.
//
// Needs a fresh stack: places and passes live in Redis, and an admin reset clears seats only.
// Environment: as lib/page.mjs (SEATMAP_URL pointing at the MAX_SHOPPERS=1 stack).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, MOBILE, WAIT_MS, assertNoErrors, clickSeat, holdEntry, openViewer, seatSelector, shot, text,
  useBrowser, waitConnected, waitSeat,
} from './lib/page.mjs';
import { seatLock, waitQueue } from './lib/room.mjs';

useBrowser();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** The booking service frees a slot 10 s after its shopper booked while holding nothing. */
const DONE_GRACE_MS = 10000;
/** The stack's SHOPPING_SECONDS, when the runner says (test.sh does): the countdown starts there. */
const SHOPPING_SECONDS = Number(process.env.SEATMAP_SHOPPING_SECONDS || 0);
const seconds = (countdown) => {
  const [m, s] = countdown.split(':').map(Number);
  return m * 60 + s;
};

async function postJson(path, body) {
  const res = await fetch(`${BASE_URL}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  return { status: res.status, body: json };
}

test('MAX_SHOPPERS=1: the first shops, the second and third wait in order and move up when the first is done', async (t) => {
  // A arrives first: a free slot, so A is admitted at once.
  const received = new Set(); // the frame types A's page received
  const a = await openViewer('A', {
    setup: async (context, page) => page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
      try { received.add(JSON.parse(String(payload)).type); } catch { /* not JSON */ }
    })),
  });
  let info = await waitQueue(a.page, (i) => i.state === 'admitted', 'A admitted', WAIT_MS).catch((err) => {
    throw new Error('A, the first to arrive, was not admitted. This test needs a fresh stack whose booking service runs '
      + `with MAX_SHOPPERS=1. Frames A received: ${[...received].join(', ')}. ${err.message}`, { cause: err });
  });
  assert.equal(info.heading, "It's your turn");
  assert.match(info.countdown, /^\d+:\d\d$/, `A's countdown: ${info.countdown}`);
  if (SHOPPING_SECONDS) {
    const left = seconds(info.countdown);
    assert.ok(left <= SHOPPING_SECONDS + 1 && left >= SHOPPING_SECONDS - 5,
      `A's countdown shows ${info.countdown} right after admission; SHOPPING_SECONDS=${SHOPPING_SECONDS}`);
  }
  await clickSeat(a.page, 'D5');
  await waitSeat(a.page, 'D5', 'held-by-you');

  // B, then C: waiting at 1 and 2.
  const b = await openViewer('B');
  info = await waitQueue(b.page, (i) => i.state === 'waiting' && i.position === '1', 'B waiting at 1');
  assert.equal(info.ahead, 'No one ahead of you: you are next');
  assert.ok(info.wait, 'B sees an estimated wait');
  const c = await openViewer('C', { viewport: MOBILE });
  info = await waitQueue(c.page, (i) => i.state === 'waiting' && i.position === '2', 'C waiting at 2');
  assert.equal(info.ahead, '1 ahead of you');
  t.diagnostic(`C's banner: place ${info.position}, "${info.ahead}", wait "${info.wait}", progress ${info.progress}`);

  // A reload keeps C's place (the place belongs to the identity, which the page keeps).
  const userC = await text(c.page, '#user-id');
  await c.page.reload();
  await waitConnected(c.page);
  assert.equal(await text(c.page, '#user-id'), userC, 'C is the same person after the reload');
  info = await waitQueue(c.page, (i) => i.state === 'waiting' && i.position === '2', 'C still waiting at 2 after a reload');
  assert.equal(info.ahead, '1 ahead of you');

  // Their maps are live (A's hold shows), but they cannot choose seats.
  await waitSeat(b.page, 'D5', 'held', { startsWith: 'D5, held,' });
  await waitSeat(c.page, 'D5', 'held', { startsWith: 'D5, held,' });
  for (const viewer of [b, c]) {
    const lock = await seatLock(viewer.page, 'E5');
    assert.equal(lock.disabled, lock.seats, `${viewer.name}: ${lock.disabled} of ${lock.seats} seats aria-disabled`);
    assert.equal(lock.label, 'E5, available');
    assert.equal(lock.description, 'You can choose seats when it is your turn.');
  }
  await b.page.locator(seatSelector('E5')).click({ force: true });
  await sleep(500);
  await waitSeat(b.page, 'E5', 'available');
  await waitSeat(a.page, 'E5', 'available');
  const width = await c.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= MOBILE.width, `C's page is ${width}px wide at ${MOBILE.width}px`);
  await b.page.screenshot({ path: shot('waiting-room-e2e-b-waiting.png'), fullPage: true });
  await c.page.screenshot({ path: shot('waiting-room-e2e-c-waiting-mobile.png'), fullPage: true });
  for (const viewer of [a, b, c]) await assertNoErrors(viewer);

  // A books its seat and then holds nothing: after the grace, B's turn.
  await holdEntry(a.page, 'D5').getByRole('button', { name: 'Book', exact: true }).click();
  await waitSeat(a.page, 'D5', 'booked-by-you');
  const bookedAt = Date.now();
  info = await waitQueue(b.page, (i) => i.state === 'admitted', 'B admitted', DONE_GRACE_MS + 8000);
  const waited = Date.now() - bookedAt;
  t.diagnostic(`B admitted ${waited} ms after A's booking; countdown ${info.countdown}`);
  assert.ok(waited >= DONE_GRACE_MS - 1500, `B was admitted ${waited} ms after A booked: before the 10 s grace`);
  assert.ok(waited <= DONE_GRACE_MS + 3000, `B was admitted ${waited} ms after A booked (wanted about 10-12 s)`);
  assert.equal(info.heading, "It's your turn");
  assert.match(info.countdown, /^\d+:\d\d$/);
  await waitQueue(b.page, (i) => i.alert.startsWith("It's your turn"), "B's admission read out", 1000);
  assert.equal((await seatLock(b.page, 'E5')).disabled, 0, 'B can choose seats');
  await clickSeat(b.page, 'E5');
  await waitSeat(b.page, 'E5', 'held-by-you');
  await waitSeat(c.page, 'E5', 'held');

  // C moves up to 1. A's pass ended when B was admitted: A is back in the queue, behind C.
  info = await waitQueue(c.page, (i) => i.state === 'waiting' && i.position === '1', 'C waiting at 1', 3000);
  assert.equal(info.ahead, 'No one ahead of you: you are next');
  info = await waitQueue(a.page, (i) => i.state === 'waiting', 'A back in the queue', 3000);
  t.diagnostic(`A is back in the queue at ${info.position}`);
  assert.equal(info.position, '2', 'A is queued again at the end');
  await b.page.screenshot({ path: shot('waiting-room-e2e-b-admitted.png'), fullPage: true });
  await c.page.screenshot({ path: shot('waiting-room-e2e-c-next-mobile.png'), fullPage: true });
  for (const viewer of [a, b, c]) await assertNoErrors(viewer);

  // The curl way: a token from POST /api/session joins at the end; seat commands are refused.
  const session = await postJson('/api/session');
  assert.equal(session.status, 200, JSON.stringify(session.body));
  const joined = await postJson('/api/queue/join', { token: session.body.token });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  assert.equal(joined.body.state, 'waiting', JSON.stringify(joined.body));
  assert.equal(joined.body.position, 3, `curl's place: ${JSON.stringify(joined.body)}`);
  const select = await postJson('/api/seats/select', { token: session.body.token, seat_id: 'F5' });
  assert.equal(select.status, 403, JSON.stringify(select.body));
  assert.equal(select.body.error.code, 'NOT_ADMITTED');
});
