// The transport (js/transport.js) with a fake socket and a fake clock: callbacks, stale events,
// the confirm deadline, pings and their answers, reconnecting with backoff, stop and restart.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Backoff } from '../../frontend/js/backoff.js';
import { Transport } from '../../frontend/js/transport.js';

/** A clock with timers that run only when the test advances it. */
function fakeClock() {
  let now = 1_000_000;
  let nextId = 1;
  const timers = new Map(); // id -> { at, fn, every }
  const api = {
    now: () => now,
    setTimeout: (fn, ms) => { timers.set(nextId, { at: now + ms, fn }); return nextId++; },
    setInterval: (fn, ms) => { timers.set(nextId, { at: now + ms, fn, every: ms }); return nextId++; },
    clearTimeout: (id) => timers.delete(id),
    clearInterval: (id) => timers.delete(id),
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const [id, timer] = [...timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0] || [];
        if (!timer) break;
        now = timer.at;
        if (timer.every) timer.at += timer.every; else timers.delete(id);
        timer.fn();
      }
      now = until;
    },
  };
  return api;
}

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    this.listeners = {};
  }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  emit(type, event = {}) { for (const fn of this.listeners[type] || []) fn(event); }
  open() { this.readyState = 1; this.emit('open'); }
  receive(data) { this.emit('message', { data }); }
  serverClose(code) { this.readyState = 3; this.emit('close', { code }); }
  send(text) { this.sent.push(text); }
  close(code) { this.readyState = 3; this.closedWith = code ?? 1005; }
}

/** Advances the clock to the end of the transport's current wait (the retry then runs). */
function sitOutWait(clock, transport) {
  assert.ok(transport.retryAt > 0, 'a retry is scheduled');
  clock.advance(transport.retryAt - clock.now());
}

function setup({ random = () => 0.5, ping = {} } = {}) {
  const clock = fakeClock();
  const sockets = [];
  const seen = [];
  const backoff = new Backoff({ baseMs: 250, capMs: 10000, healthyAfterMs: 5000, random, now: clock.now });
  const transport = new Transport({
    url: () => 'ws://test/ws',
    backoff,
    confirmWithinMs: 8000,
    ...ping,
    onOpen: () => seen.push('open'),
    onText: (text) => seen.push(`text ${text}`),
    onClose: ({ code, stopped }) => seen.push(`close ${code}${stopped ? ' stopped' : ''}`),
    onStatus: ({ retryAt }) => seen.push(retryAt ? `retry in ${retryAt - clock.now()}` : 'status'),
    openSocket: (url) => { const s = new FakeSocket(url); sockets.push(s); return s; },
    timers: clock,
    now: clock.now,
    log: { warn() {}, info() {} },
  });
  return { clock, sockets, seen, transport, backoff, last: () => sockets.at(-1) };
}

test('frames of the open socket go up; sending needs an open socket', () => {
  const { transport, last, seen } = setup();
  transport.connect();
  assert.equal(last().url, 'ws://test/ws');
  assert.equal(transport.send('early'), false, 'not open yet');
  last().open();
  last().receive('{"type":"WELCOME"}');
  last().receive(new ArrayBuffer(1)); // binary frames are not the page's
  assert.equal(transport.send('hello'), true);
  assert.deepEqual(last().sent, ['hello']);
  assert.deepEqual(seen.filter((s) => s !== 'status'), ['open', 'text {"type":"WELCOME"}']);
});

test('a closed socket is reported, then retried after the backoff wait', () => {
  const { transport, sockets, last, seen, clock } = setup();
  transport.connect();
  last().open();
  last().serverClose(1011);
  assert.deepEqual(seen.slice(-2), ['close 1011', 'retry in 125'], 'half of the first 250 ms bound');
  assert.ok(transport.retryAt > 0);
  clock.advance(124);
  assert.equal(sockets.length, 1);
  clock.advance(1);
  assert.equal(sockets.length, 2, 'a new socket once the wait is over');
  assert.equal(transport.retryAt, 0);
});

