// What the server says: VENUE_STATE and SEAT_UPDATE in seq order (seq-tracker.js), the OK and
// ERROR answers to our commands, and, with the waiting room on, QUEUE and ADMITTED
// (waiting-room.js). WELCOME and the answer to our CONNECT go to the session it is given.
//
// The server is the only source of truth. The page never changes a seat on its own guess:
// it shows what VENUE_STATE / SEAT_UPDATE say, plus the seat carried by an OK when that is
// known to be the newest information about the seat.
import { SNAPSHOT, UPDATE } from './seq-tracker.js';
import { classify, normaliseSeat, plural, toStatus } from './seats.js';
import { clock, events, me, requests, seatButtons, venue } from './state.js';
import {
  announce, buildGrid, flashSeat, friendlyError, renderAll, renderSeat, renderSideAndCounts,
  showError,
} from './view.js';
import { onAdmitted, onNotAdmitted, onQueue } from './waiting-room.js';

/** The action an OK names ("select", "book", "release"), for an OK no request of ours matches. */
function actionFromName(name) {
  const n = String(name || '').toLowerCase();
  if (n.includes('book')) return 'book';
  if (n.includes('release')) return 'release';
  if (n.includes('select') || n.includes('hold')) return 'select';
  return null;
}

// ---------------------------------------------------------------------------------------
// The venue: snapshots and updates, in seq order
// ---------------------------------------------------------------------------------------

/** A VENUE_STATE is the whole truth as of its seq: it replaces the view, whatever we had. */
function applyVenueState(data) {
  clock.sync(Number(data.server_time_ms));

  const seats = (Array.isArray(data.seats) ? data.seats : []).map(normaliseSeat);
  const rows = Number(data.rows) || 0;
  const cols = Number(data.cols) || 0;
  const sameShape = rows === venue.rows && cols === venue.cols
    && seats.length === venue.seats.size && seats.every((s) => seatButtons.has(s.id));

  const before = venue.seqs.seq;
  // A new epoch (say, the venue's data was reset) may come with a lower seq: still the truth.
  if (venue.seqs.snapshot(data.seq, data.epoch) === SNAPSHOT.REWOUND) {
    console.warn(`seatmap: VENUE_STATE went back from seq ${before} to ${venue.seqs.seq} in one epoch`);
  }
  venue.rows = rows;
  venue.cols = cols;
  venue.seats = new Map(seats.map((s) => [s.id, s]));
  venue.order = seats.slice().sort((a, b) => a.row - b.row || a.col - b.col).map((s) => s.id);

  // A snapshot is newer than any OK still in flight.
  events.mark++;
  for (const id of venue.seats.keys()) events.touched.set(id, events.mark);

  if (!sameShape) buildGrid();
  renderAll();
}

/** A SEAT_UPDATE, in seq order. */
function applySeatUpdate(data) {
  const before = venue.seqs.seq;
  const verdict = venue.seqs.update(data.seq);
  if (verdict === UPDATE.EARLY || verdict === UPDATE.REPEAT) return;
  if (verdict === UPDATE.GAP) console.warn(`seatmap: seq jumped from ${before} to ${venue.seqs.seq}`);

  const seat = venue.seats.get(data.seat_id);
  if (seat) {
    const was = classify(seat);
    seat.status = toStatus(data.status);
    seat.held_by = data.held_by || null;
    seat.expires_at = data.expires_at == null ? null : Number(data.expires_at);
    events.touched.set(seat.id, ++events.mark);

    renderSeat(seat.id);
    renderSideAndCounts();
    if (!requests.isBusy(seat.id)) flashSeat(seat.id);
    reportOwnChange(seat.id, was, classify(seat), data.reason);
  }
}

/** Tell the user when their own seat changed without them asking (expiry, reset, other tab). */
function reportOwnChange(id, before, after, reason) {
  if (before !== 'held-by-you' || before === after || requests.isBusy(id)) return;
  if (after === 'booked-by-you') announce(`${id} booked.`);
  else if (reason === 'expired') announce(`Your hold on ${id} expired.`);
  else if (reason === 'reset') announce(`${id} was reset by the organiser.`);
  else announce(`You no longer hold ${id}.`);
}

// ---------------------------------------------------------------------------------------
// Answers to our commands
// ---------------------------------------------------------------------------------------

function applyOk(data) {
  const request = requests.take(data.req_id);
  const seatId = data.seat_id || (data.seat && data.seat.id) || (request && request.seatId);
  const action = (request && request.action) || actionFromName(data.action);

  // The matching SEAT_UPDATE may arrive before or after this OK. Apply the OK's seat only
  // if nothing newer touched the seat since the command went out; otherwise it would go
  // backwards.
  if (data.seat && request && seatId && venue.seats.has(seatId)
      && (events.touched.get(seatId) || 0) <= request.mark) {
    const seat = venue.seats.get(seatId);
    Object.assign(seat, normaliseSeat({ ...seat, ...data.seat }));
    events.touched.set(seatId, ++events.mark);
  }
  if (seatId) {
    renderSeat(seatId);
    renderSideAndCounts();
  }
  announceOk(action, seatId);
}

function announceOk(action, seatId) {
  if (!seatId) return;
  const seat = venue.seats.get(seatId);
  if (action === 'select') {
    const left = seat ? clock.secondsLeft(seat.expires_at) : null;
    announce(`${seatId} held for ${plural(left ?? me.holdSeconds, 'second')}. Book it to keep it.`);
  } else if (action === 'book') {
    announce(`${seatId} booked. It is yours.`);
  } else if (action === 'release') {
    announce(`${seatId} released.`);
  }
}

/** An ERROR answering one of our commands (or about a frame of ours). */
function applyCommandError(data) {
  const request = requests.take(data.req_id);
  const seatId = data.seat_id || (request && request.seatId) || null;
  if (seatId) {
    renderSeat(seatId);
    renderSideAndCounts();
  }
  if (data.code === 'NOT_ADMITTED') onNotAdmitted();
  showError(friendlyError(data.code, seatId, data.message));
}

function parseFrame(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    console.warn('seatmap: ignoring a frame that is not JSON');
    return null;
  }
  return message && typeof message.type === 'string' ? message : null;
}

/**
 * The handler of the socket's text frames. `session` (session.js) takes WELCOME, the answer to
 * our CONNECT and a current view (`synced`).
 */
export function createMessages({ session }) {
  const forThisVenue = (data) => !data.venue || data.venue === venue.name;

  function onVenueState(data) {
    if (!forThisVenue(data)) return;
    applyVenueState(data);
    session.synced();
  }

  function onError(data) {
    if (data.req_id == null && session.awaitingConnect()) session.onConnectRefused(data);
    else applyCommandError(data);
  }

  // QUEUE and ADMITTED are about our identity. Until the edge has confirmed the token our
  // CONNECT carried, they would be about the identity the socket was greeted with: not ours.
  const ours = (handler) => (data) => {
    if (!session.awaitingConnect()) handler(data);
  };

  const handlers = {
    WELCOME: (data) => session.onWelcome(data),
    VENUE_STATE: onVenueState,
    SEAT_UPDATE: (data) => { if (forThisVenue(data)) applySeatUpdate(data); },
    OK: applyOk,
    ERROR: onError,
    QUEUE: ours(onQueue),
    ADMITTED: ours(onAdmitted),
  };

  return {
    onFrame(text) {
      const message = parseFrame(text);
      const handler = message && handlers[message.type.toUpperCase()];
      if (handler) handler(message.data || {});
    },
  };
}
