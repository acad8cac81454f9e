// Seats: normalising what the server sends, what a seat means to this user, its accessible
// name (a contract: "D5, available", "D5, held, 12 seconds left", "D5, held by you, …", "D5, booked";
// on a chart "112-F-14, section 112, row F, seat 14, Lower tier, 65.00 EUR, available"), and the
// running tally (available count, your held and booked seats, each section's free seats) kept
// as seats change.
import { seatPlaceText } from './chart-model.js';
import { STATUS } from './config.js';
import { clock, me, venue, waitingRoom } from './state.js';

export function toStatus(value) {
  if (typeof value === 'number') return value;
  const named = { available: 0, held: 1, booked: 2 }[String(value).toLowerCase()];
  return named ?? Number(value);
}

export function normaliseSeat(raw) {
  return {
    id: String(raw.id),
    row: Number(raw.row),
    col: Number(raw.col),
    status: toStatus(raw.status),
    held_by: raw.held_by || null,
    expires_at: raw.expires_at == null ? null : Number(raw.expires_at),
  };
}

/** The data-status value: what this seat means to *this* user. */
export function classify(seat) {
  const mine = me.userId != null && seat.held_by === me.userId;
  if (seat.status === STATUS.HELD) return mine ? 'held-by-you' : 'held';
  if (seat.status === STATUS.BOOKED) return mine ? 'booked-by-you' : 'booked';
  return 'available';
}

/**
 * Whether the waiting room keeps this user from choosing this seat: while waiting, or after the
 * pass ran out. Your own seats stay usable (a hold of yours can still be booked or released).
 */
export function seatLocked(kind) {
  if (waitingRoom.state !== 'waiting' && waitingRoom.state !== 'ended') return false;
  return kind !== 'held-by-you' && kind !== 'booked-by-you';
}

/** The seat's state in words: "available", "held by you, 12 seconds left", … */
function stateWords(seat, kind) {
  const withCountdown = (base) => {
    const left = clock.secondsLeft(seat.expires_at);
    return left == null ? base : `${base}, ${left} seconds left`;
  };
  switch (kind) {
    case 'held': return withCountdown('held');
    case 'held-by-you': return withCountdown('held by you');
    case 'booked': return 'booked';
    case 'booked-by-you': return 'booked by you';
    default: return 'available';
  }
}

/** The accessible name; its wording is a contract (tests and screen readers rely on it). */
export function seatLabel(seat, kind) {
  const place = venue.layout === 'chart' && venue.chart && venue.chart.byId.get(seat.id);
  if (place) return `${seat.id}, ${seatPlaceText(venue.chart, place)}, ${stateWords(seat, kind)}`;
  return `${seat.id}, ${stateWords(seat, kind)}`;
}

/** Your held or booked seats, in seat order (from the tally: no walk over the venue). */
export function seatsOfKind(kind) {
  const set = kind === 'held-by-you' ? venue.tally.mineHeld : venue.tally.mineBooked;
  const orderOf = (id) => venue.seats.get(id)?.order ?? 0;
  return Array.from(set).sort((a, b) => orderOf(a) - orderOf(b));
}

/** Adds (sign 1) or takes away (sign -1) one seat's part of the tally. */
function tallySeat(seat, sign) {
  const t = venue.tally;
  const kind = classify(seat);
  const put = (set) => (sign > 0 ? set.add(seat.id) : set.delete(seat.id));
  if (kind === 'available') {
    t.available += sign;
    const place = venue.chart && venue.chart.byId.get(seat.id);
    if (place) venue.chart.sections[place.section].free += sign;
  }
  if (kind === 'held-by-you') put(t.mineHeld);
  if (kind === 'booked-by-you') put(t.mineBooked);
}

/** Changes a seat's state (status, held_by, expires_at) and keeps the tally right. */
export function changeSeat(seat, fields) {
  tallySeat(seat, -1);
  Object.assign(seat, fields);
  tallySeat(seat, 1);
}

/** The tally from scratch: after a VENUE_STATE, or when who "you" are changed. */
export function retally() {
  venue.tally = { available: 0, mineHeld: new Set(), mineBooked: new Set() };
  if (venue.chart) for (const section of venue.chart.sections) section.free = 0;
  for (const seat of venue.seats.values()) tallySeat(seat, 1);
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
