// The booking API's hot path through NGINX: each virtual user owns one seat and holds and
// releases it over and over with its own identity (POST /api/session in setup). Every answer
// must be 200; a failed check fails the run. On two shared cores k6 itself is the limit: read
// its requests/s beside seatbench's, run by scripts/loadtest.sh on the same stack.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 [-e VUS=64 -e SECONDS=10 -e VENUE=main] loadtest/api.js
import http from 'k6/http';
import { check } from 'k6';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1';
const VENUE = __ENV.VENUE || 'main';
const VUS = Number(__ENV.VUS || 64);
const SECONDS = Number(__ENV.SECONDS || 10);

export const options = {
  scenarios: {
    api: { executor: 'constant-vus', vus: VUS, duration: `${SECONDS}s` },
  },
  thresholds: { checks: ['rate==1.0'] },
};

export function setup() {
  const snapshot = http.get(`${BASE}/api/venues/${VENUE}`);
  const ids = (snapshot.json('seats') || []).map((s) => s.id);
  if (ids.length < VUS) throw new Error(`${VUS} users need as many seats; ${VENUE} has ${ids.length}`);
  const users = [];
  for (let i = 0; i < VUS; i++) {
    const session = http.post(`${BASE}/api/session`);
    if (session.status !== 200) throw new Error(`POST /api/session answered ${session.status}`);
    users.push({ token: session.json('token'), seat: ids[i] });
  }
  return { users };
}

const params = { headers: { 'Content-Type': 'application/json' }, tags: {} };

export default function (data) {
  const { token, seat } = data.users[(__VU - 1) % data.users.length];
  const body = JSON.stringify({ seat_id: seat, token, venue: VENUE });
  const select = http.post(`${BASE}/api/seats/select`, body, { ...params, tags: { verb: 'select' } });
  check(select, { 'select answers 200': (r) => r.status === 200 });
  const release = http.post(`${BASE}/api/seats/release`, body, { ...params, tags: { verb: 'release' } });
  check(release, { 'release answers 200': (r) => r.status === 200 });
}
