// Browser tests for the seat map frontend, against the whole running stack
// (NGINX in front of two or more edges, the booking service, Redis, NATS).
//
// Two browser contexts per test play two separate people ("A" and "B"): separate cookies
// (so NGINX may pick different edges), separate localStorage (so separate identities).
// Every check waits on what the page shows (data-status, aria-label, #conn-status) with a
// timeout; the only fixed waits are in the expiry test, where time itself is the subject.
// Fixtures, helpers and the environment they read: lib/page.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HOLD_SECONDS, KILL_EDGE, MOBILE, RECONNECT_MS, WAIT_MS, assertNoErrors, clickSeat, closeViewer,
  holdEntry, killEdge, openViewer, seatInfo, shot, text, useBrowser, waitConnected, waitSeat,
} from './lib/page.mjs';

useBrowser();

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

test('1. a hold in one browser shows as held in the other', async () => {
  const a = await openViewer('A');
  const b = await openViewer('B');
  assert.notEqual(await text(a.page, '#user-id'), await text(b.page, '#user-id'), 'A and B must be different users');
  await waitSeat(b.page, 'D5', 'available', { startsWith: 'D5, available' });

  await clickSeat(a.page, 'D5');

  await waitSeat(a.page, 'D5', 'held-by-you', { startsWith: 'D5, held by you, ', includes: 'seconds left' });
  await waitSeat(b.page, 'D5', 'held', { startsWith: 'D5, held,', includes: 'seconds left' });
  await holdEntry(a.page, 'D5').waitFor({ timeout: WAIT_MS });
  assert.equal(await holdEntry(b.page, 'D5').count(), 0, "D5 must not be in B's holds");

  // The available count follows: one fewer than the seats on the map.
  const total = await b.page.locator('#seat-grid button[data-seat]').count();
  await b.page.waitForFunction((want) => document.getElementById('available-count').textContent.trim() === String(want),
    total - 1, { timeout: WAIT_MS });

  await assertNoErrors(a);
  await assertNoErrors(b);
  await a.page.screenshot({ path: shot('seatmap.png'), fullPage: true });
});

test('2. booking from the panel turns the seat booked in both browsers', async () => {
  const a = await openViewer('A');
  const b = await openViewer('B');

  await clickSeat(a.page, 'E5');
  await waitSeat(a.page, 'E5', 'held-by-you');
  await waitSeat(b.page, 'E5', 'held');

  await holdEntry(a.page, 'E5').getByRole('button', { name: 'Book', exact: true }).click();

  await waitSeat(a.page, 'E5', 'booked-by-you', { startsWith: 'E5, booked by you' });
  await waitSeat(b.page, 'E5', 'booked', { startsWith: 'E5, booked' });
  assert.equal((await seatInfo(b.page, 'E5')).label, 'E5, booked');
  await holdEntry(a.page, 'E5').waitFor({ state: 'detached', timeout: WAIT_MS });

  await assertNoErrors(a);
  await assertNoErrors(b);
});

test('3. a hold that is not booked turns available again after the hold time', async () => {
  const a = await openViewer('A');
  const b = await openViewer('B');

  const clickedAt = Date.now();
  await clickSeat(a.page, 'F5');
  await waitSeat(a.page, 'F5', 'held-by-you');
  await waitSeat(b.page, 'F5', 'held');

  // Time is the subject here: the hold must last about HOLD_SECONDS, then end for everyone.
  const deadline = clickedAt + (HOLD_SECONDS + 3) * 1000;
  const timeout = () => Math.max(1, deadline - Date.now());
  await waitSeat(a.page, 'F5', 'available', { startsWith: 'F5, available', timeout: timeout() });
  await waitSeat(b.page, 'F5', 'available', { startsWith: 'F5, available', timeout: timeout() });
  const lasted = Date.now() - clickedAt;
  assert.ok(lasted >= (HOLD_SECONDS - 1) * 1000,
    `the hold ended after ${lasted} ms, well before HOLD_SECONDS=${HOLD_SECONDS}`);
  await holdEntry(a.page, 'F5').waitFor({ state: 'detached', timeout: WAIT_MS });

  await assertNoErrors(a);
  await assertNoErrors(b);
});

test('4. a reload keeps the user id, the hold and its countdown', async () => {
  const a = await openViewer('A');
  const b = await openViewer('B');

  await clickSeat(a.page, 'G5');
  await waitSeat(a.page, 'G5', 'held-by-you');
  const userId = await text(a.page, '#user-id');

  await a.page.reload();
  await waitConnected(a.page);
  await a.page.waitForFunction((want) => document.getElementById('user-id').textContent.trim() === want,
    userId, { timeout: WAIT_MS });
  await waitSeat(a.page, 'G5', 'held-by-you', { startsWith: 'G5, held by you, ', includes: 'seconds left' });
  await holdEntry(a.page, 'G5').waitFor({ timeout: WAIT_MS });
  await waitSeat(b.page, 'G5', 'held');
  assert.equal(await text(a.page, '#user-id'), userId);

  await assertNoErrors(a);
  await assertNoErrors(b);
});

