// A wave of arrivals at the waiting room (a stack with MAX_SHOPPERS set), over WebSocket through
// NGINX: ARRIVALS people open the page one after another, GAP_MS apart, and each sends CONNECT.
// One virtual user holds every socket (k6/websockets), so the run sees the whole wave at once and
// can judge its order. The run fails on any of these:
//   1. every arrival gets QUEUE or ADMITTED; exactly MAX_SHOPPERS are admitted at once, and the
//      places of the others are 1, 2, … with no gap or repeat;
//   2. first come, first served: whoever had its answer before someone else even opened the page
//      stands ahead of them (an admitted one beats any place, a place beats a later place);
//      arrivals that overlap may come in either order, as they reach different edges;
//   3. the admitted can shop (a seat held and booked, OK), the waiting cannot (SELECT_SEAT is
//      refused NOT_ADMITTED), and a waiting place never moves back;
//   4. when the first shoppers' slots free (10 s after they booked while holding nothing), the
//      next admitted are exactly places 1 to MAX_SHOPPERS, and they can shop too;
//   5. every booking answered OK is in the final state, with its holder.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e MAX_SHOPPERS=20 [-e ARRIVALS=300 -e GAP_MS=10
//     -e VENUE=main] loadtest/wave.js
// k6 1.1.0 has the many-sockets-per-VU WebSocket API under its experimental name only.
import { WebSocket } from 'k6/experimental/websockets';
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1';
const WS_URL = __ENV.WS_URL || `${BASE.replace(/^http/, 'ws')}/ws`;
const VENUE = __ENV.VENUE || 'main';
const ARRIVALS = Number(__ENV.ARRIVALS || 300);
const GAP_MS = Number(__ENV.GAP_MS || 10);
const SHOPPERS = Number(__ENV.MAX_SHOPPERS || 0);
/** How long each phase may take before what is missing counts as a failure. */
const STANDING_WAIT_MS = 10000;
const SHOPPING_WAIT_MS = 15000;
/** The first shoppers' passes end 10 s after their booking; the next admissions follow. */
const ADMISSION_WAIT_MS = 25000;

export const options = {
  scenarios: { wave: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '3m' } },
  thresholds: {
    checks: ['rate==1.0'],
    order_violations: ['count==0'],
    wrong_answers: ['count==0'],
  },
};

const standingMs = new Trend('wave_standing_ms', true); // socket opened -> first QUEUE/ADMITTED
const commandMs = new Trend('wave_command_ms', true);
const orderViolations = new Counter('order_violations');
const wrong = new Counter('wrong_answers');
const bookedOk = new Counter('wave_bookings_ok');
const gated = new Counter('wave_refused_not_admitted');

/** One person: their socket, what they saw, and the command they wait on. */
function arrive(index) {
  const a = {
    index, openedAt: Date.now(), user: null, seats: new Map(), first: null, admittedAt: [],
    position: null, positionWentBack: false, pending: null, next: 0, booked: [], shopDone: null, leaving: false,
  };
  a.ws = new WebSocket(WS_URL);
  a.ws.addEventListener('open', () => a.ws.send(JSON.stringify({ type: 'CONNECT', data: { venue: VENUE } })));
  a.ws.addEventListener('error', (e) => {
    if (a.leaving) return; // the run is over and closing every socket
    wrong.add(1);
    console.error(`arrival ${index}: socket error ${e.error}`);
  });
  a.ws.addEventListener('message', (event) => hear(a, JSON.parse(event.data)));
  return a;
}

