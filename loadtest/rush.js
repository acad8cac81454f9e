// A rush of viewers over WebSocket through NGINX, as people arrive at a sale: each opens the
// page's socket (WELCOME, VENUE_STATE), watches every SEAT_UPDATE (seqs must only increase),
// and races the others for seats: it holds a seat it sees free, then books it or lets it go.
// Every answer must be OK or a fair refusal; every booking answered OK must be in the final
// state with its holder (so no seat is ever booked by two). A failed check fails the run.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 [-e VUS=200 -e SECONDS=20 -e VENUE=main] loadtest/rush.js
import ws from 'k6/ws';
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1';
const WS_URL = __ENV.WS_URL || `${BASE.replace(/^http/, 'ws')}/ws`;
const VENUE = __ENV.VENUE || 'main';
const SECONDS = Number(__ENV.SECONDS || 20);
const VUS = Number(__ENV.VUS || 200);

/** Refusals a fair rush produces: someone was quicker, or the holder's limit. */
const FAIR = new Set(['SEAT_UNAVAILABLE', 'SEAT_BOOKED', 'MAX_HOLDS_EXCEEDED', 'NOT_HOLDER']);

export const options = {
  scenarios: {
    rush: { executor: 'per-vu-iterations', vus: VUS, iterations: 1, maxDuration: `${SECONDS + 60}s` },
  },
  thresholds: {
    checks: ['rate==1.0'],
    seq_violations: ['count==0'],
    unfair_answers: ['count==0'],
    bookings_lost: ['count==0'],
  },
};

const answered = new Trend('command_answer_ms', true);
const seqViolations = new Counter('seq_violations');
const unfair = new Counter('unfair_answers');
const booked = new Counter('bookings_ok');
const lost = new Counter('bookings_lost');
const refused = new Counter('refusals_fair');

export default function () {
  const seats = new Map(); // id -> status
  const mine = []; // seats this viewer booked (answered OK)
  let userId = null;
  let lastSeq = null;
  let lastEpoch = null;
  let state = false;

  const res = ws.connect(WS_URL, {}, (socket) => {
    let pending = null; // { req, verb, seat, sent }
    let holding = null;
    let next = 0;

    const send = (type, seat) => {
      next += 1;
      pending = { req: `r${next}`, type, seat, sent: Date.now() };
      socket.send(JSON.stringify({ type, data: { seat_id: seat, req_id: pending.req } }));
    };

    socket.on('open', () => socket.send(JSON.stringify({ type: 'CONNECT', data: { venue: VENUE } })));
    socket.on('message', (raw) => {
      const m = JSON.parse(raw);
      const d = m.data || {};
      if (m.type === 'WELCOME') {
        userId = d.user_id;
      } else if (m.type === 'VENUE_STATE' && d.venue === VENUE) {
        // A state may jump forward, or start over in a new epoch; never go back within one.
        if (lastSeq !== null && d.epoch === lastEpoch && d.seq < lastSeq) seqViolations.add(1);
        lastEpoch = d.epoch;
        seats.clear();
        for (const s of d.seats || []) seats.set(s.id, s.status);
        lastSeq = d.seq;
        state = true;
      } else if (m.type === 'SEAT_UPDATE' && d.venue === VENUE) {
        if (lastSeq !== null && d.seq <= lastSeq) seqViolations.add(1);
        lastSeq = d.seq;
        seats.set(d.seat_id, d.status);
      } else if ((m.type === 'OK' || m.type === 'ERROR') && pending && d.req_id === pending.req) {
        answered.add(Date.now() - pending.sent);
        const { type, seat } = pending;
        pending = null;
        if (m.type === 'OK') {
          if (type === 'SELECT_SEAT') holding = seat;
          if (type === 'BOOK_SEAT') { mine.push(seat); booked.add(1); holding = null; }
          if (type === 'RELEASE_SEAT') holding = null;
        } else if (FAIR.has(d.code)) {
          refused.add(1);
          if (type !== 'SELECT_SEAT') holding = null;
        } else {
          unfair.add(1);
          console.error(`${type} ${seat}: ${d.code} ${d.message}`);
        }
      }
    });
    // A person's pace: a move every 150–450 ms.
    socket.setInterval(() => {
      if (!state || pending) return;
      if (holding) {
        send(Math.random() < 0.7 ? 'BOOK_SEAT' : 'RELEASE_SEAT', holding);
        return;
      }
      const free = [...seats.entries()].filter(([, status]) => status === 0).map(([id]) => id);
      if (free.length) send('SELECT_SEAT', free[Math.floor(Math.random() * free.length)]);
    }, 150 + Math.floor(Math.random() * 300));
    socket.setTimeout(() => socket.close(), SECONDS * 1000);
  });
  check(res, { 'the socket upgraded (101)': (r) => r && r.status === 101 });
  check(null, { 'a VENUE_STATE came': () => state, 'a WELCOME named the viewer': () => userId !== null });

  // Bookings are final: each one answered OK must be in the venue with this viewer as holder.
  if (mine.length) {
    const snapshot = http.get(`${BASE}/api/venues/${VENUE}`);
    check(snapshot, { 'the final state answers': (r) => r.status === 200 });
    const holders = new Map((snapshot.json('seats') || []).map((s) => [s.id, [s.status, s.held_by]]));
    for (const seat of mine) {
      const [status, holder] = holders.get(seat) || [];
      const kept = status === 2 && holder === userId;
      if (!kept) lost.add(1);
      check(seat, { 'every booking answered OK is in the final state, with its holder': () => kept });
    }
  }
}