test('5. usable at 375 px wide (no horizontal scroll) and a mobile screenshot', async () => {
  const a = await openViewer('A');
  const phone = await openViewer('phone', { viewport: MOBILE });

  await clickSeat(a.page, 'C3');
  await clickSeat(phone.page, 'H6');
  await waitSeat(phone.page, 'C3', 'held');
  await waitSeat(phone.page, 'H6', 'held-by-you');
  await holdEntry(phone.page, 'H6').waitFor({ timeout: WAIT_MS });

  const layout = await phone.page.evaluate(() => {
    const seat = document.querySelector('#seat-grid button[data-seat]').getBoundingClientRect();
    return { scrollWidth: document.documentElement.scrollWidth, seatWidth: seat.width, seatHeight: seat.height };
  });
  assert.ok(layout.scrollWidth <= MOBILE.width, `page is ${layout.scrollWidth}px wide at ${MOBILE.width}px`);
  assert.ok(layout.seatWidth >= 20 && layout.seatHeight >= 20, `seats too small to tap: ${JSON.stringify(layout)}`);

  await phone.page.screenshot({ path: shot('seatmap-mobile.png'), fullPage: true });
  await assertNoErrors(a);
  await assertNoErrors(phone);
});

// Last: it leaves one edge dead.
test('6. killing the edge serving A: A reconnects elsewhere and its view matches the truth',
  async (t) => {
    if (!KILL_EDGE) throw new Error('SEATMAP_KILL_EDGE is not set: it names the command that kills one edge (scripts/kill-edge.sh)');
    const a = await openViewer('A');
    const edgeA = await text(a.page, '#edge-id');
    const userA = await text(a.page, '#user-id');

    // B must be served by another edge, so the kill leaves B connected. The edge is picked by
    // hashing a random per-browser cookie, so a few fresh contexts find one.
    let b = null;
    for (let i = 0; i < 16 && !b; i++) {
      const candidate = await openViewer('B');
      if (await text(candidate.page, '#edge-id') !== edgeA) b = candidate;
      else await closeViewer(candidate);
    }
    assert.ok(b, `every browser landed on ${edgeA}: is a second edge running?`);

    // Record every state #conn-status passes through: a reconnect can be quicker than polling.
    await a.page.evaluate(() => {
      const status = document.getElementById('conn-status');
      window.__connStates = [];
      new MutationObserver(() => window.__connStates.push(status.dataset.state))
        .observe(status, { attributes: true, attributeFilter: ['data-state'] });
    });

    // Fault injection: while the gate is shut, A's new WebSockets go to a path nobody serves
    // and fail, so A stays disconnected until B has changed a seat. That makes "a change
    // made while A was away" certain instead of a race against A's quick reconnect.
    await a.page.evaluate(() => {
      const RealWebSocket = window.WebSocket;
      const gate = { open: false };
      window.__seatmapGate = gate;
      function GatedWebSocket(url, protocols) {
        const target = gate.open ? url : new URL('/__seatmap_test_gate_closed__', url).href;
        return protocols === undefined ? new RealWebSocket(target) : new RealWebSocket(target, protocols);
      }
      GatedWebSocket.prototype = RealWebSocket.prototype;
      for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) GatedWebSocket[k] = RealWebSocket[k];
      window.WebSocket = GatedWebSocket;
    });

    await clickSeat(a.page, 'J1');
    const heldAt = Date.now();
    await waitSeat(a.page, 'J1', 'held-by-you');

    killEdge(edgeA);
    await a.page.waitForFunction(() => window.__connStates.includes('reconnecting'), null, { timeout: WAIT_MS });

    // While A is away, B takes a seat.
    await clickSeat(b.page, 'J2');
    await waitSeat(b.page, 'J2', 'held-by-you');
    assert.equal((await seatInfo(a.page, 'J2')).status, 'available', 'A cannot have seen J2 yet');
    await a.page.evaluate(() => { window.__seatmapGate.open = true; });

    await waitConnected(a.page, RECONNECT_MS);
    const states = await a.page.evaluate(() => window.__connStates);
    assert.ok(states.indexOf('reconnecting') < states.lastIndexOf('connected'),
      `#conn-status went ${states.join(' → ')}`);
    const newEdge = await text(a.page, '#edge-id');
    assert.notEqual(newEdge, edgeA, `A is still shown as served by the killed ${edgeA}`);
    await a.page.waitForFunction((want) => document.getElementById('user-id').textContent.trim() === want,
      userA, { timeout: WAIT_MS });

    // A's view matches the truth: B's seat (missed live) is held, A's own hold survived.
    await waitSeat(a.page, 'J2', 'held', { startsWith: 'J2, held,' });
    // expires_at is whole seconds, so the hold may end up to a second before HOLD_SECONDS.
    const holdLeftMs = heldAt + (HOLD_SECONDS - 1) * 1000 - Date.now();
    t.diagnostic(`A moved ${edgeA} → ${newEdge} via ${states.join(' → ')}; its hold had ${holdLeftMs} ms left`);
    assert.ok(holdLeftMs > 0,
      `reconnecting took longer than the hold (${HOLD_SECONDS} s), so the hold cannot be checked; run with a longer SEATMAP_HOLD_SECONDS`);
    await waitSeat(a.page, 'J1', 'held-by-you', { startsWith: 'J1, held by you, ', timeout: holdLeftMs });
    await waitSeat(b.page, 'J1', 'held');

    await assertNoErrors(a);
    await assertNoErrors(b);
  });