function hear(a, m) {
  const d = m.data || {};
  const now = Date.now();
  if (m.type === 'WELCOME') a.user = d.user_id;
  else if (m.type === 'VENUE_STATE' && d.venue === VENUE) {
    a.seats.clear();
    for (const s of d.seats || []) a.seats.set(s.id, s.status);
  } else if (m.type === 'SEAT_UPDATE' && d.venue === VENUE) a.seats.set(d.seat_id, d.status);
  else if (m.type === 'QUEUE') {
    if (!a.first) { a.first = { admitted: false, position: d.position, at: now }; standingMs.add(now - a.openedAt); }
    if (a.position !== null && a.admittedAt.length === 0 && d.position > a.position) a.positionWentBack = true;
    a.position = d.position;
  } else if (m.type === 'ADMITTED') {
    if (!a.first) { a.first = { admitted: true, position: 0, at: now }; standingMs.add(now - a.openedAt); }
    a.admittedAt.push(now);
  } else if ((m.type === 'OK' || m.type === 'ERROR') && a.pending && d.req_id === a.pending.req) {
    const { resolve, sent } = a.pending;
    a.pending = null;
    commandMs.add(now - sent);
    resolve(m);
  }
}

function command(a, type, seat, resolve) {
  a.next += 1;
  a.pending = { req: `w${a.next}`, sent: Date.now(), resolve };
  a.ws.send(JSON.stringify({ type, data: { seat_id: seat, req_id: a.pending.req } }));
}

/** Someone was quicker: the seat is held or booked by another (this socket had not heard yet). */
const TAKEN = new Set(['SEAT_UNAVAILABLE', 'SEAT_BOOKED']);

function failed(a, what) {
  a.shopDone = what;
  wrong.add(1);
  console.error(`arrival ${a.index}: ${what}`);
}

/** Holds a seat this person sees free (another if someone was quicker), then books it. */
function shop(a, tries = 10) {
  const free = [...a.seats.entries()].filter(([, s]) => s === 0).map(([id]) => id);
  if (!free.length || tries === 0) { failed(a, `no free seat found (${free.length} seen free)`); return; }
  const seat = free[Math.floor(Math.random() * free.length)];
  command(a, 'SELECT_SEAT', seat, (held) => {
    if (held.type === 'ERROR' && TAKEN.has(held.data.code)) { a.seats.set(seat, 1); shop(a, tries - 1); return; }
    if (held.type !== 'OK') { failed(a, `select ${seat}: ${held.data.code}`); return; }
    command(a, 'BOOK_SEAT', seat, (booked) => {
      if (booked.type !== 'OK') { failed(a, `book ${seat}: ${booked.data.code}`); return; }
      a.booked.push(seat);
      bookedOk.add(1);
      a.shopDone = 'booked';
    });
  });
}

/** A person still waiting tries to hold a seat anyway: the queue must not be skippable. */
function tryToSkip(a) {
  const seat = [...a.seats.keys()][0];
  command(a, 'SELECT_SEAT', seat, (m) => {
    const refused = m.type === 'ERROR' && m.data.code === 'NOT_ADMITTED';
    if (refused) gated.add(1); else wrong.add(1);
    a.shopDone = refused ? 'refused' : `${m.type} ${m.data.code || ''}`;
  });
}

/** Check 2: whoever had an answer before another opened the page stands ahead of them. */
function countOrderViolations(people) {
  const rank = (a) => (a.first.admitted ? 0 : a.first.position);
  const byAnswer = people.slice().sort((x, y) => x.first.at - y.first.at);
  const byOpen = people.slice().sort((x, y) => x.openedAt - y.openedAt);
  let best = -1; // the worst (largest) rank among those answered so far
  let i = 0;
  let violations = 0;
  let judged = 0;
  for (const b of byOpen) {
    while (i < byAnswer.length && byAnswer[i].first.at < b.openedAt) { best = Math.max(best, rank(byAnswer[i])); i += 1; }
    if (i > 0) judged += 1;
    const ok = best < 0 || (best === 0 ? true : rank(b) > best);
    if (!ok) {
      violations += 1;
      console.error(`arrival ${b.index} (opened ${b.openedAt}) stands at ${rank(b)}, not behind ${best} answered before it opened`);
    }
  }
  console.log(`wave: ${judged} of ${people.length} arrivals came after someone else's answer (their order was judged)`);
  return violations;
}

/** Calls `then` once `done()` holds, or after `ms` (then `done()` is judged by the caller). */
function waitFor(done, ms, then) {
  const until = Date.now() + ms;
  const poll = () => (done() || Date.now() > until ? then() : setTimeout(poll, 50));
  poll();
}

