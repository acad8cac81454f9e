// Frames and NATS payloads captured from a live stack, checked against docs/asyncapi.yaml's
// schemas: every frame an edge sends, every frame this script sends, and every seat event on
// `seats.>` must match the message its type (or subject) names, and each kind the session is
// built to provoke must have been seen.
//
//   node live.mjs ASYNCAPI.yaml ws://127.0.0.1:PORT/ws 127.0.0.1:NATS_PORT
//   node live.mjs ASYNCAPI.yaml ws://127.0.0.1:PORT/ws 127.0.0.1:NATS_PORT --waiting-room
//
// The session: a socket on the default venue (WELCOME, a grid VENUE_STATE); CONNECT to the arena
// (a chart VENUE_STATE), hold, book, hold and release two of its free seats (OK, SEAT_UPDATE and
// the held, booked and released events), a release of a seat it booked and an unknown type
// (ERROR), a PING (PONG); a second socket resuming the identity with `"state": "compact"` (the compact
// VENUE_STATE, and MINE listing the booked seat). --waiting-room (a stack with MAX_SHOPPERS set):
// two sockets must each get QUEUE or ADMITTED.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import WebSocket from 'ws';

const WAIT_MS = 5000;
const [docPath, wsUrl, natsAddress, mode] = process.argv.slice(2);
if (!docPath || !wsUrl || !natsAddress) {
  console.error('usage: node live.mjs ASYNCAPI.yaml ws://HOST:PORT/ws HOST:NATS_PORT [--waiting-room]');
  process.exit(2);
}
const problems = [];
const fail = (message) => problems.push(message);

// ------------------------------------------------------------------ the document's schemas
const { document, diagnostics } = await new Parser().parse(await readFile(docPath, 'utf8'), { source: docPath });
if (!document) {
  console.error(diagnostics.map((d) => d.message).join('\n'));
  process.exit(1);
}
const ajv = new Ajv({ strict: false, allErrors: true });

/** The validators of one operation's messages, by the `type` value each payload names. */
function validatorsOf(operationId, typeOf) {
  const byType = new Map();
  for (const message of document.operations().get(operationId).messages().all()) {
    const schema = message.payload().json();
    for (const type of typeOf(schema)) byType.set(type, { name: message.name(), validate: ajv.compile(schema) });
  }
  return byType;
}
const frameTypes = (schema) => schema.properties.type.const !== undefined
  ? [schema.properties.type.const] : schema.properties.type.enum;
const serverFrames = validatorsOf('sendServerFrames', frameTypes);
const clientFrames = validatorsOf('receiveClientFrames', frameTypes);
// Event payloads are allOf [base, specifics]: the specifics hold the `type` const.
const seatEvents = validatorsOf('publishSeatEvents',
  (schema) => schema.allOf.map((part) => part.properties?.type?.const).filter(Boolean));

function check(validators, what, type, value) {
  const validator = validators.get(type);
  if (!validator) {
    fail(`${what} of type ${JSON.stringify(type)}: no message in ${docPath} describes it: ${JSON.stringify(value).slice(0, 300)}`);
    return;
  }
  if (!validator.validate(value)) {
    const errors = validator.validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    fail(`${what} ${type} does not match ${validator.name}: ${errors}\n    ${JSON.stringify(value).slice(0, 400)}`);
  }
}

// ------------------------------------------------------------------ NATS: every seat event
function subscribeNats(address) {
  const [host, port] = address.split(':');
  const events = [];
  const socket = net.connect(Number(port), host);
  let buffer = Buffer.alloc(0);
  let ready;
  const subscribed = new Promise((resolve, reject) => { ready = resolve; socket.once('error', reject); });
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const end = buffer.indexOf('\r\n');
      if (end < 0) return;
      const line = buffer.subarray(0, end).toString();
      if (line.startsWith('MSG ')) {
        const parts = line.split(' ');
        const size = Number(parts[parts.length - 1]);
        if (buffer.length < end + 2 + size + 2) return;
        events.push({ subject: parts[1], payload: buffer.subarray(end + 2, end + 2 + size).toString() });
        buffer = buffer.subarray(end + 2 + size + 2);
        continue;
      }
      buffer = buffer.subarray(end + 2);
      if (line === 'PING') socket.write('PONG\r\n');
      else if (line === 'PONG') ready();
    }
  });
  // The PONG to this PING comes once the server has processed the SUB.
  socket.write('CONNECT {"verbose":false,"pedantic":false}\r\nSUB seats.> 1\r\nPING\r\n');
  return { events, subscribed, close: () => socket.destroy() };
}

