// Browser tests for the seat map frontend, against the whole running stack
// (NGINX in front of two or more edges, the booking service, Redis, NATS).
//
// Two browser contexts per test play two separate people ("A" and "B"): separate cookies
// (so NGINX may pick different edges), separate localStorage (so separate identities).
// Every check waits on what the page shows (data-status, aria-label, #conn-status) with a
// timeout; the only fixed waits are in the expiry test, where time itself is the subject.
//
// Environment:
//   SEATMAP_URL             required, e.g. http://127.0.0.1:8089
//   SEATMAP_ADMIN_TOKEN     required, for POST /api/admin/reset before each test
//   SEATMAP_HOLD_SECONDS    the stack's HOLD_SECONDS (default 30)
//   SEATMAP_KILL_EDGE       command that kills one edge, given its id (e.g. edge-3000);
//                           the edge-kill test is skipped without it
//   SEATMAP_SCREENSHOT_DIR  where screenshots go (default tests/browser/artifacts)
//   CHROMIUM_PATH           default /usr/bin/chromium

import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.SEATMAP_URL || '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('SEATMAP_URL is not set: start the stack and point SEATMAP_URL at NGINX, e.g. SEATMAP_URL=http://127.0.0.1:8089');
}
const ADMIN_TOKEN = process.env.SEATMAP_ADMIN_TOKEN || '';
const HOLD_SECONDS = Number(process.env.SEATMAP_HOLD_SECONDS || 30);
const KILL_EDGE = process.env.SEATMAP_KILL_EDGE || '';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOT_DIR = path.resolve(process.env.SEATMAP_SCREENSHOT_DIR || path.join(HERE, 'artifacts'));

const WAIT_MS = 5000;        // "a few seconds" for anything that should take milliseconds
const RECONNECT_MS = 15000;  // backoff is capped at ~5 s; allow a couple of attempts
const DESKTOP = { width: 1280, height: 900 };
const MOBILE = { width: 375, height: 812 };

let browser;
let viewers = [];
let pageErrors = [];

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

before(async () => {
  if (!ADMIN_TOKEN) throw new Error('SEATMAP_ADMIN_TOKEN is not set: the tests reset all seats before each test');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  fs.mkdirSync(SHOT_DIR, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
});

beforeEach(async () => {
  pageErrors = [];
  await resetSeats();
});

afterEach(async () => {
  const open = viewers;
  viewers = [];
  await Promise.all(open.map((v) => v.context.close().catch(() => {})));
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});

/** POST /api/admin/reset: every seat available again. */
async function resetSeats() {
  const res = await fetch(`${BASE_URL}/api/admin/reset`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: '{}',
  });
  const body = await res.text();
  assert.ok(res.ok, `admin reset failed: HTTP ${res.status} ${body}`);
}

/** A new browser context ("a person") with the seat map open and connected. */
async function openViewer(name, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  const viewer = { name, context, page };
  viewers.push(viewer);
  await page.goto(`${BASE_URL}/`);
  await waitConnected(page);
  return viewer;
}

async function closeViewer(viewer) {
  viewers = viewers.filter((v) => v !== viewer);
  await viewer.context.close();
}

// ---------------------------------------------------------------------------------------
// Page helpers (all waits go through waitForFunction: polled, with a timeout)
// ---------------------------------------------------------------------------------------

async function waitConnected(page, timeout = WAIT_MS) {
  await page.waitForFunction(() => {
    const status = document.getElementById('conn-status');
    const filled = (id) => {
      const text = (document.getElementById(id)?.textContent || '').trim();
      return text !== '' && text !== '—';
    };
    return status && status.dataset.state === 'connected' && status.textContent.includes('connected')
      && filled('user-id') && filled('edge-id')
      && document.querySelector('#seat-grid button[data-seat]') !== null;
  }, null, { timeout });
}

function seatSelector(seatId) {
  return `#seat-grid button[data-seat="${seatId}"]`;
}

async function seatInfo(page, seatId) {
  return page.evaluate((sel) => {
    const b = document.querySelector(sel);
    return b ? { status: b.dataset.status, label: b.getAttribute('aria-label') } : null;
  }, seatSelector(seatId));
}

/**
 * Wait until the seat shows `status` (data-status) and, optionally, an aria-label that
 * starts with / contains the given text. Fails with what the page actually showed.
 */
async function waitSeat(page, seatId, status, { startsWith, includes, timeout = WAIT_MS } = {}) {
  try {
    await page.waitForFunction(({ sel, status, startsWith, includes }) => {
      const b = document.querySelector(sel);
      if (!b || b.dataset.status !== status) return false;
      const label = b.getAttribute('aria-label') || '';
      return (!startsWith || label.startsWith(startsWith)) && (!includes || label.includes(includes));
    }, { sel: seatSelector(seatId), status, startsWith, includes }, { timeout });
  } catch (err) {
    const actual = await seatInfo(page, seatId).catch(() => 'page gone');
    throw new Error(`${seatId}: wanted data-status=${status}`
      + `${startsWith ? ` and aria-label starting "${startsWith}"` : ''}`
      + `${includes ? ` and containing "${includes}"` : ''}`
      + ` within ${timeout} ms; page shows ${JSON.stringify(actual)}`, { cause: err });
  }
}

async function clickSeat(page, seatId) {
  await page.locator(seatSelector(seatId)).click();
}

function holdEntry(page, seatId) {
  return page.locator(`#my-holds [data-seat="${seatId}"]`);
}

async function text(page, selector) {
  return ((await page.locator(selector).textContent()) || '').trim();
}

async function assertNoErrors(viewer) {
  const shown = await text(viewer.page, '#errors');
  assert.equal(shown, '', `${viewer.name} shows an error: "${shown}"`);
}

function shot(name) {
  return path.join(SHOT_DIR, name);
}

/** Run SEATMAP_KILL_EDGE for one edge id: a path gets it as $1; "{edge}" in a template is replaced. */
function killEdge(edgeId) {
  const options = { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 };
  try {
    if (/\{edge(_id)?\}/.test(KILL_EDGE)) {
      const quoted = `'${edgeId.replace(/'/g, `'\\''`)}'`;
      execFileSync('/bin/sh', ['-c', KILL_EDGE.replace(/\{edge(_id)?\}/g, quoted)], options);
    } else if (fs.existsSync(KILL_EDGE)) {
      execFileSync(KILL_EDGE, [edgeId], options);
    } else {
      // A command with arguments: append the edge id as one more argument.
      execFileSync('/bin/sh', ['-c', `${KILL_EDGE} "$1"`, 'kill-edge', edgeId], options);
    }
  } catch (err) {
    throw new Error(`SEATMAP_KILL_EDGE failed for ${edgeId}: ${err.message}\n${err.stdout || ''}${err.stderr || ''}`, { cause: err });
  }
}

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
  const phone = await openViewer('phone', MOBILE);

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
