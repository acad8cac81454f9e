#!/usr/bin/env node
// The page in a real browser (headless Chromium), on the arena chart and on the 10x10 grid in one
// run, against a running stack: time until every seat is drawn (performance.mark
// 'seatmap:drawn'), main-thread time per update, long tasks under a stream of changes, the JS heap,
// and change-to-page latency. Run by scripts/bench-page.sh, which starts the stack.
//
// Environment: SEATMAP_URL (NGINX), BOOKING_URL (the booking service itself: the changes go there,
// past NGINX's per-address limits), CHROMIUM_PATH, RUNS (page loads per venue, 3), SECONDS (the
// stream's length, 60), RATE (changes a second in the stream, 50), LATENCY_CHANGES (100), OUT (a
// JSON file for the figures), PAGE_VENUES (default "arena,main").
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(HERE, '../tests/browser/package.json'));
const { chromium } = require('playwright-core');

const env = (name, fallback) => process.env[name] || fallback;
const BASE = env('SEATMAP_URL', '').replace(/\/+$/, '');
const BOOKING = env('BOOKING_URL', '').replace(/\/+$/, '');
if (!BASE || !BOOKING) throw new Error('SEATMAP_URL and BOOKING_URL must be set (scripts/bench-page.sh sets them)');
const RUNS = Number(env('RUNS', 3));
const SECONDS = Number(env('SECONDS', 60));
const RATE = Number(env('RATE', 50));
const LATENCY_CHANGES = Number(env('LATENCY_CHANGES', 100));
const VENUES = env('PAGE_VENUES', 'arena,main').split(',');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (...a) => console.error('[bench-page]', ...a);

// ---------------------------------------------------------------------------------------
// In the page: what each SEAT_UPDATE cost, when it was on screen, every frame, every long task
// ---------------------------------------------------------------------------------------

function instrument() {
  const bench = { handled: [], frames: [], shown: [], longTasks: [] };
  window.__bench = bench;
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) => raf((ts) => {
    const t0 = performance.now();
    callback(ts);
    bench.frames.push([t0, performance.now() - t0]);
  });
  const add = WebSocket.prototype.addEventListener;
  WebSocket.prototype.addEventListener = function (type, listener, options) {
    if (type !== 'message') return add.call(this, type, listener, options);
    return add.call(this, type, (event) => {
      const t0 = performance.now();
      listener.call(this, event);
      const spent = performance.now() - t0;
      if (typeof event.data !== 'string' || !event.data.includes('"SEAT_UPDATE"')) return;
      const seat = /"seat_id":"([^"]+)"/.exec(event.data);
      const status = /"status":(\d)/.exec(event.data);
      bench.handled.push([t0, spent]);
      // The page's own paint was asked for while handling it, so this runs after that paint.
      raf(() => bench.shown.push([seat && seat[1], status && Number(status[1]), performance.timeOrigin + performance.now()]));
    }, options);
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) bench.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
}

// ---------------------------------------------------------------------------------------
// Changes through the booking API
// ---------------------------------------------------------------------------------------

async function post(route, body) {
  const res = await fetch(`${BOOKING}${route}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function sessions(n) {
  const tokens = [];
  for (let i = 0; i < n; i++) tokens.push((await post('/api/session', {})).body.token);
  return tokens;
}

async function seatIds(venue) {
  const res = await fetch(`${BOOKING}/api/seats?venue=${venue}`);
  const body = await res.json();
  return (Array.isArray(body) ? body : body.seats).map((s) => s.id);
}

/**
 * Makes changes to `seats`: each seat is held, then released, by its own token; returns the
 * time (epoch ms) and the status it changes to. `next()` picks the seat and what to do.
 */
function changer(venue, seats, tokens) {
  const held = new Map(); // seat -> token
  let cursor = 0;
  return async function change() {
    const seat = seats[cursor++ % seats.length];
    const token = held.get(seat) || tokens[cursor % tokens.length];
    const action = held.has(seat) ? 'release' : 'select';
    const at = Date.now();
    const res = await post(`/api/seats/${action}`, { token, seat_id: seat, venue });
    if (res.status === 200) {
      if (action === 'select') held.set(seat, token);
      else held.delete(seat);
    }
    return { seat, at, status: action === 'select' ? 1 : 0, ok: res.status === 200, code: res.body?.error?.code };
  };
}

// ---------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------

function pct(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const median = (values) => pct(values, 50);
const round = (v, d = 1) => (v == null ? null : Number(v.toFixed(d)));

function pagePath(venue) {
  return venue === 'main' ? '/' : `/?venue=${venue}`;
}

async function timeToDrawn(browser, venue) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${BASE}${pagePath(venue)}`);
    await page.waitForFunction(() => performance.getEntriesByName('seatmap:drawn').length > 0, null, { timeout: 20000 });
    times.push(await page.evaluate(() => performance.getEntriesByName('seatmap:drawn')[0].startTime));
    await context.close();
  }
  return times;
}

