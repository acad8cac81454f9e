// Clients that connect the way the page does, for tests/net/nginx-edge-cut.sh: each runs the
// page's own Transport and Backoff (frontend/js/transport.js, backoff.js) with the page's
// timings (frontend/js/config.js: a PING every 20 s on a socket in use, dropped and reconnected
// when no PONG comes within 10 s; the handshake timeout; the backoff), a random seatmap_cid
// cookie as the page sets (NGINX hashes it to pick the edge), and the page's handshake
// (frontend/js/session.js): CONNECT with the token from WELCOME and, once it shows the venue, the
// last seq it applied and its epoch; in use once its identity is confirmed and its view is
// current. Unlike the page it asks for the full VENUE_STATE, not the compact one.
//
//   node tests/net/page-clients.mjs ws://NGINX/ws CLIENTS SPREAD_MS NEW_CLIENTS
//
// Opens CLIENTS clients SPREAD_MS / CLIENTS apart (so their pings fall at different moments),
// prints "READY <n on edge a> ..." and waits for lines on stdin: "CUT <unix ms>" (NGINX was cut
// from EDGE, the edge id of the second word) opens NEW_CLIENTS new clients at once, and
// "HELD <seat> <unix ms>" names the seat held during the cut. Then it judges (bounds below),
// prints one line per client and the summary "<figures>; verdict: pass|FAIL: why", and exits
// 0 or 1.
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import WebSocket from '../browser/node_modules/ws/wrapper.mjs';
import { Backoff } from '../../frontend/js/backoff.js';
import { Transport } from '../../frontend/js/transport.js';
import {
  BACKOFF_BASE_MS, BACKOFF_CAP_MS, HANDSHAKE_TIMEOUT_MS, HEALTHY_AFTER_MS, PING_EVERY_MS, PONG_WITHIN_MS,
} from '../../frontend/js/config.js';

const [url, clientsText, spreadText, newText] = process.argv.slice(2);
const CLIENTS = Number(clientsText);
const SPREAD_MS = Number(spreadText);
const NEW_CLIENTS = Number(newText);
if (!url || !(CLIENTS > 0) || !(SPREAD_MS >= 0) || !(NEW_CLIENTS >= 0)) {
  console.error('usage: node tests/net/page-clients.mjs ws://NGINX/ws CLIENTS SPREAD_MS NEW_CLIENTS');
  process.exit(2);
}
// The promises: a client on the cut edge notices within PING_EVERY_MS + PONG_WITHIN_MS (30 s);
// moving then costs the backoff's first wait (under BACKOFF_BASE_MS) and NGINX's connect timeout
// to the cut edge when it has not marked it down yet (proxy_connect_timeout 2s). A new client
// lands on the other edge within that connect timeout. SLACK_MS: timers on a busy machine.
const SLACK_MS = 1000;
const NOTICE_BOUND_MS = PING_EVERY_MS + PONG_WITHIN_MS + SLACK_MS;
const NGINX_CONNECT_TIMEOUT_MS = 2000;
const MOVE_BOUND_MS = PING_EVERY_MS + PONG_WITHIN_MS + BACKOFF_BASE_MS + NGINX_CONNECT_TIMEOUT_MS + SLACK_MS;
const NEW_BOUND_MS = NGINX_CONNECT_TIMEOUT_MS + SLACK_MS;
const GIVE_UP_MS = MOVE_BOUND_MS + 5000;

// Set from stdin (below); read by the clients as frames come.
let cutAt = null;
let cutEdge = null;
let held = null;

const now = () => Date.now();
const seconds = (ms) => (ms == null ? 'never' : `${(ms / 1000).toFixed(1)} s`);

