// Identity, per-IP limits and admin access, through NGINX, against the whole running stack
// (no browser: HTTP and WebSocket clients from chosen local addresses 127.0.0.x).
//
// Each test plays its own client address, since NGINX's limits are per address:
//   127.0.0.1  the burst (1,000 sessions and 1,000 upgrades at once); admin from loopback
//   127.0.0.2  the bystander who books normally during the burst; admin from "elsewhere"
//   127.0.0.3  the per-IP connection limit
//   127.0.0.4  tokens
//   127.0.0.5  Origin
//   127.0.0.6  the documented reads
//   127.0.0.7  frames the edge must refuse, through NGINX
//
// Environment:
//   SEATMAP_URL          required, NGINX, e.g. http://127.0.0.1:8089 (or https://localhost:HTTPS_PORT,
//                        trusted through NODE_EXTRA_CA_CERTS: see lib/net.mjs)
//   SEATMAP_RUN_DIR      required, start.sh's RUN_DIR (limits.env: the limits in force)
//   SEATMAP_ADMIN_TOKEN  required
//   SEATMAP_BIN_DIR      where edge-server is (its --help tells whether it checks Origin)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import {
  BASE_URL, TLS, fromAddress, httpClient, newSession, openSocket, percentile, post, readLimits, request,
} from './lib/net.mjs';

const LIMITS = readLimits();
const ADMIN_TOKEN = process.env.SEATMAP_ADMIN_TOKEN || '';
const BURST = 1000;
/**
 * A refusal must come at once: NGINX answers it without asking anyone. A limit that queued the
 * burst instead (limit_req without nodelay) would hold the last of these 1,000 requests for
 * (1,000 - burst) / rate seconds, minutes at the per-IP rates; 5 s tells the two apart with room
 * for a busy machine (p95 of 1.0-1.4 s seen while other stacks and builds shared the two cores).
 */
const QUICK_P95_MS = 5000;
/**
 * How long NGINX took to answer. Over HTTPS every connection of the burst first makes a TLS
 * handshake, 2,000 of them queued in this one test process: that is TLS's cost (shown in the
 * diagnostic), not the limit's, so the time counts from the handshake's end there.
 */
const answerMs = (r) => (TLS ? r.ms - r.readyMs : r.ms);

/** How many of a burst a limit may let through: the burst, plus what the rate refills meanwhile. */
function allowed(burst, perSecond, seconds) {
  return burst + 1 + Math.ceil(perSecond * seconds);
}

