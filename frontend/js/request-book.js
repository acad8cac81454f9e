// The seat commands still waiting for an answer: each req_id to its command, the seats with a
// command in flight (one at a time per seat; a command on several seats, or best available
// with none named yet, counts for each of its seats), and giving up on them. Pure apart from the
// timers it is given (unit-tested in tests/page/request-book.test.mjs).

export class RequestBook {
  /**
   * `timeoutMs`: a command with no answer by then is given up (its seat stops showing as
   * waiting). `timers`: { setTimeout, clearTimeout }, the global ones by default.
   */
  constructor({ timeoutMs, timers = globalThis }) {
    this.timeoutMs = timeoutMs;
    this.timers = timers;
    this.counter = 0;          // never reset: an id is never reused, so a late answer matches nothing
    this.pending = new Map();  // req_id -> { action, seatId, seatIds, mark, timer }
    this.busySeats = new Set();
  }

  isBusy(seatId) {
    return this.busySeats.has(seatId);
  }

  /**
   * A new command: returns its req_id, or null when one of its seats already has one in flight.
   * `seatId` names its seat, or `seatIds` its seats (a group; none for best available);
   * `mark` is kept with it (see state.js `events`); `onTimeout(request)` runs if no answer comes.
   */
  open({ action, seatId = null, seatIds = null, mark, ...extra }, onTimeout = () => {}) {
    const seats = seatIds ? [...seatIds] : [seatId];
    if (seats.some((id) => this.isBusy(id))) return null;
    const reqId = `r-${++this.counter}`;
    const timer = this.timers.setTimeout(() => {
      const request = this.take(reqId);
      if (request) onTimeout(request);
    }, this.timeoutMs);
    this.pending.set(reqId, { ...extra, reqId, action, seatId, seatIds: seatIds ? seats : null, mark, timer, seats });
    for (const id of seats) this.busySeats.add(id);
    return reqId;
  }

  /** The command an OK or ERROR answers (by its req_id), no longer in flight; else undefined. */
  take(reqId) {
    const key = reqId == null ? null : String(reqId);
    const request = key == null ? undefined : this.pending.get(key);
    if (!request) return undefined;
    this.timers.clearTimeout(request.timer);
    this.pending.delete(key);
    for (const id of request.seats) this.busySeats.delete(id);
    return request;
  }

  /** Whether a best-available request is waiting for its answer (one at a time). */
  bestPending() {
    for (const request of this.pending.values()) if (request.action === 'best') return true;
    return false;
  }

  /** Gives up on every command in flight (their socket is gone); returns their seats. */
  dropAll() {
    const seats = Array.from(this.busySeats);
    for (const reqId of Array.from(this.pending.keys())) this.take(reqId);
    return seats;
  }
}