/** One change at a time, 100 ms apart: API call made -> the page painted it. */
async function latency(page, change) {
  const sent = [];
  await page.evaluate(() => { window.__bench.shown.length = 0; });
  for (let i = 0; i < LATENCY_CHANGES; i++) {
    const c = await change();
    if (c.ok) sent.push(c);
    await sleep(100);
  }
  await sleep(500);
  const shown = await page.evaluate(() => window.__bench.shown);
  const waits = [];
  for (const c of sent) {
    const hit = shown.find(([seat, status, at]) => seat === c.seat && status === c.status && at >= c.at);
    if (hit) waits.push(hit[2] - c.at);
  }
  return { waits, missed: sent.length - waits.length };
}

/** RATE changes a second for SECONDS: main-thread time per update, long tasks. */
async function stream(page, change) {
  await page.evaluate(() => { const b = window.__bench; b.handled.length = 0; b.frames.length = 0; b.longTasks.length = 0; });
  const start = await page.evaluate(() => performance.now());
  const interval = 1000 / RATE;
  const t0 = Date.now();
  const inFlight = [];
  let made = 0;
  let refused = 0;
  for (let i = 0; i < RATE * SECONDS; i++) {
    const due = t0 + i * interval;
    if (due > Date.now()) await sleep(due - Date.now());
    inFlight.push(change().then((c) => { if (c.ok) made++; else refused++; }));
    if (inFlight.length > 200) await Promise.all(inFlight.splice(0, 100));
  }
  await Promise.all(inFlight);
  await sleep(500);
  const b = await page.evaluate(() => window.__bench);
  return { start, made, refused, ...perUpdate(b, start) };
}

/** Each update's handler time plus its share of the next frame's work. */
function perUpdate(b, start) {
  const handled = b.handled.filter(([t]) => t >= start);
  const frames = b.frames.filter(([t]) => t >= start);
  const costs = [];
  let f = 0;
  let batch = [];
  for (const [t, spent] of handled) {
    while (f < frames.length && frames[f][0] < t) {
      const share = batch.length ? frames[f][1] / batch.length : 0;
      for (const h of batch) costs.push(h + share);
      batch = [];
      f++;
    }
    batch.push(spent);
  }
  const share = f < frames.length && batch.length ? frames[f][1] / batch.length : 0;
  for (const h of batch) costs.push(h + share);
  const long = b.longTasks.filter(([t]) => t >= start);
  return {
    updates: handled.length,
    perUpdateMs: { p50: round(pct(costs, 50), 3), p99: round(pct(costs, 99), 3), max: round(Math.max(0, ...costs), 3) },
    handlerMs: { p50: round(pct(handled.map((x) => x[1]), 50), 3), p99: round(pct(handled.map((x) => x[1]), 99), 3) },
    frameMs: { p50: round(pct(frames.map((x) => x[1]), 50), 3), p99: round(pct(frames.map((x) => x[1]), 99), 3) },
    longTasks: long.length,
    longTaskMs: round(long.reduce((sum, [, d]) => sum + d, 0)),
  };
}

async function heap(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(metrics.map((m) => [m.name, m.value])).JSHeapUsedSize / 1048576;
}

async function benchVenue(browser, venue, tokens) {
  say(`${venue}: ${RUNS} page loads`);
  const drawn = await timeToDrawn(browser, venue);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  await page.goto(`${BASE}${pagePath(venue)}`);
  await page.waitForFunction(() => performance.getEntriesByName('seatmap:drawn').length > 0, null, { timeout: 20000 });
  const seats = await seatIds(venue);
  // Spread the changes over the venue (every 97th seat), as a real on-sale would.
  const spread = seats.filter((_, i) => i % Math.max(1, Math.floor(seats.length / 97)) === 0).slice(0, 97);
  const change = changer(venue, spread, tokens);
  say(`${venue}: change-to-page latency, ${LATENCY_CHANGES} changes at 10/s`);
  const lat = await latency(page, change);
  say(`${venue}: ${RATE} changes/s for ${SECONDS} s`);
  const load = await stream(page, change);
  const heapMb = await heap(page);
  await context.close();
  return {
    venue,
    seats: seats.length,
    drawnMs: drawn.map((v) => round(v)),
    drawnMedianMs: round(median(drawn)),
    latencyMs: { p50: round(pct(lat.waits, 50)), p99: round(pct(lat.waits, 99)), max: round(Math.max(0, ...lat.waits)), n: lat.waits.length, missed: lat.missed },
    stream: { rate: RATE, seconds: SECONDS, ...load },
    heapMb: round(heapMb),
  };
}

async function main() {
  const browser = await chromium.launch({
    executablePath: env('CHROMIUM_PATH', '/usr/bin/chromium'),
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const tokens = await sessions(40);
  const results = [];
  for (const venue of VENUES) results.push(await benchVenue(browser, venue, tokens));
  await browser.close();
  const out = { at: new Date().toISOString(), runs: RUNS, results };
  if (process.env.OUT) fs.writeFileSync(process.env.OUT, `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
}

await main();