async function adminReset(localAddress = '127.0.0.1') {
  return post('/api/admin/reset', {}, { localAddress, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
}

test('one IP in a burst: 1,000 sessions and 1,000 upgrades at once are cut to the limits, quickly; another IP books normally', async (t) => {
  assert.ok(ADMIN_TOKEN, 'SEATMAP_ADMIN_TOKEN is not set');
  assert.equal((await adminReset()).status, 200);
  t.diagnostic(`limits: ${JSON.stringify(LIMITS)}`);

  const t0 = performance.now();
  const sessions = Array.from({ length: BURST }, () => post('/api/session', undefined, { localAddress: '127.0.0.1' }));
  const sockets = Array.from({ length: BURST }, () => openSocket({ localAddress: '127.0.0.1' }));

  // Meanwhile, someone else (another address) gets an identity, holds a seat and books it.
  const bystander = (async () => {
    const started = performance.now();
    const me = await newSession('127.0.0.2');
    const held = await post('/api/seats/select', { seat_id: 'A1', token: me.token }, { localAddress: '127.0.0.2' });
    assert.equal(held.status, 200, `select from 127.0.0.2 during the burst: ${held.text}`);
    assert.equal(held.body.seat.held_by, me.user_id);
    const booked = await post('/api/seats/book', { seat_id: 'A1', token: me.token }, { localAddress: '127.0.0.2' });
    assert.equal(booked.status, 200, `book from 127.0.0.2 during the burst: ${booked.text}`);
    assert.equal(booked.body.seat.status, 2);
    // And over a WebSocket: it is welcomed and sees the venue.
    const ws = openSocket({ localAddress: '127.0.0.2' });
    assert.equal((await ws.opened).status, 101, 'a WebSocket from 127.0.0.2 during the burst');
    await ws.next('WELCOME');
    const state = await ws.next('VENUE_STATE');
    assert.equal(state.data.seats.find((s) => s.id === 'A1').status, 2);
    await ws.close();
    return performance.now() - started;
  })();

  const sessionResults = await Promise.all(sessions);
  const opened = await Promise.all(sockets.map((s) => s.opened));
  const seconds = (performance.now() - t0) / 1000;
  // Which upgrades were really welcomed (an identity issued): wait briefly for their WELCOME.
  const welcomed = await Promise.all(sockets.map((s, i) => (opened[i].status === 101
    ? s.next('WELCOME', 5000).then(() => true, () => false) : false)));
  const bystanderMs = await bystander;

  const count = (list, pred) => list.filter(pred).length;
  const sessionOk = count(sessionResults, (r) => r.status === 200 && r.body && r.body.token);
  const sessionLimited = sessionResults.filter((r) => r.status === 429);
  const sessionOther = sessionResults.filter((r) => r.status !== 200 && r.status !== 429 && r.status !== 503);
  const wsOk = count(welcomed, Boolean);
  const wsLimited = opened.filter((r) => r.status === 429);
  const wsOther = opened.filter((r) => r.status !== 101 && r.status !== 429 && r.status !== 503);
  const maxSessions = allowed(LIMITS.LIMIT_SESSION_BURST, LIMITS.LIMIT_SESSION_PER_MIN / 60, seconds);
  const maxSockets = Math.min(LIMITS.LIMIT_WS_CONN, allowed(LIMITS.LIMIT_WS_BURST, LIMITS.LIMIT_WS_PER_SEC, seconds));
  const p95 = (list) => Math.round(percentile(list.map(answerMs), 95));
  const handshakeP95 = (list) => Math.round(percentile(list.map((r) => r.readyMs), 95));
  t.diagnostic(`burst took ${seconds.toFixed(2)} s; sessions: ${sessionOk} issued (at most ${maxSessions}), `
    + `${sessionLimited.length} refused 429 (p95 ${p95(sessionLimited)} ms); upgrades: ${wsOk} welcomed `
    + `(at most ${maxSockets}), ${wsLimited.length} refused 429 (p95 ${p95(wsLimited)} ms); `
    + `bystander on 127.0.0.2 booked in ${Math.round(bystanderMs)} ms`
    + `${TLS ? `; TLS handshakes done after ${handshakeP95(sessionLimited)} ms (sessions) and `
      + `${handshakeP95(wsLimited)} ms (upgrades), p95, the times above counted from there` : ''}`);

  await Promise.all(sockets.map((s) => s.close()));

  assert.deepEqual(sessionOther.map((r) => r.status || String(r.error)).slice(0, 5), [], 'sessions answered other than 200/429/503');
  assert.deepEqual(wsOther.map((r) => r.status || String(r.error)).slice(0, 5), [], 'upgrades answered other than 101/429/503');
  assert.ok(sessionOk >= 1 && sessionOk <= maxSessions, `${sessionOk} sessions issued; the limit allows 1..${maxSessions}`);
  assert.ok(wsOk >= 1 && wsOk <= maxSockets, `${wsOk} sockets welcomed; the limits allow 1..${maxSockets}`);
  assert.ok(sessionLimited.length >= BURST - maxSessions - 5, `only ${sessionLimited.length} sessions refused with 429`);
  for (const r of sessionLimited.slice(0, 3)) {
    assert.equal(r.body && r.body.error && r.body.error.code, 'RATE_LIMITED', `429 body: ${r.text}`);
    assert.equal(r.body.ok, false);
  }
  assert.ok(p95(sessionLimited) < QUICK_P95_MS, `refused sessions took ${p95(sessionLimited)} ms (p95)`);
  assert.ok(p95(wsLimited) < QUICK_P95_MS, `refused upgrades took ${p95(wsLimited)} ms (p95)`);
});

test('one IP holds at most LIMIT_WS_CONN sockets at once; closing one makes room', async (t) => {
  const limit = LIMITS.LIMIT_WS_CONN;
  const open = [];
  try {
    // Open up to the limit, no faster than the upgrade rate allows after its burst.
    while (open.length < limit) {
      const client = openSocket({ localAddress: '127.0.0.3' });
      const r = await client.opened;
      if (r.status === 429 && open.length >= LIMITS.LIMIT_WS_BURST) {
        await new Promise((resolve) => setTimeout(resolve, 1000 / LIMITS.LIMIT_WS_PER_SEC + 20));
        continue;
      }
      assert.equal(r.status, 101, `socket ${open.length + 1} of ${limit}: ${r.status} ${r.text || r.error || ''}`);
      open.push(client);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000 / LIMITS.LIMIT_WS_PER_SEC + 20)); // the rate is not the reason below
    const over = openSocket({ localAddress: '127.0.0.3' });
    const refused = await over.opened;
    assert.equal(refused.status, 429, `socket ${limit + 1} from one address: ${refused.status}`);

    await open.pop().close();
    await new Promise((resolve) => setTimeout(resolve, 300)); // NGINX notices the close
    const again = openSocket({ localAddress: '127.0.0.3' });
    const r = await again.opened;
    assert.equal(r.status, 101, 'after closing one, a new socket fits');
    open.push(again);
    t.diagnostic(`${limit} sockets open from 127.0.0.3; the next was refused 429 in ${Math.round(refused.ms)} ms`);
  } finally {
    await Promise.all(open.map((c) => c.close()));
  }
});

test('admin reset through NGINX: refused from 127.0.0.2 (403), works from 127.0.0.1', async () => {
  assert.equal(LIMITS.ADMIN_FROM, 'local', 'this test expects start.sh\'s default ADMIN_FROM=local');
  const remote = await adminReset('127.0.0.2');
  assert.equal(remote.status, 403, `from 127.0.0.2: ${remote.status} ${remote.text}`);
  assert.equal(remote.body.ok, false);
  assert.equal(remote.body.error.code, 'UNAUTHORIZED');
  const local = await adminReset('127.0.0.1');
  assert.equal(local.status, 200, `from 127.0.0.1: ${local.status} ${local.text}`);
  assert.equal(local.body.ok, true);
});

test('tokens: made-up ones act on nothing; one from /api/session or from WELCOME works on HTTP and WebSocket', async () => {
  const from = '127.0.0.4';
  assert.equal((await adminReset()).status, 200);

  // Made up: well formed but not signed by the system, an old-style one, and garbage.
  const madeUp = ['v1.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA', 'demo-token-0123456789abcdef', 'x'];
  for (const token of madeUp) {
    for (const action of ['select', 'book', 'release']) {
      const r = await post(`/api/seats/${action}`, { seat_id: 'B2', token }, { localAddress: from });
      assert.equal(r.status, 401, `${action} with made-up token ${token}: ${r.status} ${r.text}`);
      assert.equal(r.body.error.code, 'UNAUTHORIZED');
    }
  }
  const probe = openSocket({ localAddress: from });
  assert.equal((await probe.opened).status, 101);
  await probe.next('WELCOME');
  probe.send({ type: 'CONNECT', data: { token: madeUp[0] } });
  const refused = await probe.next('ERROR');
  assert.equal(refused.data.code, 'UNAUTHORIZED', JSON.stringify(refused));
  await probe.close();
  const seats = await request('GET', '/api/venues/main', { localAddress: from });
  assert.equal(seats.body.seats.find((s) => s.id === 'B2').status, 0, 'B2 stays available');

  // From POST /api/session: HTTP ...
  const session = await newSession(from);
  assert.match(session.token, /^[A-Za-z0-9_.-]{16,128}$/);
  assert.match(session.user_id, /^u-[0-9a-f]{12}$/);
  let r = await post('/api/seats/select', { seat_id: 'B2', token: session.token }, { localAddress: from });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.seat.held_by, session.user_id);
  // ... and WebSocket CONNECT: the same identity, which holds B2.
  const ws = openSocket({ localAddress: from });
  assert.equal((await ws.opened).status, 101);
  await ws.next('WELCOME');
  ws.send({ type: 'CONNECT', data: { token: session.token, venue: 'main' } });
  const resumed = await ws.next((f) => f.type === 'WELCOME' && f.data.token === session.token);
  assert.equal(resumed.data.user_id, session.user_id);
  ws.send({ type: 'RELEASE_SEAT', data: { seat_id: 'B2', req_id: 'rel' } });
  const ok = await ws.next((f) => (f.type === 'OK' || f.type === 'ERROR') && f.data.req_id === 'rel');
  assert.equal(ok.type, 'OK', JSON.stringify(ok));
  await ws.close();

  // From WELCOME: works on HTTP.
  const greeted = openSocket({ localAddress: from });
  assert.equal((await greeted.opened).status, 101);
  const welcome = await greeted.next('WELCOME');
  await greeted.close();
  r = await post('/api/seats/select', { seat_id: 'B3', token: welcome.data.token }, { localAddress: from });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.seat.held_by, welcome.data.user_id);
  r = await post('/api/seats/release', { seat_id: 'B3', token: welcome.data.token }, { localAddress: from });
  assert.equal(r.status, 200, r.text);
});