// ------------------------------------------------------------------ WebSocket sessions
class Session {
  constructor(url) {
    this.frames = [];
    this.socket = new WebSocket(url);
    this.socket.on('message', (data, binary) => {
      if (binary) fail(`a binary frame from the edge: ${data.length} bytes`);
      this.frames.push(JSON.parse(data.toString()));
    });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', resolve);
      this.socket.once('error', reject);
    });
  }

  /** Sends a client frame; `expectValid` false for the ones meant to be refused. */
  send(frame, expectValid = true) {
    if (expectValid) check(clientFrames, 'client frame', frame.type, frame);
    this.socket.send(JSON.stringify(frame));
  }

  async waitFor(what, predicate, from = 0) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = this.frames.slice(from).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${WAIT_MS} ms; got ${this.frames.map((f) => f.type).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  answer(reqId) {
    return this.waitFor(`answer to ${reqId}`, (f) => (f.type === 'OK' || f.type === 'ERROR') && f.data.req_id === reqId);
  }

  close() { this.socket.close(); }
}

/** Ids of free seats in a VENUE_STATE (full form). */
function freeSeats(state, count) {
  const free = state.data.seats.filter((s) => s.status === 0).map((s) => s.id);
  if (free.length < count) throw new Error(`${state.data.venue} has ${free.length} free seats; the session needs ${count}`);
  // From the end: the browser tests and the docs' commands start at the front.
  return free.slice(-count);
}

async function seatSession(nats) {
  const first = new Session(wsUrl);
  await first.opened;
  const welcome = await first.waitFor('WELCOME', (f) => f.type === 'WELCOME');
  await first.waitFor('VENUE_STATE', (f) => f.type === 'VENUE_STATE');

  const mark = first.frames.length;
  first.send({ type: 'CONNECT', data: { venue: 'arena' } });
  const arena = await first.waitFor('arena VENUE_STATE', (f) => f.type === 'VENUE_STATE' && f.data.venue === 'arena', mark);
  const [kept, given] = freeSeats(arena, 2);
  const commands = [
    ['SELECT_SEAT', kept, 'hold'], ['BOOK_SEAT', kept, 2], ['SELECT_SEAT', given, 'again'],
    ['RELEASE_SEAT', given, 4], ['RELEASE_SEAT', kept, 'booked'],
  ];
  for (const [type, seat, reqId] of commands) {
    first.send({ type, data: { seat_id: seat, req_id: reqId } });
    const answer = await first.answer(reqId);
    const expected = reqId === 'booked' ? 'ERROR' : 'OK';
    if (answer.type !== expected) fail(`${type} ${seat}: ${expected} expected, got ${JSON.stringify(answer)}`);
  }
  // Several seats at once: held together, refused whole (naming the booked seat in the way),
  // released together.
  const [g1, g2] = freeSeats(arena, 4).slice(0, 2);
  const groups = [
    ['SELECT_SEATS', [g1, g2], 'group', 'OK'], ['SELECT_SEATS', [g2, kept], 'group-refused', 'ERROR'],
    ['RELEASE_SEATS', [g1, g2], 'group-release', 'OK'],
  ];
  for (const [type, seatIds, reqId, expected] of groups) {
    first.send({ type, data: { seat_ids: seatIds, req_id: reqId } });
    const answer = await first.answer(reqId);
    if (answer.type !== expected) fail(`${type} ${seatIds}: ${expected} expected, got ${JSON.stringify(answer)}`);
  }
  const refused = await first.answer('group-refused');
  if (JSON.stringify(refused.data.seat_ids) !== JSON.stringify([kept])) fail(`the refused group should name ${kept}: ${JSON.stringify(refused)}`);
  // Best available: chosen and held in one step (OK, action best), then given back at once so
  // the browser tests find the front seats free.
  first.send({ type: 'HOLD_BEST', data: { count: 2, category: 'upper', req_id: 'best' } });
  const best = await first.answer('best');
  if (best.type !== 'OK' || best.data.action !== 'best' || best.data.seat_ids.length !== 2) fail(`HOLD_BEST: ${JSON.stringify(best)}`);
  first.send({ type: 'RELEASE_SEATS', data: { seat_ids: best.data.seat_ids, req_id: 'best-release' } });
  if ((await first.answer('best-release')).type !== 'OK') fail('releasing the best-available seats was refused');
  first.send({ type: 'HOLD_BEST', data: { count: 2, category: 'gold', req_id: 'best-refused' } });
  if ((await first.answer('best-refused')).type !== 'ERROR') fail('HOLD_BEST of an unknown category was not refused');
  first.send({ type: 'DANCE', data: { req_id: 'dance' } }, false);
  await first.answer('dance');
  first.send({ type: 'PING' });
  await first.waitFor('PONG', (f) => f.type === 'PONG');
  await first.waitFor('the release of the second seat', (f) => f.type === 'SEAT_UPDATE' && f.data.seat_id === given && f.data.status === 0);

  // The same identity on a second socket, asking for the compact state of the arena.
  const second = new Session(wsUrl);
  await second.opened;
  second.send({ type: 'CONNECT', data: { token: welcome.data.token, venue: 'arena', state: 'compact' } });
  const state = await second.waitFor('VENUE_STATE after CONNECT', (f) => f.type === 'VENUE_STATE' && f.data.venue === 'arena');
  if (state.data.state !== 'compact') fail(`CONNECT asked for the compact state; got ${JSON.stringify(state.data).slice(0, 200)}`);
  const mine = await second.waitFor('MINE after the compact VENUE_STATE', (f) => f.type === 'MINE');
  if (!mine.data.booked.includes(kept)) fail(`MINE does not list ${kept}, booked by this identity: ${JSON.stringify(mine)}`);
  const compact = 'compact VENUE_STATE and MINE checked';

  // Every event of the session has reached NATS by now: the second seat's release was seen on
  // a socket, which the edge writes only after receiving it from NATS.
  const sessionEvents = nats.events.filter((e) => e.subject.startsWith('seats.arena.'));
  const kinds = new Set(sessionEvents.map((e) => e.subject.split('.')[2]));
  for (const kind of ['held', 'booked', 'released']) {
    if (!kinds.has(kind)) fail(`no seats.arena.${kind} event on NATS during the session`);
  }
  first.close();
  second.close();
  return { frames: [...first.frames, ...second.frames], compact };
}

