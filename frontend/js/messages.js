// What the server says: VENUE_STATE (full or compact, compact.js) and MINE, SEAT_UPDATE in seq
// order (seq-tracker.js), the OK and ERROR answers to our commands, and, with the waiting room
// on, QUEUE and ADMITTED (waiting-room.js). WELCOME, the answer to our CONNECT and STATUS go to
// the session it is given, PONG to `onPong` (the transport's). A venue drawn on the canvas needs
// its chart (chart-loader.js): frames wait, in order, while it loads.
//
// A SEAT_UPDATE that skips seqs (the edge promises none do) is applied, and the page asks for the
// whole state again (`session.resync`).
//
// The server is the only source of truth. The page never changes a seat on its own guess:
// it shows what VENUE_STATE / SEAT_UPDATE say, plus the seat carried by an OK when that is
// known to be the newest information about the seat.
import { bestRefused, buildBestForm, showBestResult, suggestBest } from './best.js';
import { loadChart } from './chart-loader.js';
import { gridSeatOrder } from './chart-model.js';
import { decodeCompact, decodeMine, isCompact } from './compact.js';
import { prunePicks } from './picks.js';
import { SNAPSHOT, UPDATE } from './seq-tracker.js';
import { changeSeat, classify, normaliseSeat, plural, toStatus } from './seats.js';
import { clock, events, me, requests, seatButtons, venue } from './state.js';
import {
  announce, buildMap, flashSeat, friendlyError, renderAll, renderSeat, renderSideAndCounts,
  showError,
} from './view.js';
import { onAdmitted, onNotAdmitted, onQueue } from './waiting-room.js';
import { describeBlock, groupErrorText, listSeats, seatCount } from './words.js';

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

/** Grids with more seats than this are drawn on the canvas like charts, not as buttons. */
export const MAX_BUTTON_SEATS = 2000;

/** Whether a VENUE_STATE's venue is drawn on the canvas (and so needs its chart first). */
function drawnOnCanvas(data) {
  if (data.layout === 'chart') return true;
  const seats = Number(data.rows) * Number(data.cols) || (Array.isArray(data.seats) ? data.seats.length : 0);
  return seats > MAX_BUTTON_SEATS;
}

/** The seats of a VENUE_STATE, either form, each with its `order` (its place in seat order). */
function seatsOf(data, layout, rows, cols) {
  if (!isCompact(data)) {
    const seats = (Array.isArray(data.seats) ? data.seats : []).map(normaliseSeat);
    seats.forEach((seat, i) => {
      const place = venue.chart && venue.chart.byId.get(seat.id);
      seat.order = layout === 'grid' ? seat.row * cols + seat.col : (place ? place.sale : i);
    });
    return seats;
  }
  const order = layout === 'grid' ? gridSeatOrder(rows, cols) : venue.chart.saleIds;
  const { seats, mismatch } = decodeCompact(data, order);
  if (mismatch) console.warn(`seatmap: a compact state of ${data.count} seats for ${order.length} seats in seat order`);
  seats.forEach((seat, i) => {
    seat.order = i;
    seat.row = layout === 'grid' ? Math.floor(i / cols) : NaN;
    seat.col = layout === 'grid' ? i % cols : NaN;
    // Which seats are yours comes in the MINE that follows: until then a seat you had keeps
    // being yours while its status is the same.
    const had = venue.seats.get(seat.id);
    if (had && me.userId && had.held_by === me.userId && had.status === seat.status) seat.held_by = me.userId;
  });
  return seats;
}

/** A VENUE_STATE is the whole truth as of its seq: it replaces the view, whatever we had. */
function applyVenueState(data) {
  clock.sync(Number(data.server_time_ms));
  const layout = data.layout === 'chart' ? 'chart' : 'grid';
  const drawn = drawnOnCanvas(data) ? 'canvas' : 'buttons';
  const rows = Number(data.rows) || 0;
  const cols = Number(data.cols) || 0;
  if (drawn === 'buttons') venue.chart = null;
  const seats = seatsOf(data, layout, rows, cols);
  const sameShape = drawn === venue.drawn && layout === venue.layout && rows === venue.rows && cols === venue.cols
    && seats.length === venue.seats.size && seats.every((s) => venue.seats.has(s.id))
    && (drawn === 'canvas' || seats.every((s) => seatButtons.has(s.id)));

  const before = venue.seqs.seq;
  // A new epoch (say, the venue's data was reset) may come with a lower seq: still the truth.
  if (venue.seqs.snapshot(data.seq, data.epoch) === SNAPSHOT.REWOUND) {
    console.warn(`seatmap: VENUE_STATE went back from seq ${before} to ${venue.seqs.seq} in one epoch`);
  }
  Object.assign(venue, { layout, drawn, rows, cols });
  venue.seats = new Map(seats.map((s) => [s.id, s]));
  venue.order = seats.slice().sort((a, b) => a.order - b.order).map((s) => s.id);

  // A snapshot is newer than any OK still in flight.
  events.mark++;
  for (const id of venue.seats.keys()) events.touched.set(id, events.mark);

  if (!sameShape) {
    buildMap();
    buildBestForm();
  }
  renderAll();
  prunePicks();
  performance.mark('seatmap:state');
}