test('Origin: an upgrade from another site is refused 403; the page\'s own origin and no Origin are welcome', async (t) => {
  // The edge checks Origin against Host (NGINX passes Host with the port). An edge that does not
  // know ALLOWED_ORIGINS yet does not check: then this test runs but is marked TODO.
  const bin = process.env.SEATMAP_BIN_DIR;
  let help = '';
  try { help = bin ? execFileSync(`${bin}/edge-server`, ['--help'], { encoding: 'utf8', env: {} }) : ''; } catch (err) {
    help = `${err.stdout || ''}${err.stderr || ''}`;
  }
  if (!/ALLOWED_ORIGINS/.test(help)) t.todo('this edge-server does not check Origin yet (no ALLOWED_ORIGINS in its --help)');

  const from = '127.0.0.5';
  const evil = openSocket({ localAddress: from, origin: 'http://evil.example' });
  const refused = await evil.opened;
  await evil.close();
  const own = openSocket({ localAddress: from, origin: new URL(BASE_URL).origin });
  const ownResult = await own.opened;
  const ownWelcome = ownResult.status === 101 ? await own.next('WELCOME').then(() => true, () => false) : false;
  await own.close();
  const none = openSocket({ localAddress: from });
  const noneResult = await none.opened;
  await none.close();
  t.diagnostic(`Origin evil.example: ${refused.status}; own origin: ${ownResult.status}; none: ${noneResult.status}`);
  assert.equal(ownResult.status, 101, 'the page\'s own origin');
  assert.ok(ownWelcome, 'the page\'s own origin is welcomed');
  assert.equal(noneResult.status, 101, 'no Origin (websocat, scripts)');
  assert.equal(refused.status, 403, 'Origin: http://evil.example');
});

