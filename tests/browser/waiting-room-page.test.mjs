// Browser tests for the page's waiting room, against the ordinary stack (waiting room off):
// the page's socket goes to the real stack through a tap, and the test adds the QUEUE, ADMITTED
// and ERROR NOT_ADMITTED frames a stack with MAX_SHOPPERS > 0 would send. So this checks what
// the page does with each message (banner, locked seats, countdown, what screen readers hear,
// rate limits) on its own; waiting-room.test.mjs checks the real thing end to end.
// Fixtures and environment: lib/page.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MOBILE, WAIT_MS, assertNoErrors, clickSeat, holdEntry, openViewer, seatSelector, shot, text, useBrowser,
  waitSeat,
} from './lib/page.mjs';
import { queueInfo, seatLock, tapSockets, waitQueue } from './lib/room.mjs';

useBrowser();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const queue = (position, size, wait) => ({ type: 'QUEUE', data: { venue: 'main', position, size, estimated_wait_s: wait } });
const admitted = (untilMs) => ({ type: 'ADMITTED', data: { venue: 'main', until_ms: untilMs } });
const pageNow = (page) => page.evaluate(() => Date.now());

/** A viewer whose socket is tapped, connected, with the server's own frames already in. */
async function tappedViewer(name, options = {}) {
  let tap;
  const viewer = await openViewer(name, {
    ...options,
    setup: async (context) => {
      if (options.clock) await context.clock.install();
      tap = await tapSockets(context);
    },
  });
  // The VENUE_STATE answering CONNECT has arrived (the page is connected): now inject.
  return { viewer, tap };
}

test('no QUEUE or ADMITTED (waiting room off): no banner, every seat can be chosen', async () => {
  const { viewer: a, tap } = await tappedViewer('A');
  await clickSeat(a.page, 'C2');
  await waitSeat(a.page, 'C2', 'held-by-you');
  const info = await queueInfo(a.page);
  assert.equal(info.shown, false, `banner shown: ${JSON.stringify(info)}`);
  assert.equal(info.note, null, 'the "not your turn" note is hidden');
  assert.equal((await seatLock(a.page, 'D5')).disabled, 0, 'no seat is aria-disabled');
  assert.ok(!tap.frames.some((f) => f.type === 'QUEUE' || f.type === 'ADMITTED'), 'the stack sent no waiting-room frames');
  await assertNoErrors(a);
});

test('QUEUE: the banner shows place, people ahead, wait and progress; seats cannot be chosen; positions read out at most every 30 s', async (t) => {
  const { viewer: a, tap } = await tappedViewer('A', { clock: true });

  await tap.inject(queue(3, 7, 170));
  let info = await waitQueue(a.page, (i) => i.state === 'waiting' && i.position === '3', 'waiting at 3');
  assert.equal(info.heading, 'You are in the queue');
  assert.equal(info.ahead, '2 ahead of you');
  assert.equal(info.wait, 'about 3 min');
  assert.equal(info.progress, 0, 'no progress yet at the position we joined at');
  assert.equal(info.note, 'You can choose seats when it is your turn.');
  await waitQueue(a.page, (i) => i.live.startsWith('You are in the queue: number 3, 2 ahead of you'), 'joining read out');

  // Seats: still live and named by the contract, but aria-disabled, with the reason as description.
  const lock = await seatLock(a.page, 'D5');
  assert.equal(lock.disabled, lock.seats, `${lock.disabled} of ${lock.seats} seats aria-disabled`);
  assert.equal(lock.label, 'D5, available');
  assert.equal(lock.ariaDisabled, 'true');
  assert.equal(lock.description, 'You can choose seats when it is your turn.');
  await a.page.locator(seatSelector('D5')).click({ force: true });
  await a.page.locator(seatSelector('D5')).focus();
  await a.page.keyboard.press('Enter');
  await sleep(300);
  assert.deepEqual(tap.sent.filter((f) => f.type === 'SELECT_SEAT'), [], 'a waiting page sent SELECT_SEAT');
  assert.equal((await seatLock(a.page, 'D5')).label, 'D5, available');
  await assertNoErrors(a);

  // The map stays live: another person's hold shows.
  const { viewer: b } = await tappedViewer('B');
  await clickSeat(b.page, 'E5');
  await waitSeat(a.page, 'E5', 'held', { startsWith: 'E5, held,' });

  // Moving up: the banner at once, the announcement not before 30 s since the last one.
  const joinedText = (await queueInfo(a.page)).live;
  await tap.inject(queue(2, 6, 110));
  info = await waitQueue(a.page, (i) => i.position === '2', 'position 2');
  assert.equal(info.ahead, '1 ahead of you');
  assert.equal(info.wait, 'about 2 min');
  assert.ok(Math.abs(info.progress - 1 / 3) < 0.01, `progress ${info.progress}, wanted 1/3 (joined at 3)`);
  await tap.inject(queue(1, 5, 40));
  info = await waitQueue(a.page, (i) => i.position === '1', 'position 1');
  assert.equal(info.ahead, 'No one ahead of you: you are next');
  assert.equal(info.wait, 'less than a minute');
  await sleep(1500);
  assert.equal((await queueInfo(a.page)).live, joinedText, 'a position was read out within 30 s of the last');

  await a.page.clock.fastForward(30000);
  info = await waitQueue(a.page, (i) => i.live.startsWith('You are now number 1, you are next'), 'the newest position read out after 30 s');
  t.diagnostic(`read out: "${info.live}"`);
  await a.page.screenshot({ path: shot('waiting-room-waiting.png'), fullPage: true });
});