async function waitingRoomSession() {
  // Two identities: with MAX_SHOPPERS=1 and a free slot the first is admitted and the second
  // queued; either way each gets its standing.
  const sessions = [new Session(wsUrl), new Session(wsUrl)];
  for (const session of sessions) {
    await session.opened;
    await session.waitFor('QUEUE or ADMITTED', (f) => f.type === 'QUEUE' || f.type === 'ADMITTED');
  }
  for (const session of sessions) session.close();
  return { frames: sessions.flatMap((s) => s.frames), compact: 'not asked' };
}

// ------------------------------------------------------------------ run and judge
const nats = subscribeNats(natsAddress);
await nats.subscribed;
let result;
try {
  result = mode === '--waiting-room' ? await waitingRoomSession() : await seatSession(nats);
} catch (error) {
  fail(error.message);
  result = { frames: [], compact: '' };
}
nats.close();

for (const frame of result.frames) check(serverFrames, 'frame', frame.type, frame);
for (const { subject, payload } of nats.events) {
  const event = JSON.parse(payload);
  const [, venue, kind] = subject.split('.');
  if (venue !== event.venue || kind !== event.type) fail(`event on ${subject} says venue ${event.venue}, type ${event.type}`);
  check(seatEvents, `event on ${subject}`, event.type, event);
}
const seen = [...new Set(result.frames.map((f) => f.type))];
const needed = mode === '--waiting-room' ? [] : ['WELCOME', 'VENUE_STATE', 'SEAT_UPDATE', 'OK', 'ERROR'];
for (const type of needed) if (!seen.includes(type)) fail(`no ${type} frame was captured`);

console.log(`asyncapi-live: ${result.frames.length} frames (${seen.join(', ')}), ${nats.events.length} NATS events; compact: ${result.compact}`);
for (const problem of problems) console.error(`asyncapi-live: FAILED: ${problem}`);
if (problems.length) process.exit(1);
console.log(`asyncapi-live: every frame and event matches ${docPath}`);