export default function () {
  if (SHOPPERS < 1) throw new Error('MAX_SHOPPERS must be set (the stack\'s waiting room must be on)');
  const people = [];
  for (let i = 0; i < ARRIVALS; i++) setTimeout(() => people.push(arrive(i)), i * GAP_MS);

  const answeredAll = () => people.length === ARRIVALS && people.every((a) => a.first);
  setTimeout(() => waitFor(answeredAll, STANDING_WAIT_MS, () => {
    const answered = people.filter((a) => a.first);
    const admitted = answered.filter((a) => a.first.admitted);
    const waiting = answered.filter((a) => !a.first.admitted).sort((x, y) => x.first.position - y.first.position);
    check(answered, { 'every arrival got QUEUE or ADMITTED': (l) => l.length === ARRIVALS });
    check(admitted, { 'exactly MAX_SHOPPERS admitted at once': (l) => l.length === Math.min(SHOPPERS, ARRIVALS) });
    check(waiting, { 'the places are 1, 2, … with no gap or repeat': (l) => l.every((a, k) => a.first.position === k + 1) });
    const violations = countOrderViolations(answered);
    orderViolations.add(violations);
    check(violations, { 'first come, first served (answered before another opened: ahead of it)': (v) => v === 0 });
    console.log(`wave: ${answered.length}/${ARRIVALS} answered, ${admitted.length} admitted, ${waiting.length} waiting`);

    admitted.forEach((a) => shop(a));
    waiting.forEach((a) => tryToSkip(a));
    const shopped = () => answered.every((a) => a.shopDone);
    waitFor(shopped, SHOPPING_WAIT_MS, () => {
      check(admitted, { 'every admitted one held and booked a seat': (l) => l.every((a) => a.shopDone === 'booked') });
      check(waiting, { 'every waiting one was refused NOT_ADMITTED': (l) => l.every((a) => a.shopDone === 'refused') });
      // The next MAX_SHOPPERS of the queue, admitted once the first shoppers' slots free.
      const nextOnes = waiting.slice(0, SHOPPERS);
      const secondRound = () => waiting.filter((a) => a.admittedAt.length > 0).length >= nextOnes.length;
      waitFor(secondRound, ADMISSION_WAIT_MS, () => {
        const admittedNext = waiting.filter((a) => a.admittedAt.length > 0);
        check(admittedNext, {
          'the next admitted are exactly places 1 to MAX_SHOPPERS': (l) => l.length === nextOnes.length
            && l.every((a) => a.first.position <= SHOPPERS),
        });
        check(waiting, { 'no waiting place ever moved back': (l) => l.every((a) => !a.positionWentBack) });
        admittedNext.forEach((a) => { a.shopDone = null; shop(a); });
        waitFor(() => admittedNext.every((a) => a.shopDone), SHOPPING_WAIT_MS, () => {
          check(admittedNext, { 'the next admitted held and booked a seat': (l) => l.every((a) => a.shopDone === 'booked') });
          people.forEach((a) => { a.leaving = true; a.ws.close(); });
          finalState(people);
        });
      });
    });
  }), (ARRIVALS - 1) * GAP_MS);
}

/** Check 5: every booking answered OK is in the venue, booked by the one it was answered to. */
function finalState(people) {
  const snapshot = http.get(`${BASE}/api/venues/${VENUE}`);
  check(snapshot, { 'the final state answers': (r) => r.status === 200 });
  const seats = new Map((snapshot.json('seats') || []).map((s) => [s.id, s]));
  const claims = new Map();
  for (const a of people) for (const seat of a.booked) {
    if (claims.has(seat)) wrong.add(1);
    claims.set(seat, a.user);
  }
  const kept = [...claims.entries()].filter(([id, user]) => seats.get(id)?.status === 2 && seats.get(id)?.held_by === user);
  check(kept, { 'every booking answered OK is in the final state, with its holder': (l) => l.length === claims.size });
  console.log(`wave: ${claims.size} bookings, ${kept.length} in the final state with their holders`);
}