class PageClient {
  constructor(name) {
    this.name = name;
    this.cid = randomBytes(16).toString('hex');
    this.token = null;
    this.seats = new Map(); // id -> status
    this.seq = -1;
    this.epoch = null;
    this.edges = []; // { edge, at } each time it was confirmed on an edge
    this.drops = []; // { at, why }
    this.startedAt = now();
    this.transport = new Transport({
      url: () => url,
      openSocket: (address) => new WebSocket(address, { headers: { Cookie: `seatmap_cid=${this.cid}` } }),
      backoff: new Backoff({ baseMs: BACKOFF_BASE_MS, capMs: BACKOFF_CAP_MS, healthyAfterMs: HEALTHY_AFTER_MS }),
      confirmWithinMs: HANDSHAKE_TIMEOUT_MS,
      pingEveryMs: PING_EVERY_MS,
      pongWithinMs: PONG_WITHIN_MS,
      pingText: JSON.stringify({ type: 'PING' }),
      onOpen: () => this.opened(),
      onText: (text) => this.frame(text),
      onClose: () => {},
      log: { info: () => {}, warn: (why) => this.drops.push({ at: now(), why }) },
    });
    this.transport.connect();
  }

  get edge() {
    return this.edges.length ? this.edges[this.edges.length - 1].edge : null;
  }

  /** The page's CONNECT: our token, and where to resume once we show the venue. */
  opened() {
    this.welcomed = false;
    this.synced = false;
    this.confirmed = false;
    this.pendingEdge = null;
    const data = { venue: 'main' };
    if (this.token) data.token = this.token;
    this.resumed = this.seq >= 0 && this.epoch != null;
    if (this.resumed) Object.assign(data, { after_seq: this.seq, epoch: this.epoch });
    this.awaiting = this.token;
    this.transport.send(JSON.stringify({ type: 'CONNECT', data }));
  }