test('ADMITTED: "It\'s your turn" at once, a countdown, seats selectable; when it runs out the page says so; NOT_ADMITTED is explained', async () => {
  const { viewer: a, tap } = await tappedViewer('A');
  await tap.inject(queue(1, 1, 0));
  await waitQueue(a.page, (i) => i.state === 'waiting' && i.wait === 'any moment now', 'waiting at 1');

  await tap.inject(admitted((await pageNow(a.page)) + 125000));
  let info = await waitQueue(a.page, (i) => i.state === 'admitted', 'admitted');
  assert.equal(info.heading, "It's your turn");
  assert.match(info.countdown, /^2:0[3-6]$/, `countdown ${info.countdown}`);
  assert.equal(info.note, null, 'no "not your turn" note');
  await waitQueue(a.page, (i) => i.alert.startsWith("It's your turn. You have 2 minutes"), 'admission read out at once', 1000);
  assert.equal((await seatLock(a.page, 'D5')).disabled, 0, 'every seat can be chosen');
  await clickSeat(a.page, 'D5');
  await waitSeat(a.page, 'D5', 'held-by-you');
  await a.page.screenshot({ path: shot('waiting-room-admitted.png'), fullPage: true });
  await holdEntry(a.page, 'D5').getByRole('button', { name: 'Book', exact: true }).click();
  await waitSeat(a.page, 'D5', 'booked-by-you');

  // The same pass again (a reconnect): nothing read out twice.
  await a.page.evaluate(() => { document.getElementById('queue-alert').textContent = ''; });
  await tap.inject(admitted((await pageNow(a.page)) + 2500));
  await sleep(300);
  assert.equal((await queueInfo(a.page)).alert, '', 'the same admission was read out again');

  // The pass runs out: the page says so, and seats are locked again (but your own).
  info = await waitQueue(a.page, (i) => i.state === 'ended', 'the pass ended', 5000);
  assert.equal(info.heading, 'Your time is up');
  await waitQueue(a.page, (i) => i.alert.startsWith('Your time to choose seats is up'), 'the end read out at once', 1000);
  const lock = await seatLock(a.page, 'D6');
  assert.equal(lock.ariaDisabled, 'true', 'D6 is locked again');
  assert.equal(lock.disabled, lock.seats - 1, 'every seat but your own booking is locked again');
  assert.equal((await seatLock(a.page, 'D5')).ariaDisabled, null, 'your own seat is not');
  await a.page.screenshot({ path: shot('waiting-room-ended.png'), fullPage: true });

  // Back in the queue at the end.
  await tap.inject(queue(4, 4, 600));
  info = await waitQueue(a.page, (i) => i.state === 'waiting' && i.position === '4', 'waiting again at 4');
  assert.equal(info.wait, 'about 10 min');
  await waitQueue(a.page, (i) => i.live.startsWith('Your turn has ended. You are back in the queue: number 4'), 'requeue read out');
  await assertNoErrors(a);

  // A seat command refused with NOT_ADMITTED: a clear message.
  await tap.inject({ type: 'ERROR', data: { req_id: 'r-999', code: 'NOT_ADMITTED', message: 'not admitted', seat_id: 'D6' } });
  await a.page.waitForFunction(() => document.getElementById('errors').textContent.includes('not your turn'), null, { timeout: WAIT_MS });
  assert.match(await text(a.page, '#errors'), /It is not your turn to choose seats yet\. Keep this page open to keep your place in the queue\./);
});

test('the waiting banner fits at 375 px, under the page\'s CSP', async () => {
  const { viewer: phone, tap } = await tappedViewer('phone', { viewport: MOBILE });
  await tap.inject(queue(12, 40, 3725));
  const info = await waitQueue(phone.page, (i) => i.position === '12', 'waiting at 12');
  assert.equal(info.wait, 'about 1 h 2 min');
  const layout = await phone.page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    banner: document.getElementById('queue').getBoundingClientRect().width,
    styles: document.querySelectorAll('style, [style]:not(#seat-grid):not(.hold-bar > span)').length,
  }));
  assert.ok(layout.scrollWidth <= MOBILE.width, `page is ${layout.scrollWidth}px wide at ${MOBILE.width}px`);
  assert.ok(layout.banner <= MOBILE.width, `banner is ${layout.banner}px wide`);
  assert.equal(layout.styles, 0, 'inline styles');
  await phone.page.screenshot({ path: shot('waiting-room-mobile.png'), fullPage: true });
  assert.deepEqual(phone.csp, [], 'CSP violations');
  assert.deepEqual(phone.console, [], 'console errors');
  await assertNoErrors(phone);
});
