// A viewer that sends seat commands for the network fault scenarios: opens a WebSocket to an
// edge, and for each line "ACTION SEAT" on stdin (SELECT_SEAT A1, BOOK_SEAT A1, RELEASE_SEAT A1)
// sends that command with a req_id of its own. Prints "<unix ms> READY <edge_id>" once the
// first VENUE_STATE came, one line per answer, "<unix ms> ANSWER <req_id> <OK|error code>
// <ms from sending to the answer>", "<unix ms> STATUS live:<true|false>" and
// "<unix ms> CLOSED <code>"; exits when the socket closes or stdin ends.
// Usage: node tests/net/commander.mjs ws://HOST:PORT/ws <commands
import { createInterface } from 'node:readline';
import WebSocket from '../browser/node_modules/ws/wrapper.mjs';

const url = process.argv[2];
if (!url) {
  console.error('usage: node tests/net/commander.mjs ws://HOST:PORT/ws <commands');
  process.exit(2);
}
const say = (line) => process.stdout.write(`${Date.now()} ${line}\n`);
const sent = new Map(); // req_id -> unix ms it was sent
let next = 0;
let edgeId = '?';
let ready = false;

const socket = new WebSocket(url);
socket.on('message', (data) => {
  let frame;
  try { frame = JSON.parse(String(data)); } catch { return; }
  const body = frame.data || {};
  if (frame.type === 'WELCOME') edgeId = body.edge_id;
  if (frame.type === 'VENUE_STATE' && !ready) {
    ready = true;
    say(`READY ${edgeId}`);
  }
  if (frame.type === 'STATUS') say(`STATUS live:${body.live}`);
  if ((frame.type === 'OK' || frame.type === 'ERROR') && sent.has(body.req_id)) {
    const elapsed = Date.now() - sent.get(body.req_id);
    sent.delete(body.req_id);
    say(`ANSWER ${body.req_id} ${frame.type === 'OK' ? 'OK' : body.code} ${elapsed}`);
  }
});
socket.on('close', (code) => {
  say(`CLOSED ${code}`);
  process.exit(0);
});
socket.on('error', (error) => {
  console.error(`commander: ${error.message}`);
  process.exit(1);
});
socket.on('open', () => {
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [type, seatId] = line.trim().split(/\s+/);
    if (!type || !seatId) return;
    const reqId = `r${++next}`;
    sent.set(reqId, Date.now());
    socket.send(JSON.stringify({ type, data: { seat_id: seatId, req_id: reqId } }));
    say(`SENT ${reqId} ${type} ${seatId}`);
  }).on('close', () => socket.close(1000));
});
