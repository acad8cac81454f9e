// One click followed through the logs by its request id, against the whole running stack:
// a WebSocket through NGINX selects a seat; NGINX's access log line of that connection gives the
// connection's id, the edge's log has the command <id>.1 answered OK, and the booking service's
// log has the same id on the seat's change and on its answer. Plus the HTTP side: the booking
// service answers every request with its X-Request-Id, the one NGINX logged.
//
// Client address 127.0.0.8 (stack.test.mjs uses .1-.7).
//
// Environment:
//   SEATMAP_URL          required, NGINX, e.g. http://127.0.0.1:8089
//   SEATMAP_RUN_DIR      required, start.sh's RUN_DIR: nginx/access.log and logs/*.log are read

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { newSession, openSocket, post } from './lib/net.mjs';

const RUN_DIR = process.env.SEATMAP_RUN_DIR;
const ADDRESS = '127.0.0.8';
/** NGINX writes a connection's access log line when it closes; give it this long. */
const LOG_WAIT_MS = 5000;

function logFiles(prefix) {
  const dir = path.join(RUN_DIR, 'logs');
  return fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.log')).map((f) => path.join(dir, f));
}

/** The lines of `files` that contain `needle`. */
function linesWith(files, needle) {
  return files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n')).filter((l) => l.includes(needle));
}

/** The lines of `files` with `needle`, once there is at least one (NGINX logs a socket on close). */
async function waitForLines(files, needle) {
  const deadline = Date.now() + LOG_WAIT_MS;
  for (;;) {
    const lines = linesWith(files, needle);
    if (lines.length || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('one click over a WebSocket: NGINX\'s line of its connection leads to the edge\'s and the booking service\'s lines', async () => {
  assert.ok(RUN_DIR, 'SEATMAP_RUN_DIR is not set');
  const accessLog = [path.join(RUN_DIR, 'nginx', 'access.log')];
  // A User-Agent no other client uses picks this connection's line out of the access log.
  const agent = `request-id-test/${process.pid}-${Date.now()}`;
  const ws = openSocket({ localAddress: ADDRESS, headers: { 'User-Agent': agent } });
  let seat;
  try {
    assert.equal((await ws.opened).status, 101);
    await ws.next('WELCOME');
    const state = await ws.next('VENUE_STATE');
    seat = state.data.seats.find((s) => s.status === 0);
    assert.ok(seat, 'no available seat to click');
    ws.send({ type: 'SELECT_SEAT', data: { seat_id: seat.id, req_id: 'click' } });
    const answer = await ws.next((f) => f.type === 'OK' || f.type === 'ERROR');
    assert.equal(answer.type, 'OK', `the click was answered ${JSON.stringify(answer)}`);
  } finally {
    await ws.close();
  }

  // 1. NGINX: the connection's line, and its request id.
  const [connectionLine, ...others] = await waitForLines(accessLog, `"${agent}"`);
  assert.ok(connectionLine, `no access log line with User-Agent ${agent}`);
  assert.equal(others.length, 0, 'one connection, one line');
  assert.match(connectionLine, /"GET \/ws HTTP\/1\.1" 101 /);
  const id = connectionLine.match(/ request_id=([0-9a-f]{32}) /)?.[1];
  assert.ok(id, `no request id in NGINX's line: ${connectionLine}`);

  // 2. The edge: the connection's first command, <id>.1, answered OK; only one edge has it.
  const command = `${id}.1`;
  const edgeLines = linesWith(logFiles('edge-'), `request_id=${command}`);
  const edgeAnswer = edgeLines.filter((l) => l.includes('answered'));
  assert.equal(edgeAnswer.length, 1, `the edge's answer line for ${command}:\n${edgeLines.join('\n')}`);
  assert.match(edgeAnswer[0], /answer="OK" action=select/);
  assert.match(edgeAnswer[0], new RegExp(`connection_id=${id}\\b`));

  // 3. The booking service: the seat's change and the answer, under the same id.
  const bookingLines = linesWith(logFiles('booking'), `request_id=${command}`);
  assert.ok(bookingLines.some((l) => l.includes('seat changed') && l.includes(`seat=${seat.id} `)),
    `no "seat changed" line for ${seat.id} with ${command}:\n${bookingLines.join('\n')}`);
  assert.ok(bookingLines.some((l) => l.includes('answered') && l.includes('path="/api/seats/select"') && l.includes('status=200')),
    `no answer line for ${command}:\n${bookingLines.join('\n')}`);
});

test('HTTP: the booking service answers with the request id NGINX logged; a client\'s own plain id is kept', async () => {
  const me = await newSession(ADDRESS);
  const minted = await post('/api/seats/select', { seat_id: 'Z99', token: me.token }, { localAddress: ADDRESS });
  const id = minted.headers['x-request-id'];
  assert.match(id || '', /^[0-9a-f]{32}$/, `X-Request-Id of the answer: ${id}`);
  const logged = await waitForLines([path.join(RUN_DIR, 'nginx', 'access.log')], ` request_id=${id} `);
  assert.equal(logged.length, 1);
  assert.match(logged[0], /"POST \/api\/seats\/select HTTP\/1\.1" 4\d\d /);
  assert.ok(linesWith(logFiles('booking'), `request_id=${id}`).some((l) => l.includes('answered')),
    'the booking service logged the answer under the same id');

  const own = `test-${process.pid}.7`;
  const kept = await post('/api/seats/select', { seat_id: 'Z99', token: me.token },
    { localAddress: ADDRESS, headers: { 'X-Request-Id': own } });
  assert.equal(kept.headers['x-request-id'], own);
  // One that could forge a log line is replaced by NGINX's own.
  const forged = await post('/api/seats/select', { seat_id: 'Z99', token: me.token },
    { localAddress: ADDRESS, headers: { 'X-Request-Id': 'x status=200 "' } });
  assert.match(forged.headers['x-request-id'] || '', /^[0-9a-f]{32}$/);
});
