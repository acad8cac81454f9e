// The single-seat rule in the browser, against a stack whose grid has the rule on
// (SINGLE_SEAT_RULE=1; test.sh starts one for this file): a seat, or two chosen together, that
// would leave a single seat alone is refused in words naming it, and best available is offered.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newSession, post } from './lib/net.mjs';
import {
  WAIT_MS, clickSeat, openViewer, seatSelector, shot, text, useBrowser, waitSeat,
} from './lib/page.mjs';

useBrowser();

/**
 * Whether the stack runs the main grid with the single-seat rule (SINGLE_SEAT_RULE=1): asked of
 * the booking service with a select that would leave A1 alone (undone at once when it is allowed).
 */
async function gridSingleSeatRule() {
  const { token } = await newSession('127.0.0.1');
  const res = await post('/api/seats/select', { seat_id: 'A2', token, venue: 'main' });
  if (res.status === 200) await post('/api/seats/release', { seat_id: 'A2', token, venue: 'main' });
  return res.status === 409 && res.body?.error?.code === 'SINGLE_SEAT_GAP';
}

test('the single-seat rule: a seat that would leave one alone is refused in words, and best available is offered', async () => {
  assert.ok(await gridSingleSeatRule(), 'this stack must run the grid with SINGLE_SEAT_RULE=1 (test.sh starts one)');
  const a = await openViewer('A');
  await clickSeat(a.page, 'C2');
  await a.page.locator('#errors').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.match(await text(a.page, '#errors .error-text'),
    /^Holding C2 would leave C1 on its own, .* let Best available choose for you\.$/);
  await waitSeat(a.page, 'C2', 'available');
  await a.page.locator('#errors').getByRole('button', { name: 'Use best available' }).click();
  assert.equal(await a.page.evaluate(() => document.activeElement.id), 'best-count', 'the offer takes you to best available');

  // Two seats chosen together that would leave one alone: refused whole, the seat named.
  for (const id of ['D2', 'D3']) await a.page.locator(seatSelector(id)).click({ modifiers: ['Shift'] });
  await a.page.getByRole('button', { name: 'Hold these 2 seats together' }).click();
  await a.page.waitForFunction(() => document.getElementById('errors').textContent.includes('Holding D2 and D3'), null, { timeout: WAIT_MS });
  assert.match(await text(a.page, '#errors .error-text'), /^Holding D2 and D3 would leave D1 on its own, /);
  await waitSeat(a.page, 'D2', 'available');
  await waitSeat(a.page, 'D3', 'available');
  await a.page.screenshot({ path: shot('single-seat-gap.png'), fullPage: true });
});
