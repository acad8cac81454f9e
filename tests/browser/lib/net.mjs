// HTTP and WebSocket clients for tests that talk to the stack through NGINX, from a chosen
// local address (127.0.0.x), so each test can play a different client IP. An https:// SEATMAP_URL
// (./start.sh --tls, SECURE=1) gives HTTPS and wss://, verified against Node's trusted CAs: the
// run's local CA comes in through NODE_EXTRA_CA_CERTS=$RUN_DIR/tls/ca.pem.

import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';

export const BASE_URL = (process.env.SEATMAP_URL || '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('SEATMAP_URL is not set: start the stack and point SEATMAP_URL at NGINX, e.g. SEATMAP_URL=http://127.0.0.1:8089');
}
export const WS_URL = `${BASE_URL.replace(/^http/, 'ws')}/ws`;
/** node:http or node:https, whichever SEATMAP_URL's scheme needs (their request/get are alike). */
export const TLS = new URL(BASE_URL).protocol === 'https:';
export const httpClient = TLS ? https : http;

/**
 * The options that make a connection leave from `localAddress`. The family follows it, so a
 * host name such as localhost (the local certificate's name) resolves to an address of the same
 * family even where it also resolves to ::1.
 */
export function fromAddress(localAddress) {
  return { localAddress, family: net.isIP(localAddress) || undefined };
}

/**
 * The limits start.sh used: $SEATMAP_RUN_DIR/limits.env (written by start.sh), as numbers.
 * Missing file: the documented defaults.
 */
export function readLimits() {
  const limits = {
    LIMIT_SESSION_PER_MIN: 10, LIMIT_SESSION_BURST: 20, LIMIT_SEAT_PER_SEC: 20, LIMIT_SEAT_BURST: 40,
    LIMIT_WS_PER_SEC: 5, LIMIT_WS_BURST: 30, LIMIT_WS_CONN: 50, ADMIN_FROM: 'local',
  };
  const dir = process.env.SEATMAP_RUN_DIR;
  if (!dir) throw new Error('SEATMAP_RUN_DIR is not set: the run dir of ./start.sh, whose limits.env the tests read');
  const text = fs.readFileSync(`${dir}/limits.env`, 'utf8');
  for (const line of text.split('\n')) {
    const m = line.match(/^([A-Z_]+)=(.*)$/);
    if (!m) continue;
    limits[m[1]] = /^\d+$/.test(m[2]) ? Number(m[2]) : m[2];
  }
  return limits;
}

/**
 * Calls `ready(ms since t0)` once `socket` is connected: over TLS, once its handshake is done.
 */
function whenReady(socket, t0, ready) {
  socket.once(TLS ? 'secureConnect' : 'connect', () => ready(performance.now() - t0));
}

/**
 * One HTTP request on its own connection from `localAddress`.
 * Resolves { status, body (parsed JSON when it is JSON), text, headers, ms, readyMs (when the
 * connection was up, TLS handshake included) }; never rejects (a network error gives status 0
 * and `error`).
 */
export function request(method, path, { body, headers = {}, localAddress = '127.0.0.1', timeoutMs = 15000 } = {}) {
  const t0 = performance.now();
  let readyMs;
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const req = httpClient.request(`${BASE_URL}${path}`, {
      method,
      agent: false,
      ...fromAddress(localAddress),
      headers: {
        ...(data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
        ...headers,
      },
      timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body: parsed, text, headers: res.headers, ms: performance.now() - t0, readyMs });
      });
      res.on('error', (error) => resolve({ status: 0, error, ms: performance.now() - t0 }));
    });
    req.on('socket', (socket) => whenReady(socket, t0, (ms) => { readyMs = ms; }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, error, ms: performance.now() - t0 }));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });

/**
 * A WebSocket client through NGINX. `opened` resolves once the upgrade is answered:
 * { status: 101 } or the refusal's { status: 429 | 403 | …, body }, or { status: 0, error };
 * each with `ms` and `readyMs` as request()'s.
 * Frames are collected in `frames` (parsed); `next(type)` waits for the next frame of a type.
 */
export function openSocket({ localAddress = '127.0.0.1', origin, headers, timeoutMs = 15000 } = {}) {
  const t0 = performance.now();
  let readyMs;
  // ws's own connect (net or tls, the SNI name from the host), watched for the moment it is up.
  const connect = (options) => {
    const socket = TLS
      ? tls.connect({ ...options, path: undefined, servername: net.isIP(options.host) ? '' : options.host })
      : net.connect({ ...options, path: options.socketPath });
    whenReady(socket, t0, (ms) => { readyMs = ms; });
    return socket;
  };
  const ws = new WebSocket(WS_URL, {
    ...fromAddress(localAddress),
    createConnection: connect,
    handshakeTimeout: timeoutMs,
    perMessageDeflate: false,
    ...(origin ? { origin } : {}),
    ...(headers ? { headers } : {}),
  });
  const client = { ws, frames: [], waiters: [] };
  ws.on('message', (data) => {
    let frame;
    try { frame = JSON.parse(String(data)); } catch { return; }
    client.frames.push(frame);
    for (const w of client.waiters.slice()) {
      if (w.test(frame)) {
        client.waiters.splice(client.waiters.indexOf(w), 1);
        w.resolve(frame);
      }
    }
  });
  client.opened = new Promise((resolve) => {
    const done = (result) => resolve({ ...result, ms: performance.now() - t0, readyMs });
    ws.once('open', () => done({ status: 101 }));
    ws.once('unexpected-response', (req, res) => {
      // Node's global agent keeps connections alive: close this one, or it lingers in the pool.
      const socket = res.socket;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        done({ status: res.statusCode, body, text });
        socket.destroy();
      });
    });
    ws.once('error', (error) => done({ status: 0, error }));
  });
  ws.on('error', () => {}); // reported through `opened`
  /** The next frame not taken yet (received already, or still to come) for which test(frame) holds. */
  client.next = (test, timeout = 5000) => {
    const match = typeof test === 'string' ? (f) => f.type === test : test;
    const seen = client.frames.find((f) => match(f) && !f.__taken);
    if (seen) { seen.__taken = true; return Promise.resolve(seen); }
    return new Promise((resolve, reject) => {
      const waiter = {
        test: match,
        resolve: (f) => { clearTimeout(timer); f.__taken = true; resolve(f); },
      };
      const timer = setTimeout(() => {
        client.waiters.splice(client.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${typeof test === 'string' ? test : 'matching'} frame within ${timeout} ms; got ${JSON.stringify(client.frames.map((f) => f.type))}`));
      }, timeout);
      client.waiters.push(waiter);
    });
  };
  client.send = (message) => ws.send(JSON.stringify(message));
  client.close = () => new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(); return; }
    ws.once('close', () => resolve());
    try { ws.terminate(); } catch { resolve(); }
  });
  return client;
}

/** A new identity from POST /api/session (through NGINX, from `localAddress`). */
export async function newSession(localAddress) {
  const res = await post('/api/session', undefined, { localAddress });
  if (res.status !== 200 || !res.body || !res.body.token) {
    throw new Error(`POST /api/session from ${localAddress}: HTTP ${res.status} ${res.text || res.error}`);
  }
  return res.body;
}

export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
