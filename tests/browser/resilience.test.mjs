// Browser tests for the page's security and its connection rules, against the whole running
// stack: it loads under its Content-Security-Policy with no console errors; it keeps its
// identity through a refused CONNECT and through closes; it tells the user when a seat command
// is answered UNAVAILABLE (its edge cut off from the booking service); it backs off instead of looping; and
// it follows the seq rules (resume with after_seq + epoch, stale updates ignored, a VENUE_STATE
// always replaces the view, a gap makes it ask for the whole state).
//
// Faults are injected with Playwright's WebSocket routing: the page's socket still goes to
// the real stack through NGINX, but the test sees every frame and can answer or close in
// between. Fixtures and environment: lib/page.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RECONNECT_MS, WAIT_MS, assertNoErrors, clickSeat, holdEntry, openViewer, storedIdentity, text,
  useBrowser, waitConnected, waitSeat,
} from './lib/page.mjs';

useBrowser();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const parse = (message) => {
  try { return JSON.parse(String(message)); } catch { return null; }
};

/**
 * Routes the context's WebSockets to the real server through a tap the test controls.
 * `tap.connections` lists each socket ({ at, page, server, connects, connect: the last }), `tap.refuseConnects`
 * answers that many CONNECTs with ERROR UNAVAILABLE instead of passing them on,
 * `tap.refuseCommands` answers that many seat commands with ERROR UNAVAILABLE (as an edge cut
 * off from the booking service does) instead of passing them on,
 * `tap.closeAfterResume` closes each socket with 1001 right after the server confirmed the
 * page's identity (`closedByTest` marks a socket the test closed), `tap.lastSeq`/`tap.epoch`
 * follow what the server sent (`states` counts each socket's VENUE_STATEs from the server).
 */
async function tapSockets(context) {
  const tap = {
    connections: [], refuseConnects: 0, refused: [], refuseCommands: 0, closeAfterResume: false, lastSeq: -1, epoch: null,
  };
  await context.routeWebSocket(/\/ws$/, (page) => {
    const server = page.connectToServer();
    const conn = {
      at: Date.now(), page, server, connect: null, connects: [], welcomes: 0, states: 0, stateAfterConnect: false,
      closeScheduled: false, closedByTest: false,
    };
    tap.connections.push(conn);
    page.onMessage((message) => {
      const frame = parse(message);
      if (frame && frame.type === 'CONNECT') {
        conn.connect = { at: Date.now(), data: frame.data || {} };
        conn.connects.push(conn.connect);
        if (tap.refuseConnects > 0) {
          tap.refuseConnects--;
          tap.refused.push(conn.connect);
          page.send(JSON.stringify({ type: 'ERROR', data: { req_id: null, code: 'UNAVAILABLE', message: 'injected by the test', seat_id: null } }));
          return;
        }
      }
      if (frame && /^(SELECT|BOOK|RELEASE)_SEAT$/.test(frame.type) && tap.refuseCommands > 0) {
        tap.refuseCommands--;
        const { req_id: reqId = null, seat_id: seatId = null } = frame.data || {};
        page.send(JSON.stringify({ type: 'ERROR', data: { req_id: reqId, code: 'UNAVAILABLE', message: 'injected by the test', seat_id: seatId } }));
        return;
      }
      server.send(message);
    });
    server.onMessage((message) => {
      const frame = parse(message);
      if (frame && (frame.type === 'VENUE_STATE' || frame.type === 'SEAT_UPDATE')) {
        tap.lastSeq = frame.data.seq;
        if (frame.type === 'VENUE_STATE') { tap.epoch = frame.data.epoch; conn.states++; }
      }
      page.send(message);
      // The first WELCOME greets the socket; the second answers the page's CONNECT.
      if (frame && frame.type === 'WELCOME') conn.welcomes++;
      if (frame && frame.type === 'VENUE_STATE' && conn.welcomes >= 2) conn.stateAfterConnect = true;
      const resumed = frame && frame.type === 'WELCOME' && conn.connect && frame.data.token === conn.connect.data.token;
      if (resumed && tap.closeAfterResume && !conn.closeScheduled) {
        conn.closeScheduled = true;
        // Asked again when due: once the test has turned closeAfterResume off, no socket of
        // this tap is closed any more, even one whose WELCOME passed just before.
        setTimeout(() => { if (tap.closeAfterResume) closeBoth(conn, 1001, 'venue unavailable; reconnect'); }, 20);
      }
    });
  });
  return tap;
}