test('the documented reads answer through NGINX as they do directly: /api/seats, /api/venues/main, /health', async () => {
  const from = '127.0.0.6';
  for (const path of ['/api/seats', '/api/seats?venue=main']) {
    const r = await request('GET', path, { localAddress: from });
    assert.equal(r.status, 200, `${path}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.ok(Array.isArray(r.body), `${path}: a JSON array of seats`);
    assert.equal(r.body.length, 100, `${path}: every seat of the 10x10 venue`);
    assert.equal(r.body[0].id, 'A1');
  }
  const venue = await request('GET', '/api/venues/main', { localAddress: from });
  assert.equal(venue.status, 200, venue.text.slice(0, 200));
  assert.equal(venue.body.seats.length, 100);
  const unknown = await request('GET', '/api/seats?venue=nowhere', { localAddress: from });
  assert.equal(unknown.status, 404, unknown.text.slice(0, 200));
  assert.equal(unknown.body.error.code, 'UNKNOWN_VENUE');
  const health = await request('GET', '/health', { localAddress: from });
  assert.equal(health.status, 200, health.text.slice(0, 200));
  // A body over NGINX's own limit (64 KiB) is refused by NGINX, in the API's format too.
  const huge = await post('/api/seats/select', { seat_id: 'A1', token: 'x'.repeat(100_000) }, { localAddress: from });
  assert.equal(huge.status, 413, huge.text.slice(0, 200));
  assert.equal(huge.body?.error?.code, 'VALIDATION_ERROR', huge.text.slice(0, 200));
});

test('a venue\'s chart through NGINX: its ETag answers 304, its cache headers pass, and it comes gzipped when asked', async () => {
  const from = '127.0.0.6';
  const path = '/api/venues/main/chart';
  const first = await request('GET', path, { localAddress: from });
  assert.equal(first.status, 200, first.text.slice(0, 200));
  assert.equal(first.body.layout, 'grid');
  assert.equal(first.body.sections[0].rows[0].seats[0].id, 'A1');
  const etag = first.headers.etag;
  assert.ok(etag, 'the chart has an ETag');
  assert.match(first.headers['cache-control'] || '', /max-age=\d+/);
  assert.doesNotMatch(first.headers['cache-control'] || '', /no-store/);
  const again = await request('GET', path, { localAddress: from, headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304, again.text.slice(0, 200));
  const zipped = await new Promise((resolve, reject) => {
    httpClient.get(`${BASE_URL}${path}`, { ...fromAddress(from), agent: false, headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
  assert.equal(zipped.status, 200);
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.deepEqual(JSON.parse(gunzipSync(zipped.bytes).toString('utf8')), first.body);
  // The gzipped answer's (weak) ETag answers 304 too.
  const weak = await request('GET', path, { localAddress: from, headers: { 'If-None-Match': zipped.headers.etag, 'Accept-Encoding': 'gzip' } });
  assert.equal(weak.status, 304);
});

/** Resolves with the close code the client saw (1006: the connection dropped without one). */
function closed(client, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the socket was not closed')), timeoutMs);
    client.ws.once('close', (code) => { clearTimeout(timer); resolve(code); });
  });
}

test('through NGINX, refused frames get their ERROR and close code every time: 1 MB (1009), bad UTF-8 (1007)', async () => {
  const from = '127.0.0.7';
  for (let i = 0; i < 8; i += 1) {
    const client = openSocket({ localAddress: from });
    assert.equal((await client.opened).status, 101);
    await client.next('WELCOME');
    const done = closed(client);
    client.ws.send('x'.repeat(1_000_000));
    const code = await done;
    const error = client.frames.find((f) => f.type === 'ERROR');
    assert.equal(error?.data?.code, 'FRAME_TOO_LARGE', `try ${i}: frames ${JSON.stringify(client.frames.map((f) => f.type))}, close ${code}`);
    assert.equal(code, 1009, `try ${i}: the close code`);
  }
  for (let i = 0; i < 3; i += 1) {
    const client = openSocket({ localAddress: from });
    assert.equal((await client.opened).status, 101);
    await client.next('WELCOME');
    const done = closed(client);
    client.ws.send(Buffer.from('{"type":"\xff\xfe"}', 'latin1'), { binary: false });
    assert.equal(await done, 1007, `try ${i}: a text frame that is not UTF-8`);
  }
});
