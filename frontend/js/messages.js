/*
 * What the server says: WELCOME, VENUE_STATE, SEAT_UPDATE, OK and ERROR.
 *
 * The server is the only source of truth. The page never changes a seat on its own guess:
 * it shows what VENUE_STATE / SEAT_UPDATE say, plus the seat carried by an OK when that is
 * known to be the newest information about the seat.
 */
import { actionFromName, takeRequest } from './commands.js';
import { TOKEN_KEY, USER_KEY } from './config.js';
import { dropSocket, onHandshakeProgress, sendConnect } from './connection.js';
import { classify, normaliseSeat, plural, toStatus } from './seats.js';
import {
  clock, conn, events, identity, me, requests, seatButtons, storage, validToken, venue,
} from './state.js';
import {
  announce, buildGrid, flashSeat, friendlyError, renderAll, renderIdentity, renderSeat,
  renderSideAndCounts, showError,
} from './view.js';

// ---------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------

function adoptIdentity(welcome) {
  const token = validToken(welcome.token) || me.token;
  const changed = welcome.user_id && welcome.user_id !== me.userId;
  me.token = token;
  if (welcome.user_id) me.userId = welcome.user_id;
  storage.set(TOKEN_KEY, me.token);
  storage.set(USER_KEY, me.userId);
  renderIdentity();
  if (changed) renderAll(); // "held by you" depends on who you are
}

function onWelcome(data) {
  clock.sync(Number(data.server_time_ms));
  if (Number.isFinite(Number(data.hold_seconds)) && data.hold_seconds > 0) me.holdSeconds = Number(data.hold_seconds);
  if (data.edge_id) me.edgeId = String(data.edge_id);

  // The edge greets every new socket with a fresh identity *before* it reads our CONNECT, then
  // greets again with ours. The first greeting is only kept aside: our token is given up for
  // it solely when the server answers our CONNECT with UNAUTHORIZED (see onConnectRefused).
  if (identity.pending && data.token !== identity.pending) {
    identity.fresh = data;
    renderIdentity();
    return;
  }
  identity.pending = null;
  identity.fresh = null;
  adoptIdentity(data);
  conn.welcomed = true;
  // Resuming after a seq, the edge may send only the changes we missed: the view we have
  // is then current once they arrive, with no VENUE_STATE.
  if (conn.resumedAfterSeq) conn.synced = true;
  onHandshakeProgress();
}

/**
 * An ERROR with no req_id while our CONNECT is unanswered is the answer to it. Only
 * UNAUTHORIZED means our token is no good; anything else (UNAVAILABLE, RATE_LIMITED, …) is
 * about this socket or this moment: keep the identity, drop the socket and retry with backoff.
 */
function onConnectRefused(data) {
  if (data.code !== 'UNAUTHORIZED') {
    if (data.code === 'UNKNOWN_VENUE') showError(friendlyError(data.code, null, data.message));
    dropSocket(conn.ws, `CONNECT answered ${data.code}`);
    return;
  }
  const fresh = identity.fresh;
  me.token = null;
  storage.set(TOKEN_KEY, null);
  storage.set(USER_KEY, null);
  identity.pending = null;
  identity.fresh = null;
  showError('Your previous session could not be resumed, so you are continuing as a new visitor.');
  if (fresh && validToken(fresh.token)) {
    // Continue as the identity this socket was greeted with, and confirm it (and the venue).
    adoptIdentity(fresh);
    sendConnect();
  } else {
    dropSocket(conn.ws, 'token refused'); // the next socket greets us with a new identity
  }
}

// ---------------------------------------------------------------------------------------
// The venue: snapshots and updates, in seq order
// ---------------------------------------------------------------------------------------