/**
 * MINE: which seats are this identity's, as of its seq: right after a compact VENUE_STATE (the
 * same seq), or alone when a resumed socket changed identity (its seq may be ahead of ours: the
 * missed SEAT_UPDATEs follow, and each names its holder). One older than our view is stale.
 */
function applyMine(data) {
  if (Number(data.seq) < venue.seqs.seq) {
    console.warn(`seatmap: MINE for seq ${data.seq} after the state of seq ${venue.seqs.seq}: ignored`);
    return;
  }
  const { held, booked } = decodeMine(data);
  const wasMine = [...venue.tally.mineHeld, ...venue.tally.mineBooked];
  for (const id of wasMine) {
    const seat = venue.seats.get(id);
    if (seat && !held.has(id) && !booked.has(id)) changeSeat(seat, { held_by: null });
  }
  for (const [id, expiresAt] of held) {
    const seat = venue.seats.get(id);
    if (seat) changeSeat(seat, { held_by: me.userId, expires_at: expiresAt ?? seat.expires_at });
  }
  for (const id of booked) {
    const seat = venue.seats.get(id);
    if (seat) changeSeat(seat, { held_by: me.userId });
  }
  for (const id of new Set([...wasMine, ...held.keys(), ...booked])) renderSeat(id);
  renderSideAndCounts();
}

