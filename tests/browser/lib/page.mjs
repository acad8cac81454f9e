// Browser fixtures and page helpers shared by the browser test files: a headless Chromium,
// "viewers" (one browser context each: separate cookies and localStorage, so separate people),
// and waits that poll what the page shows (data-status, aria-label, #conn-status).
//
// Environment:
//   SEATMAP_URL             required, e.g. http://127.0.0.1:8089
//   SEATMAP_ADMIN_TOKEN     required, for POST /api/admin/reset before each test
//   SEATMAP_HOLD_SECONDS    the stack's HOLD_SECONDS (default 30)
//   SEATMAP_KILL_EDGE       command that kills one edge, given its id (e.g. edge-3000)
//   SEATMAP_SCREENSHOT_DIR  where screenshots go (default tests/browser/artifacts)
//   CHROMIUM_PATH           default /usr/bin/chromium
//   SEATMAP_TLS_SPKI        with an https:// SEATMAP_URL: the base64 SHA-256 of the server
//                           certificate's public key (start.sh --tls writes it to
//                           RUN_DIR/tls/server.spki). Chromium trusts that one certificate and
//                           no other; Node's own requests trust NODE_EXTRA_CA_CERTS.

import { before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.SEATMAP_URL || '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('SEATMAP_URL is not set: start the stack and point SEATMAP_URL at NGINX, e.g. SEATMAP_URL=http://127.0.0.1:8089');
}
const ADMIN_TOKEN = process.env.SEATMAP_ADMIN_TOKEN || '';
export const HOLD_SECONDS = Number(process.env.SEATMAP_HOLD_SECONDS || 30);
export const KILL_EDGE = process.env.SEATMAP_KILL_EDGE || '';
const HERE = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SHOT_DIR = path.resolve(process.env.SEATMAP_SCREENSHOT_DIR || path.join(HERE, 'artifacts'));

export const WAIT_MS = 5000;        // "a few seconds" for anything that should take milliseconds
export const RECONNECT_MS = 15000;  // backoff is capped at 10 s; allow a couple of attempts
export const DESKTOP = { width: 1280, height: 900 };
export const MOBILE = { width: 375, height: 812 };

let browser;
let viewers = [];
let pageErrors = [];

/** Registers the hooks of a browser test file: one Chromium, a reset before each test. */
export function useBrowser() {
  before(async () => {
    if (!ADMIN_TOKEN) throw new Error('SEATMAP_ADMIN_TOKEN is not set: the tests reset all seats before each test');
    browser = await launchChromium(process.env.SEATMAP_TLS_SPKI);
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
}

/**
 * A headless Chromium. With `trustSpki`, it accepts the one certificate whose public key hashes
 * to it (as if its CA were installed), and still refuses every other it cannot verify.
 */
export function launchChromium(trustSpki) {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (trustSpki) args.push(`--ignore-certificate-errors-spki-list=${trustSpki}`);
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args });
}

/** POST /api/admin/reset: every seat available again. */
export async function resetSeats() {
  const res = await fetch(`${BASE_URL}/api/admin/reset`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: '{}',
  });
  const body = await res.text();
  assert.ok(res.ok, `admin reset failed: HTTP ${res.status} ${body}`);
}

/**
 * A new browser context ("a person") with the seat map open (at `path`, default "/") and
 * connected. `setup(context, page)` runs before the page is loaded (to route its WebSocket, say);
 * `contextOptions` go to the browser context (hasTouch, isMobile, …). Every console message of
 * type error and every CSP violation is collected in `viewer.console` / `viewer.csp`.
 */
export async function openViewer(name, { viewport = DESKTOP, setup, connected = true, path = '/', contextOptions = {} } = {}) {
  const context = await browser.newContext({ viewport, ...contextOptions });
  const page = await context.newPage();
  const viewer = { name, context, page, console: [], csp: [] };
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') viewer.console.push(msg.text()); });
  await page.exposeFunction('__reportCsp', (v) => viewer.csp.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCsp(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile || '?'}:${e.lineNumber || '?'}`);
    });
  });
  viewers.push(viewer);
  if (setup) await setup(context, page);
  viewer.response = await page.goto(`${BASE_URL}${path}`);
  if (connected) await waitConnected(page);
  return viewer;
}

export async function closeViewer(viewer) {
  viewers = viewers.filter((v) => v !== viewer);
  await viewer.context.close();
}

// ---------------------------------------------------------------------------------------
// Page helpers (all waits go through waitForFunction: polled, with a timeout)
// ---------------------------------------------------------------------------------------

export async function waitConnected(page, timeout = WAIT_MS) {
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

export function seatSelector(seatId) {
  return `#seat-grid button[data-seat="${seatId}"]`;
}

export async function seatInfo(page, seatId) {
  return page.evaluate((sel) => {
    const b = document.querySelector(sel);
    return b ? { status: b.dataset.status, label: b.getAttribute('aria-label') } : null;
  }, seatSelector(seatId));
}

/**
 * Wait until the seat shows `status` (data-status) and, optionally, an aria-label that
 * starts with / contains the given text. Fails with what the page actually showed.
 */
export async function waitSeat(page, seatId, status, { startsWith, includes, timeout = WAIT_MS } = {}) {
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

export async function clickSeat(page, seatId) {
  await page.locator(seatSelector(seatId)).click();
}

export function holdEntry(page, seatId) {
  return page.locator(`#my-holds [data-seat="${seatId}"]`);
}

export async function text(page, selector) {
  return ((await page.locator(selector).textContent()) || '').trim();
}

export async function assertNoErrors(viewer) {
  const shown = await text(viewer.page, '#errors');
  assert.equal(shown, '', `${viewer.name} shows an error: "${shown}"`);
}

/** The token and user id the page keeps in localStorage. */
export async function storedIdentity(page) {
  return page.evaluate(() => ({
    token: localStorage.getItem('seatmap.token'),
    userId: localStorage.getItem('seatmap.user_id'),
  }));
}

export function shot(name) {
  return path.join(SHOT_DIR, name);
}

/** Run SEATMAP_KILL_EDGE for one edge id: a path gets it as $1; "{edge}" in a template is replaced. */
export function killEdge(edgeId) {
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
