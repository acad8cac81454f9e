// Seats: normalising what the server sends, what a seat means to this user, and its accessible
// name (a contract: "D5, available", "D5, held, 12 seconds left", "D5, held by you, …", "D5, booked").
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

/** The accessible name; its wording is a contract (tests and screen readers rely on it). */
export function seatLabel(seat, kind) {
  const withCountdown = (base) => {
    const left = clock.secondsLeft(seat.expires_at);
    return left == null ? base : `${base}, ${left} seconds left`;
  };
  switch (kind) {
    case 'held': return withCountdown(`${seat.id}, held`);
    case 'held-by-you': return withCountdown(`${seat.id}, held by you`);
    case 'booked': return `${seat.id}, booked`;
    case 'booked-by-you': return `${seat.id}, booked by you`;
    default: return `${seat.id}, available`;
  }
}

export function seatsOfKind(kind) {
  return venue.order.filter((id) => classify(venue.seats.get(id)) === kind);
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