function closeBoth(conn, code, reason) {
  conn.closedByTest = true;
  conn.server.close({ code: 1000 }).catch(() => {});
  conn.page.close({ code, reason }).catch(() => {});
}

function current(tap) {
  return tap.connections[tap.connections.length - 1];
}

/** Resolves once pred() holds (polled), or fails after `timeout` ms. */
async function until(pred, what, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeout} ms: ${what}`);
    await sleep(20);
  }
}

test('the page loads under its Content-Security-Policy with no console errors or violations', async () => {
  const a = await openViewer('A');
  const headers = a.response.headers();
  const csp = headers['content-security-policy'] || '';
  for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
    "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]) {
    assert.ok(csp.includes(directive), `CSP lacks ${directive}: "${csp}"`);
  }
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.ok(headers['referrer-policy'], 'a Referrer-Policy');

  // Exercise what sets styles from code (the hold's countdown bar) and the socket.
  await clickSeat(a.page, 'C5');
  await waitSeat(a.page, 'C5', 'held-by-you');
  await holdEntry(a.page, 'C5').waitFor({ timeout: WAIT_MS });
  await sleep(1200); // a countdown tick
  const inline = await a.page.evaluate(() => ({
    scripts: Array.from(document.scripts).filter((s) => !s.src).length,
    styles: document.querySelectorAll('style, [style]:not(#seat-grid):not(.hold-bar > span)').length,
  }));
  assert.deepEqual(inline, { scripts: 0, styles: 0 }, 'inline scripts or styles in the page');
  assert.deepEqual(a.csp, [], 'CSP violations');
  assert.deepEqual(a.console, [], 'console errors');
  await assertNoErrors(a);
});

test('a CONNECT answered UNAVAILABLE: the page keeps its identity and its hold, and reconnects', async (t) => {
  let tap;
  const a = await openViewer('A', { setup: async (context) => { tap = await tapSockets(context); } });
  await clickSeat(a.page, 'D5');
  await waitSeat(a.page, 'D5', 'held-by-you');
  const before = await storedIdentity(a.page);
  const userId = await text(a.page, '#user-id');
  assert.ok(before.token, 'the page stored a token');

  tap.refuseConnects = 1;
  closeBoth(current(tap), 1011, 'connection lost (test)');
  await a.page.waitForFunction(() => document.getElementById('conn-status').dataset.state !== 'connected', null, { timeout: WAIT_MS });
  await waitConnected(a.page, RECONNECT_MS);

  assert.equal(tap.refused.length, 1, 'one CONNECT was refused');
  assert.equal(tap.refused[0].data.token, before.token, 'the refused CONNECT carried the stored token');
  const last = current(tap);
  assert.ok(tap.connections.length >= 3, `${tap.connections.length} sockets: the first, the refused one, a new one`);
  assert.equal(last.connect.data.token, before.token, 'the page tried again with the same token');
  assert.equal(typeof last.connect.data.after_seq, 'number', `after_seq in ${JSON.stringify(last.connect.data)}`);
  assert.equal(last.connect.data.epoch, tap.epoch, 'the epoch of the view it resumes');
  assert.deepEqual(await storedIdentity(a.page), before, 'the stored identity is unchanged');
  assert.equal(await text(a.page, '#user-id'), userId);
  await waitSeat(a.page, 'D5', 'held-by-you');
  await holdEntry(a.page, 'D5').waitFor({ timeout: WAIT_MS });
  const gap = last.at - tap.refused[0].at;
  t.diagnostic(`refused CONNECT → next socket after ${gap} ms; ${tap.connections.length} sockets in all`);
  await assertNoErrors(a);
});

test('a seat command answered UNAVAILABLE (its edge cut off from the booking service): the page says so, and the next click works', async () => {
  let tap;
  const a = await openViewer('A', { setup: async (context) => { tap = await tapSockets(context); } });
  tap.refuseCommands = 1;
  await clickSeat(a.page, 'E6');
  await a.page.locator('#errors').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.match(await text(a.page, '#errors .error-text'), /Booking is briefly unavailable\. Please try again in a few seconds\./);
  await waitSeat(a.page, 'E6', 'available');
  assert.equal(tap.connections.length, 1, 'the socket stayed up');

  await clickSeat(a.page, 'E6');
  await waitSeat(a.page, 'E6', 'held-by-you');
});

test('a stored token the system did not issue (an older version\'s) is answered UNAUTHORIZED: only then the page starts anew', async () => {
  // What a browser that used an older version has in its localStorage: a self-chosen token.
  const old = 'f'.repeat(64);
  let tap;
  const a = await openViewer('A', {
    setup: async (context, page) => {
      tap = await tapSockets(context);
      await page.addInitScript((token) => {
        if (!sessionStorage.getItem('seeded')) {
          localStorage.setItem('seatmap.token', token);
          sessionStorage.setItem('seeded', '1');
        }
      }, old);
    },
  });
  const [first, second] = tap.connections[0].connects;
  assert.equal(first.data.token, old, 'the page first tried its stored token');
  const now = await storedIdentity(a.page);
  assert.notEqual(now.token, old);
  assert.match(now.token, /^v1\./, 'it continues with the identity the system issued');
  assert.equal(second && second.data.token, now.token, 'and confirmed that one with a second CONNECT');
  assert.equal(tap.connections.length, 1, 'on the same socket');
  assert.equal(await text(a.page, '#user-id'), now.userId);
  assert.match(await text(a.page, '#errors'), /could not be resumed/);

  // From now on it is that identity: a reload keeps it.
  await a.page.reload();
  await waitConnected(a.page);
  assert.deepEqual(await storedIdentity(a.page), now);
  assert.equal(await text(a.page, '#user-id'), now.userId);
});

test('closed with 1001 right after every connect: the page backs off (no tight loop) and keeps its identity', async (t) => {
  let tap;
  const a = await openViewer('A', { setup: async (context) => { tap = await tapSockets(context); } });
  const before = await storedIdentity(a.page);

  tap.closeAfterResume = true;
  const from = tap.connections.length;
  const started = Date.now();
  closeBoth(current(tap), 1001, 'edge shutting down; reconnect');
  await sleep(3000);
  const attempts = tap.connections.slice(from);
  const gaps = attempts.slice(1).map((c, i) => c.at - attempts[i].at);
  t.diagnostic(`${attempts.length} sockets in ${Date.now() - started} ms; gaps ${gaps.join(', ')} ms`);
  // The old behaviour reconnected every 0-200 ms: about 30 in 3 s. With backoff (full jitter,
  // ceilings 250 ms, 500 ms, 1 s, 2 s, …) ten would already be very unlikely.
  assert.ok(attempts.length >= 2, 'the page kept trying');
  assert.ok(attempts.length <= 10, `${attempts.length} sockets in 3 s: a tight loop`);
  for (const c of attempts) {
    if (c.connect) assert.equal(c.connect.data.token, before.token, 'every retry resumes the same token');
  }

  // The edge is fine again: "Retry now" connects at once, as the same person.
  tap.closeAfterResume = false;
  // The page may show "connected" on a socket the test has just closed (the close is still on
  // its way to the page); seats clicked then are refused as "not connected" and the next socket
  // comes only after the backoff. So it is connected for this test only on a socket the test
  // did not close: asked of the tap first, then of the page (a socket the tap has not closed by
  // now stays open, since closeAfterResume is off).
  const deadline = Date.now() + RECONNECT_MS;
  for (;;) {
    const keptOpen = !current(tap).closedByTest;
    // Clicked in the page, so it cannot race the button's own timer.
    const shown = await a.page.evaluate(() => {
      const retry = document.getElementById('retry-now');
      if (!retry.hidden) { retry.click(); return 'retried'; }
      return document.getElementById('conn-status').dataset.state;
    });
    if (shown === 'retried' || (keptOpen && shown === 'connected')) break;
    assert.ok(Date.now() < deadline, `not within ${RECONNECT_MS} ms: "Retry now" or a socket the test kept open (page: ${shown})`);
    await sleep(20);
  }
  await waitConnected(a.page, WAIT_MS);
  assert.deepEqual(await storedIdentity(a.page), before, 'the stored identity is unchanged');
  await clickSeat(a.page, 'E5');
  await waitSeat(a.page, 'E5', 'held-by-you');
});

test('seq rules: stale updates are ignored, a VENUE_STATE always replaces the view, a gap asks for the whole state, reconnects send after_seq and epoch', async () => {
  let tap;
  const a = await openViewer('A', { setup: async (context) => { tap = await tapSockets(context); } });
  const live = current(tap);
  // The edge answers CONNECT with a VENUE_STATE of its own: let it arrive before injecting.
  await until(() => live.stateAfterConnect, 'the VENUE_STATE answering CONNECT');
  const seq = tap.lastSeq;
  assert.ok(seq >= 0, `the page got a VENUE_STATE (seq ${seq})`);
  const update = (s, seat, status, heldBy) => JSON.stringify({ type: 'SEAT_UPDATE', data: {
    venue: 'main', seq: s, seat_id: seat, status, held_by: heldBy, expires_at: null, reason: null,
  } });

  // Already applied (seq ≤ the page's): ignored.
  await live.page.send(update(seq, 'A1', 2, 'u-000000000000'));
  // The next one: applied.
  await live.page.send(update(seq + 1, 'A2', 2, 'u-000000000000'));
  await waitSeat(a.page, 'A2', 'booked');
  assert.equal((await a.page.locator('#seat-grid [data-seat="A1"]').getAttribute('data-status')), 'available', 'a stale SEAT_UPDATE was applied');

  // A VENUE_STATE with a lower seq (a new epoch) is still the whole truth.
  const seats = [];
  for (let r = 0; r < 10; r++) for (let c = 0; c < 10; c++) {
    seats.push({ id: `${String.fromCharCode(65 + r)}${c + 1}`, row: r, col: c, status: r === 9 && c === 9 ? 2 : 0, ...(r === 9 && c === 9 ? { held_by: 'u-000000000000' } : {}) });
  }
  await live.page.send(JSON.stringify({ type: 'VENUE_STATE', data: { venue: 'main', epoch: 987654, seq: 0, rows: 10, cols: 10, seats, server_time_ms: Date.now() } }));
  await waitSeat(a.page, 'J10', 'booked');
  await waitSeat(a.page, 'A2', 'available');

  // A real change after it skips seqs (the injected state's seq is 0): the page applies it and
  // asks this socket for the whole state (a CONNECT without after_seq), and the real server's
  // view replaces the injected one.
  const connects = live.connects.length;
  const states = live.states;
  await clickSeat(a.page, 'B5');
  await waitSeat(a.page, 'B5', 'held-by-you');
  await until(() => live.connects.length > connects, 'a CONNECT asking for the whole state');
  const asked = live.connects[live.connects.length - 1].data;
  assert.equal(asked.after_seq, undefined, `no after_seq in ${JSON.stringify(asked)}`);
  assert.equal(asked.venue, 'main');
  await until(() => live.states > states, 'the VENUE_STATE answering it');
  await waitSeat(a.page, 'J10', 'available');
  await waitSeat(a.page, 'B5', 'held-by-you');
  assert.equal(tap.connections.length, 1, 'asked on the same socket, not by reconnecting');

  // A reconnect resumes from what the page applied last, in the real epoch.
  await a.page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 50)));
  const applied = tap.lastSeq;
  closeBoth(live, 1011, 'connection lost (test)');
  await a.page.waitForFunction(() => document.getElementById('conn-status').dataset.state !== 'connected', null, { timeout: WAIT_MS });
  await waitConnected(a.page, RECONNECT_MS);
  const resumed = current(tap).connect.data;
  assert.equal(resumed.after_seq, applied, `after_seq in ${JSON.stringify(resumed)}`);
  assert.equal(resumed.epoch, tap.epoch, 'the epoch of the VENUE_STATE the view came from');
  assert.notEqual(resumed.epoch, 987654);
  await waitSeat(a.page, 'B5', 'held-by-you');
});
