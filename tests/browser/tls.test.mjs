// HTTPS and WSS through NGINX (./start.sh --tls): the page over https:// with its socket on
// wss://, a hold seen by a second browser, HSTS, a Secure cookie, and plain HTTP answering only
// with a redirect. Chromium trusts the run's certificate by its public key (SEATMAP_TLS_SPKI)
// and nothing else; Node trusts the run's CA (NODE_EXTRA_CA_CERTS).
//
// Environment (besides lib/page.mjs's): SEATMAP_URL https://localhost:HTTPS_PORT,
// SEATMAP_HTTP_URL http://127.0.0.1:HTTP_PORT (the redirecting port), SEATMAP_HSTS_MAX_AGE.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  BASE_URL, assertNoErrors, clickSeat, holdEntry, launchChromium, openViewer, useBrowser, waitSeat, WAIT_MS,
} from './lib/page.mjs';

const HTTP_URL = (process.env.SEATMAP_HTTP_URL || '').replace(/\/+$/, '');
const HSTS_MAX_AGE = process.env.SEATMAP_HSTS_MAX_AGE || '300';
if (!BASE_URL.startsWith('https://') || !HTTP_URL || !process.env.SEATMAP_TLS_SPKI) {
  throw new Error('tls.test.mjs needs SEATMAP_URL=https://…, SEATMAP_HTTP_URL=http://… and SEATMAP_TLS_SPKI');
}

useBrowser();

test('1. the page over HTTPS holds a seat over WSS, and a second browser sees it', async () => {
  const sockets = [];
  const watchSockets = async (context, page) => page.on('websocket', (ws) => sockets.push(ws.url()));
  const a = await openViewer('A', { setup: watchSockets });
  const b = await openViewer('B');

  assert.equal(a.response.status(), 200);
  const security = await a.response.securityDetails();
  assert.ok(security, 'the page must arrive over TLS');
  assert.match(security.protocol, /^TLS 1\.[23]$/, `negotiated ${security.protocol}`);
  assert.equal(a.response.headers()['strict-transport-security'], `max-age=${HSTS_MAX_AGE}`);
  assert.ok(sockets.length >= 1 && sockets.every((u) => u.startsWith('wss://')),
    `the page's sockets must be wss://, got ${JSON.stringify(sockets)}`);
  const cid = (await a.context.cookies()).find((c) => c.name === 'seatmap_cid');
  assert.ok(cid, 'the page sets its client id cookie');
  assert.equal(cid.secure, true, 'over HTTPS the client id cookie is Secure');

  await waitSeat(b.page, 'D5', 'available', { startsWith: 'D5, available' });
  await clickSeat(a.page, 'D5');
  await waitSeat(a.page, 'D5', 'held-by-you', { startsWith: 'D5, held by you, ' });
  await waitSeat(b.page, 'D5', 'held', { startsWith: 'D5, held,' });
  await holdEntry(a.page, 'D5').waitFor({ timeout: WAIT_MS });
  await assertNoErrors(a);
  await assertNoErrors(b);
});

test('2. a browser that does not trust the certificate refuses the page', async () => {
  const untrusting = await launchChromium(null);
  try {
    const page = await (await untrusting.newContext()).newPage();
    await assert.rejects(page.goto(`${BASE_URL}/`), /ERR_CERT_AUTHORITY_INVALID/);
  } finally {
    await untrusting.close();
  }
});

test('3. plain HTTP answers every path with a redirect to the same URL on HTTPS', async () => {
  for (const path of ['/', '/api/seats?venue=main', '/ws']) {
    const res = await new Promise((resolve, reject) => {
      http.get(`${HTTP_URL}${path}`, { agent: false }, (r) => { r.resume(); resolve(r); }).on('error', reject);
    });
    assert.equal(res.statusCode, 301, `${path}: HTTP ${res.statusCode}`);
    const want = new URL(path, BASE_URL);
    want.hostname = new URL(HTTP_URL).hostname;
    assert.equal(res.headers.location, want.href, `${path} redirects to the same URL on HTTPS`);
    assert.equal(res.headers['strict-transport-security'], undefined, 'HSTS is sent over HTTPS only');
  }
});

test('4. HSTS on the API answers too, and TLS below 1.2 is refused', async () => {
  const res = await fetch(`${BASE_URL}/api/seats?venue=main`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('strict-transport-security'), `max-age=${HSTS_MAX_AGE}`);
  const tls = await import('node:tls');
  const url = new URL(BASE_URL);
  const outcome = await new Promise((resolve) => {
    const socket = tls.connect({ host: url.hostname, port: Number(url.port || 443), servername: url.hostname,
      minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    socket.on('secureConnect', () => { resolve(`connected with ${socket.getProtocol()}`); socket.destroy(); });
    socket.on('error', (e) => resolve(`refused: ${e.code || e.message}`));
  });
  assert.match(outcome, /^refused/, `a TLS 1.0/1.1 client: ${outcome}`);
});
