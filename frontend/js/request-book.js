// The seat commands still waiting for an answer: each req_id to its command, the seats with a
// command in flight (one at a time per seat), and giving up on them. Pure apart from the
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
    this.pending = new Map();  // req_id -> { action, seatId, mark, timer }
    this.busySeats = new Set();
  }

  isBusy(seatId) {
    return this.busySeats.has(seatId);
  }

  /**
   * A new command: returns its req_id, or null when the seat already has one in flight.
   * `mark` is kept with it (see state.js `events`); `onTimeout(request)` runs if no answer comes.
   */
  open({ action, seatId, mark }, onTimeout = () => {}) {
    if (this.isBusy(seatId)) return null;
    const reqId = `r-${++this.counter}`;
    const timer = this.timers.setTimeout(() => {
      const request = this.take(reqId);
      if (request) onTimeout(request);
    }, this.timeoutMs);
    this.pending.set(reqId, { reqId, action, seatId, mark, timer });
    this.busySeats.add(seatId);
    return reqId;
  }

  /** The command an OK or ERROR answers (by its req_id), no longer in flight; else undefined. */
  take(reqId) {
    const key = reqId == null ? null : String(reqId);
    const request = key == null ? undefined : this.pending.get(key);
    if (!request) return undefined;
    this.timers.clearTimeout(request.timer);
    this.pending.delete(key);
    this.busySeats.delete(request.seatId);
    return request;
  }

  /** Gives up on every command in flight (their socket is gone); returns their seats. */
  dropAll() {
    const seats = Array.from(this.busySeats);
    for (const reqId of Array.from(this.pending.keys())) this.take(reqId);
    return seats;
  }
}