/** A SEAT_UPDATE, in seq order; returns what the seq tracker made of it (`UPDATE`). */
function applySeatUpdate(data) {
  const before = venue.seqs.seq;
  const verdict = venue.seqs.update(data.seq);
  if (verdict === UPDATE.EARLY || verdict === UPDATE.REPEAT) return verdict;
  if (verdict === UPDATE.GAP) console.warn(`seatmap: seq jumped from ${before} to ${venue.seqs.seq}`);

  const seat = venue.seats.get(data.seat_id);
  if (seat) {
    const was = classify(seat);
    changeSeat(seat, {
      status: toStatus(data.status),
      held_by: data.held_by || null,
      expires_at: data.expires_at == null ? null : Number(data.expires_at),
    });
    events.touched.set(seat.id, ++events.mark);

    renderSeat(seat.id);
    renderSideAndCounts();
    if (!requests.isBusy(seat.id)) flashSeat(seat.id);
    reportOwnChange(seat.id, was, classify(seat), data.reason);
    prunePicks();
  }
  return verdict;
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

/**
 * The seat an OK carries, applied only if nothing newer touched it since the command went out:
 * the matching SEAT_UPDATE may arrive before or after the OK, and the view must not go backwards.
 */
function applyAnsweredSeat(seatId, fields, request) {
  if (!fields || !request || !seatId || !venue.seats.has(seatId)) return;
  if ((events.touched.get(seatId) || 0) > request.mark) return;
  const seat = venue.seats.get(seatId);
  const { status, held_by: heldBy, expires_at: expiresAt } = normaliseSeat({ ...seat, ...fields });
  changeSeat(seat, { status, held_by: heldBy, expires_at: expiresAt });
  events.touched.set(seatId, ++events.mark);
}

function applyOk(data) {
  const request = requests.take(data.req_id);
  if (Array.isArray(data.seat_ids)) {
    applyGroupOk(data, request);
    return;
  }
  const seatId = data.seat_id || (data.seat && data.seat.id) || (request && request.seatId);
  const action = (request && request.action) || actionFromName(data.action);
  applyAnsweredSeat(seatId, data.seat, request);
  if (seatId) {
    renderSeat(seatId);
    renderSideAndCounts();
  }
  announceOk(action, seatId);
}

/** An OK naming several seats: a group command's, or best available's (action "best"). */
function applyGroupOk(data, request) {
  const ids = data.seat_ids.map(String);
  const seats = Array.isArray(data.seats) ? data.seats : [];
  ids.forEach((id, i) => applyAnsweredSeat(id, seats[i], request));
  ids.forEach(renderSeat);
  prunePicks();
  renderSideAndCounts();
  const action = data.action === 'best' || (request && request.action === 'best') ? 'best'
    : (request && request.action) || actionFromName(data.action);
  if (action === 'best') {
    showBestResult(ids);
    return;
  }
  const where = describeBlock(venue.layout === 'chart' ? venue.chart : null, ids);
  if (action === 'select') {
    const left = clock.secondsLeft(venue.seats.get(ids[0])?.expires_at);
    announce(`${seatCount(ids.length)} held together: ${where}, for ${plural(left ?? me.holdSeconds, 'second')}. Book them to keep them.`);
  } else if (action === 'book') {
    announce(`${seatCount(ids.length)} booked: ${listSeats(ids)}. They are yours.`);
  } else if (action === 'release') {
    announce(`${seatCount(ids.length)} released: ${listSeats(ids)}.`);
  }
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
  const asked = request ? (request.seatIds || [request.seatId]).filter(Boolean) : [];
  asked.forEach(renderSeat);
  if (seatId && !asked.includes(seatId)) renderSeat(seatId);
  renderSideAndCounts();
  if (data.code === 'NOT_ADMITTED') onNotAdmitted();
  if (request && request.action === 'best') bestRefused();
  const group = Array.isArray(data.seat_ids) || (request && (request.seatIds || request.action === 'best'));
  const words = group && groupErrorText(data.code, data.seat_ids, {
    action: request && request.action,
    count: request && request.count,
    seatIds: asked.length ? asked : (seatId ? [seatId] : []),
    where: request && request.where,
    maxHolds: me.maxHolds,
  });
  const message = words || friendlyError(data.code, seatId, data.message);
  // Too few seats together, or a single seat left alone: best available picks seats that fit.
  const suggest = data.code === 'SINGLE_SEAT_GAP' || (data.code === 'NO_SEATS_TOGETHER' && request && request.action !== 'best');
  const count = (request && request.count) || asked.length || 1;
  showError(message, suggest ? { action: { label: 'Use best available', run: () => suggestBest(count) } } : {});
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
 * our CONNECT, a current view (`synced`) and STATUS; `onPong()` is called at each PONG.
 */
export function createMessages({ session, onPong }) {
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
    // Seqs skipped: the seats those changed may be wrong here, so ask for the whole state.
    SEAT_UPDATE: (data) => {
      if (forThisVenue(data) && applySeatUpdate(data) === UPDATE.GAP) session.resync('seqs skipped');
    },
    MINE: (data) => { if (forThisVenue(data)) applyMine(data); },
    OK: applyOk,
    ERROR: onError,
    QUEUE: ours(onQueue),
    ADMITTED: ours(onAdmitted),
    STATUS: (data) => { if (forThisVenue(data)) session.onStatus(data); },
    PONG: () => onPong(),
  };

  // Frames that wait for the chart, in order (null: none waiting).
  let waiting = null;
  let loadFailed = false;

  function dispatch(message) {
    const type = message.type.toUpperCase();
    const data = message.data || {};
    const chartDue = !venue.chart || venue.chart.venue !== venue.name;
    if (type === 'VENUE_STATE' && forThisVenue(data) && drawnOnCanvas(data) && chartDue) {
      waiting = [message];
      fetchChart();
      return;
    }
    const handler = handlers[type];
    if (handler) handler(data);
  }

  function fetchChart() {
    loadChart(venue.name).then((model) => {
      venue.chart = model;
      performance.mark('seatmap:chart');
      loadFailed = false;
      const frames = waiting || [];
      waiting = null;
      frames.forEach((frame) => {
        if (waiting) waiting.push(frame); // a frame before it started another wait
        else dispatch(frame);
      });
    }, (err) => {
      console.warn('seatmap: the chart did not load', err);
      if (!loadFailed) showError('The seat map could not be loaded. Trying again…');
      loadFailed = true;
      setTimeout(() => { if (waiting) fetchChart(); }, 2000);
    });
  }

  return {
    onFrame(text) {
      const message = parseFrame(text);
      if (!message) return;
      if (waiting) waiting.push(message);
      else dispatch(message);
    },
    /** The socket is gone: what it sent and we did not apply yet belongs to it. */
    socketClosed() {
      if (waiting) waiting = [];
    },
  };
}