  frame(text) {
    let message;
    try { message = JSON.parse(text); } catch { return; }
    const data = message.data || {};
    switch (message.type) {
      case 'WELCOME':
        // The greeting before our CONNECT carries a fresh identity: not ours (session.js).
        if (this.awaiting && data.token !== this.awaiting) return;
        this.awaiting = null;
        this.token = data.token;
        this.pendingEdge = data.edge_id;
        this.welcomed = true;
        if (this.resumed) this.synced = true;
        break;
      case 'VENUE_STATE':
        this.seats = new Map(data.seats.map((seat) => [seat.id, seat.status]));
        this.seq = data.seq;
        this.epoch = data.epoch;
        this.synced = true;
        break;
      case 'SEAT_UPDATE':
        if (data.seq <= this.seq) return;
        this.seats.set(data.seat_id, data.status);
        this.seq = data.seq;
        break;
      case 'PONG':
        this.transport.ponged();
        return;
      default:
        return;
    }
    if (this.welcomed && this.synced && !this.confirmed) {
      this.confirmed = true;
      this.edges.push({ edge: this.pendingEdge, at: now() });
      this.transport.confirmed();
    }
    // The first moment it is in use on another edge than the cut one and shows the held seat.
    if (held && this.heldShownAt == null && this.confirmed && this.edge !== cutEdge
        && this.seats.get(held.seat) === 1) {
      this.heldShownAt = now();
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (check, ms) => {
  const end = now() + ms;
  while (!check() && now() < end) await sleep(50);
  return check();
};

const old = [];
for (let i = 0; i < CLIENTS; i++) {
  old.push(new PageClient(`c${i + 1}`));
  await sleep(SPREAD_MS / CLIENTS);
}
if (!(await until(() => old.every((c) => c.edge), 10000))) {
  console.log(`page-clients: ${old.filter((c) => !c.edge).length} clients never connected; verdict: FAIL: not connected`);
  process.exit(1);
}
const tally = (clients) => {
  const counts = {};
  for (const c of clients) counts[c.edges[0].edge] = (counts[c.edges[0].edge] || 0) + 1;
  return Object.entries(counts).map(([edge, n]) => `${n} on ${edge}`).join(', ');
};
console.log(`READY ${tally(old)}`);

const fresh = [];
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [word, a, b] = line.trim().split(/\s+/);
  if (word === 'CUT') {
    cutAt = Number(a);
    cutEdge = b;
    for (let i = 0; i < NEW_CLIENTS; i++) fresh.push(new PageClient(`n${i + 1}`));
  } else if (word === 'HELD') {
    held = { seat: a, at: Number(b) };
  }
});
await until(() => cutAt != null && held != null, 60000);
const onCut = old.filter((c) => c.edges[0].edge === cutEdge);
const elsewhere = old.filter((c) => c.edges[0].edge !== cutEdge);
const showsHeld = (c) => c.seats.get(held.seat) === 1;
const moved = (c) => c.heldShownAt != null;
await until(() => onCut.every(moved) && fresh.every((c) => c.edge), GIVE_UP_MS);
const broken = [];
const noticed = [];
const movedIn = [];
for (const c of onCut) {
  const drop = c.drops.find((d) => d.at >= cutAt);
  const arrival = c.edges.find((e) => e.at >= cutAt && e.edge !== cutEdge);
  const notice = drop ? drop.at - cutAt : null;
  const move = c.heldShownAt != null ? c.heldShownAt - cutAt : null;
  noticed.push(notice);
  movedIn.push(move);
  console.log(`[page-clients] ${c.name} on ${cutEdge}: ${drop ? `dropped its socket ${seconds(notice)} after the cut (${drop.why})` : 'never dropped its socket'}; `
    + `${arrival ? `on ${arrival.edge} ${seconds(arrival.at - cutAt)} after the cut` : 'never moved'}, ${held.seat} ${showsHeld(c) ? 'shown held' : 'not shown held'}`);
  if (notice == null || notice > NOTICE_BOUND_MS) broken.push(`${c.name} noticed ${seconds(notice)} after the cut`);
  if (move == null || move > MOVE_BOUND_MS) broken.push(`${c.name} on the other edge with the current state ${seconds(move)} after the cut`);
}
for (const c of elsewhere) {
  if (c.drops.length || c.edges.length > 1) broken.push(`${c.name}, on ${c.edges[0].edge}, lost its socket`);
}
const newTimes = fresh.map((c) => (c.edges.length ? c.edges[0].at - c.startedAt : null));
for (const [i, c] of fresh.entries()) {
  console.log(`[page-clients] ${c.name} (new): ${c.edge ? `on ${c.edges[0].edge} ${seconds(newTimes[i])} after it started` : 'never connected'}`);
  if (!c.edge || c.edges[0].edge === cutEdge) broken.push(`new client ${c.name} on ${c.edge || 'no edge'}`);
  else if (newTimes[i] > NEW_BOUND_MS) broken.push(`new client ${c.name} took ${seconds(newTimes[i])}`);
}
if (onCut.length < 2) broken.push(`only ${onCut.length} clients were on ${cutEdge}`);
const max = (list) => (list.includes(null) ? null : Math.max(...list));
const ms = (list) => list.map((t) => (t == null ? 'never' : (t / 1000).toFixed(1))).join(', ');
console.log(`${onCut.length} clients on the cut edge noticed in ${ms(noticed)} s (bound ${seconds(NOTICE_BOUND_MS)}) and were on `
  + `the other edge with ${held.seat} held in ${ms(movedIn)} s after the cut (max ${seconds(max(movedIn))}, bound ${seconds(MOVE_BOUND_MS)}); `
  + `${elsewhere.length} clients on the other edge kept their sockets${elsewhere.some((c) => c.drops.length) ? ' (not all)' : ''}; `
  + `${fresh.length} new clients on ${[...new Set(fresh.map((c) => c.edge))].join(', ')} in ${ms(newTimes)} s (bound ${seconds(NEW_BOUND_MS)}); `
  + `verdict: ${broken.length ? `FAIL: ${broken.join('; ')}` : 'pass'}`);
process.exit(broken.length ? 1 : 0);