/** A VENUE_STATE is the whole truth as of its seq: it replaces the view, whatever we had. */
function onVenueState(data) {
  if (data.venue && data.venue !== venue.name) return;
  clock.sync(Number(data.server_time_ms));

  const seats = (Array.isArray(data.seats) ? data.seats : []).map(normaliseSeat);
  const rows = Number(data.rows) || 0;
  const cols = Number(data.cols) || 0;
  const sameShape = rows === venue.rows && cols === venue.cols
    && seats.length === venue.seats.size && seats.every((s) => seatButtons.has(s.id));

  venue.rows = rows;
  venue.cols = cols;
  venue.seq = Number.isFinite(Number(data.seq)) ? Number(data.seq) : -1;
  // A new epoch (say, the venue's data was reset) may come with a lower seq: still the truth.
  venue.epoch = data.epoch != null && Number.isFinite(Number(data.epoch)) ? Number(data.epoch) : null;
  venue.seats = new Map(seats.map((s) => [s.id, s]));
  venue.order = seats.slice().sort((a, b) => a.row - b.row || a.col - b.col).map((s) => s.id);

  // A snapshot is newer than any OK still in flight.
  events.mark++;
  for (const id of venue.seats.keys()) events.touched.set(id, events.mark);

  if (!sameShape) buildGrid();
  renderAll();

  conn.synced = true;
  onHandshakeProgress();
}

function onSeatUpdate(data) {
  if (data.venue && data.venue !== venue.name) return;
  if (venue.seq < 0) return; // nothing to apply it to before the first VENUE_STATE
  const seq = Number(data.seq);
  const hasSeq = data.seq != null && Number.isFinite(seq);
  if (hasSeq && seq <= venue.seq) return; // already included in what we show
  if (hasSeq && seq > venue.seq + 1) {
    // The edge promises no gaps. Each update carries the seat's full state, so applying it is
    // still right for that seat; note it so it can be seen.
    venue.gaps++;
    console.warn(`seatmap: seq jumped from ${venue.seq} to ${seq}`);
  }
  if (hasSeq) venue.seq = seq;

  const seat = venue.seats.get(data.seat_id);
  if (!seat) return;
  const before = classify(seat);
  seat.status = toStatus(data.status);
  seat.held_by = data.held_by || null;
  seat.expires_at = data.expires_at == null ? null : Number(data.expires_at);
  events.touched.set(seat.id, ++events.mark);

  renderSeat(seat.id);
  renderSideAndCounts();
  if (!requests.busySeats.has(seat.id)) flashSeat(seat.id);
  reportOwnChange(seat.id, before, classify(seat), data.reason);
}

/** Tell the user when their own seat changed without them asking (expiry, reset, other tab). */
function reportOwnChange(id, before, after, reason) {
  if (before !== 'held-by-you' || before === after || requests.busySeats.has(id)) return;
  if (after === 'booked-by-you') announce(`${id} booked.`);
  else if (reason === 'expired') announce(`Your hold on ${id} expired.`);
  else if (reason === 'reset') announce(`${id} was reset by the organiser.`);
  else announce(`You no longer hold ${id}.`);
}

// ---------------------------------------------------------------------------------------
// Answers to our commands
// ---------------------------------------------------------------------------------------

function onOk(data) {
  const request = takeRequest(data.req_id);
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

function onError(data) {
  if (data.req_id == null && identity.pending) {
    onConnectRefused(data);
    return;
  }
  const request = takeRequest(data.req_id);
  const seatId = data.seat_id || (request && request.seatId) || null;
  if (seatId) {
    renderSeat(seatId);
    renderSideAndCounts();
  }
  showError(friendlyError(data.code, seatId, data.message));
}

const HANDLERS = {
  WELCOME: onWelcome,
  VENUE_STATE: onVenueState,
  SEAT_UPDATE: onSeatUpdate,
  OK: onOk,
  ERROR: onError,
};

export function onFrame(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    console.warn('seatmap: ignoring a frame that is not JSON');
    return;
  }
  if (!message || typeof message.type !== 'string') return;
  const handler = HANDLERS[message.type.toUpperCase()];
  if (handler) handler(message.data || {});
}
