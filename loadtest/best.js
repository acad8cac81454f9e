// Best available under a rush, through NGINX: CLIENTS identities (POST /api/session each) ask at
// once (POST /api/seats/best) for 2 to 4 seats side by side on the venue (the arena by default).
// One virtual user sends them all together (http.batch), so the script holds every answer and
// can judge them as a whole. The run fails on any of these:
//   - an answer other than 200 with seats, or 409 NO_SEATS_TOGETHER (no block left);
//   - an OK whose seats are not the count asked, or not side by side in one row;
//   - a seat in two OKs;
//   - an OK's seat that the final state does not show held by the one it was answered to.
// Reported: requests/s over the burst, its latencies (http_req_duration{name:best}), how many got
// seats, how many seats.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 [-e CLIENTS=1000 -e VENUE=arena] loadtest/best.js
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1';
const VENUE = __ENV.VENUE || 'arena';
const CLIENTS = Number(__ENV.CLIENTS || 1000);

export const options = {
  scenarios: { best: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '5m' } },
  // Every request of the burst in flight at once.
  batch: CLIENTS,
  batchPerHost: CLIENTS,
  setupTimeout: '2m',
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
  thresholds: {
    checks: ['rate==1.0'],
    wrong_answers: ['count==0'],
    seats_in_two_oks: ['count==0'],
    seats_lost: ['count==0'],
    // Always true: here so the summary shows the burst's own latencies apart from the setup's.
    'http_req_duration{name:best}': ['max>=0'],
  },
};

const wrong = new Counter('wrong_answers');
const doubled = new Counter('seats_in_two_oks');
const lost = new Counter('seats_lost');
const gotSeats = new Counter('best_ok');
const noBlock = new Counter('best_no_seats_together');
const seatsHeld = new Counter('best_seats_held');
const burstRate = new Trend('best_burst_requests_per_s');

const json = { headers: { 'Content-Type': 'application/json' } };

export function setup() {
  const sessions = http.batch(Array.from({ length: CLIENTS }, () => ['POST', `${BASE}/api/session`, null, { tags: { name: 'session' } }]));
  return sessions.map((r, i) => {
    if (r.status !== 200) throw new Error(`POST /api/session ${i}: HTTP ${r.status}`);
    return { token: r.json('token'), user: r.json('user_id'), count: 2 + (i % 3) };
  });
}

/** The row a seat id names: all of it but the seat's own number ("104-K-9" -> "104-K-", "A10" -> "A"). */
const rowOf = (id) => id.replace(/\d+$/, '');

export default function (people) {
  const started = Date.now();
  const answers = http.batch(people.map((p) => ['POST', `${BASE}/api/seats/best`,
    JSON.stringify({ count: p.count, venue: VENUE, token: p.token }), { ...json, tags: { name: 'best' } }]));
  const seconds = (Date.now() - started) / 1000;
  burstRate.add(people.length / seconds);

  const holder = new Map(); // seat -> user it was answered OK to
  let twice = 0;
  answers.forEach((r, i) => {
    const p = people[i];
    if (r.status === 409 && r.json('error.code') === 'NO_SEATS_TOGETHER') { noBlock.add(1); return; }
    const ids = r.status === 200 ? r.json('seat_ids') || [] : [];
    const right = r.status === 200 && ids.length === p.count && ids.every((id) => rowOf(id) === rowOf(ids[0]));
    check(r, { 'best answers its count of seats in one row, or NO_SEATS_TOGETHER': () => right });
    if (!right) { wrong.add(1); console.error(`best ${p.count}: HTTP ${r.status} ${r.body}`); return; }
    gotSeats.add(1);
    seatsHeld.add(ids.length);
    for (const id of ids) {
      if (holder.has(id)) { twice += 1; doubled.add(1); }
      holder.set(id, p.user);
    }
  });
  check(twice, { 'no seat in two OKs': (n) => n === 0 });

  const snapshot = http.get(`${BASE}/api/venues/${VENUE}`, { tags: { name: 'final state' } });
  check(snapshot, { 'the final state answers': (r) => r.status === 200 });
  const seats = new Map((snapshot.json('seats') || []).map((s) => [s.id, s]));
  let kept = 0;
  for (const [id, user] of holder) {
    const seat = seats.get(id);
    if (seat && seat.status === 1 && seat.held_by === user) kept += 1; else lost.add(1);
  }
  check(kept, { 'every OK\'s seats are held by its holder in the final state': (k) => k === holder.size });
  console.log(`best: ${CLIENTS} asked at once in ${seconds.toFixed(2)} s (${(CLIENTS / seconds).toFixed(0)} requests/s); `
    + `${answers.filter((r) => r.status === 200).length} got seats (${holder.size} seats), `
    + `${answers.filter((r) => r.status === 409).length} NO_SEATS_TOGETHER; ${kept} seats held by their holders in the final state`);
}