test('failing again and again waits longer each time, up to the cap', () => {
  const { transport, last, seen, clock } = setup({ random: () => 1 - Number.EPSILON });
  transport.connect();
  const waits = [];
  for (let i = 0; i < 8; i++) {
    last().serverClose(1006);
    waits.push(Math.round(Number(seen.at(-1).replace('retry in ', ''))));
    sitOutWait(clock, transport);
  }
  assert.deepEqual(waits, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
});

test('a connection confirmed and kept up long enough makes the next retry quick again', () => {
  const { transport, last, seen, clock } = setup({ random: () => 1 - Number.EPSILON });
  transport.connect();
  for (let i = 0; i < 4; i++) { last().serverClose(1006); sitOutWait(clock, transport); }
  last().open();
  transport.confirmed();
  clock.advance(5000);
  last().serverClose(1001);
  assert.equal(Math.round(Number(seen.at(-1).replace('retry in ', ''))), 250);
});

test('a socket not confirmed in time is dropped and retried', () => {
  const { transport, sockets, seen, clock } = setup();
  transport.connect();
  sockets[0].open();
  clock.advance(7999);
  assert.equal(sockets[0].closedWith, null);
  clock.advance(1);
  assert.notEqual(sockets[0].closedWith, null, 'closed by the page');
  assert.ok(seen.includes('close 1006'));
  sitOutWait(clock, transport);
  assert.equal(sockets.length, 2);
  sockets[1].open();
  transport.confirmed();
  clock.advance(60000);
  assert.equal(sockets[1].closedWith, null, 'a confirmed socket is kept');
});

test('events of an abandoned socket disturb nothing', () => {
  const { transport, sockets, seen, clock } = setup();
  transport.connect();
  sockets[0].open();
  transport.drop('refused');
  sitOutWait(clock, transport);
  sockets[1].open();
  const before = seen.length;
  sockets[0].receive('{"type":"SEAT_UPDATE"}');
  sockets[0].serverClose(1000);
  sockets[0].emit('open');
  assert.equal(seen.length, before, 'nothing from the old socket');
  assert.equal(transport.send('x'), true, 'the new socket is still the one in use');
  assert.deepEqual(sockets[1].sent, ['x']);
});

test('stop closes cleanly and retries nothing; restart connects at once', () => {
  const { transport, sockets, seen, clock } = setup();
  transport.connect();
  sockets[0].open();
  transport.stop();
  assert.equal(sockets[0].closedWith, 1000);
  assert.equal(seen.at(-1), 'close 1000 stopped');
  sockets[0].serverClose(1000); // the browser's own close event, later
  clock.advance(60000);
  assert.equal(sockets.length, 1, 'no reconnect while stopped');
  transport.connect();
  assert.equal(sockets.length, 1, 'nor on request');
  transport.restart();
  assert.equal(sockets.length, 2);
});

test('reconnecting now skips the wait and starts the backoff over', () => {
  const { transport, sockets, clock } = setup({ random: () => 1 - Number.EPSILON });
  transport.connect();
  for (let i = 0; i < 5; i++) { sockets.at(-1).serverClose(1006); sitOutWait(clock, transport); }
  sockets.at(-1).serverClose(1006); // now waiting up to 8 s
  const count = sockets.length;
  transport.reconnectNow();
  assert.equal(sockets.length, count + 1, 'at once');
  transport.reconnectNow();
  assert.equal(sockets.length, count + 1, 'not while a socket is open or opening');
  assert.equal(transport.retryAt, 0);
});

test('a socket that cannot even be created is retried with backoff', () => {
  const clock = fakeClock();
  let attempts = 0;
  const transport = new Transport({
    url: () => 'ws://test/ws',
    backoff: new Backoff({ baseMs: 250, capMs: 10000, healthyAfterMs: 5000, random: () => 0.5, now: clock.now }),
    confirmWithinMs: 8000,
    onOpen() {}, onText() {}, onClose() {},
    openSocket: () => { attempts++; throw new Error('SecurityError'); },
    timers: clock, now: clock.now, log: { warn() {}, info() {} },
  });
  transport.connect();
  assert.equal(attempts, 1);
  clock.advance(125);
  assert.equal(attempts, 2);
});

const PING = { pingEveryMs: 20000, pongWithinMs: 10000, pingText: '{"type":"PING"}' };

test('a socket in use is pinged every 20 s and kept while it answers', () => {
  const { transport, sockets, clock } = setup({ ping: PING });
  transport.connect();
  sockets[0].open();
  clock.advance(7000);
  assert.deepEqual(sockets[0].sent, [], 'no ping before the socket is confirmed');
  transport.confirmed();
  clock.advance(19999);
  assert.deepEqual(sockets[0].sent, []);
  clock.advance(1);
  assert.deepEqual(sockets[0].sent, ['{"type":"PING"}']);
  for (let i = 0; i < 5; i++) {
    clock.advance(300); // the PONG comes
    transport.ponged();
    clock.advance(19700);
  }
  assert.equal(sockets[0].sent.length, 6, 'one ping every 20 s');
  assert.equal(sockets[0].closedWith, null, 'answered pings keep the socket');
  assert.equal(sockets.length, 1);
});

test('no PONG within 10 s of a ping: the socket is dropped and another one opened', () => {
  const { transport, sockets, seen, clock } = setup({ ping: PING });
  transport.connect();
  sockets[0].open();
  transport.confirmed();
  clock.advance(20000); // the ping goes out
  clock.advance(9999);
  assert.equal(sockets[0].closedWith, null, 'still within the 10 s');
  clock.advance(1);
  assert.notEqual(sockets[0].closedWith, null, 'dropped by the page');
  assert.ok(seen.includes('close 1006'));
  sitOutWait(clock, transport);
  assert.equal(sockets.length, 2, 'a new socket');
  sockets[1].open();
  clock.advance(7000);
  assert.deepEqual(sockets[1].sent, [], 'the new socket is pinged only once it is confirmed');
});

test('a late PONG of an old socket does not save the new one, nor do pings outlive it', () => {
  const { transport, sockets, clock } = setup({ ping: PING });
  transport.connect();
  sockets[0].open();
  transport.confirmed();
  clock.advance(20000);
  sockets[0].serverClose(1001); // the edge goes away with a ping unanswered
  sitOutWait(clock, transport);
  sockets[1].open();
  transport.confirmed();
  clock.advance(10000);
  assert.equal(sockets[1].closedWith, null, 'the old ping has no deadline on the new socket');
  assert.equal(sockets[0].sent.length, 1, 'the old socket is pinged no more');
  clock.advance(10000); // the new socket's first ping
  assert.equal(sockets[1].sent.length, 1);
  clock.advance(10000);
  assert.notEqual(sockets[1].closedWith, null, 'its own ping went unanswered');
});
