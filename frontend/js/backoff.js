// How long to wait before the next reconnect: exponential backoff with full jitter, started
// over only after a connection that stayed up. Pure: the clock and the random source are given
// (unit-tested in tests/page/backoff.test.mjs).
//
// The n-th retry in a row waits a random time in [0, min(cap, base * 2^n)), so a fleet of
// browsers does not reconnect in lockstep and a failing server is not hammered. The count starts
// over only after a connection that stayed up for `healthyAfterMs`: a server that accepts and
// then closes at once (a 1001 "venue unavailable", a refused CONNECT) is retried ever more
// slowly, never in a tight loop.

export class Backoff {
  constructor({ baseMs, capMs, healthyAfterMs, random = Math.random, now = Date.now }) {
    Object.assign(this, { baseMs, capMs, healthyAfterMs, random, now });
    this.attempt = 0;     // retries in a row
    this.connectedAt = 0; // when the current connection was confirmed (0: not yet)
  }

  /** The upper bound of the next wait. */
  ceiling() {
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
  }

  /** The wait before the next retry; counts the retry. */
  nextDelay() {
    const delay = this.random() * this.ceiling();
    this.attempt++;
    return delay;
  }

  /** The connection is up and in use. */
  connected() {
    this.connectedAt = this.now();
  }

  /** The connection is gone: if it stayed up long enough, the next retry is quick again. */
  closed() {
    if (this.connectedAt > 0 && this.now() - this.connectedAt >= this.healthyAfterMs) this.attempt = 0;
    this.connectedAt = 0;
  }

  /** The user (or the network coming back) asks for a connection now. */
  reset() {
    this.attempt = 0;
  }
}
