// The WebSocket, and nothing of what travels on it: opening one, passing its text frames up,
// noticing when it ends, giving up on one that is not confirmed in time or stops answering its
// pings, and reconnecting with backoff. The page gives it callbacks (open, text, close, status)
// and the ping's text; it imports nothing.
// Unit-tested with a fake socket and fake timers in tests/page/transport.test.mjs.

const OPEN = 1; // WebSocket.OPEN

const BROWSER = {
  onStatus: () => {},
  openSocket: (address) => new globalThis.WebSocket(address), // looked up each time: tests may swap it
  timers: globalThis,
  now: () => Date.now(),
  log: console,
};

export class Transport {
  #socket = null;
  #stopped = false;
  #retryAt = 0;
  #retryTimer = 0;
  #tickTimer = 0;
  #confirmTimer = 0;
  #pingTimer = 0;
  #pongTimer = 0;

  /**
   * Options:
   *   url()            the address of each new socket (called just before opening it)
   *   backoff          a Backoff (backoff.js): the wait before each retry
   *   confirmWithinMs  a socket not confirmed (see `confirmed`) by then is dropped and retried
   *   pingEveryMs, pongWithinMs, pingText  a confirmed socket is sent `pingText` every
   *                    `pingEveryMs`; one that gets no `ponged()` within `pongWithinMs` of a ping
   *                    is dropped and retried (no pings when `pingEveryMs` is 0 or absent)
   *   onOpen()         the current socket opened
   *   onText(text)     a text frame arrived on the current socket
   *   onClose({ code, stopped })  the current socket is gone (before any retry is scheduled)
   *   onStatus({ retryAt })       a retry was scheduled or cleared (and every 250 ms while waiting)
   *   openSocket(url), timers, now, log: the browser's by default; tests pass fakes
   * The methods are bound, so they can be handed around as callbacks.
   */
  constructor(options) {
    this.options = { ...BROWSER, ...options };
    for (const name of ['connect', 'send', 'confirmed', 'ponged', 'drop', 'reconnectNow', 'stop', 'restart']) {
      this[name] = this[name].bind(this);
    }
  }

  /** When the next retry is due (0: none scheduled). */
  get retryAt() {
    return this.#retryAt;
  }

  get isOpen() {
    return this.#socket != null && this.#socket.readyState === OPEN;
  }

  /** Opens a socket now, unless one is open or the transport is stopped. */
  connect() {
    this.#clearRetry();
    if (this.#stopped || this.#socket) return;
    const { url, openSocket, timers, confirmWithinMs, log } = this.options;
    let ws;
    try {
      ws = openSocket(url());
    } catch (err) {
      log.warn('seatmap: cannot open WebSocket', err);
      this.#scheduleRetry();
      return;
    }
    this.#socket = ws;
    this.#confirmTimer = timers.setTimeout(() => this.#dropSocket(ws, 'handshake timeout'), confirmWithinMs);
    // Each handler checks it still belongs to the current socket: a late event from an
    // abandoned socket must not disturb the new one.
    ws.addEventListener('open', () => { if (this.#socket === ws) this.options.onOpen(); });
    ws.addEventListener('message', (event) => {
      if (this.#socket === ws && typeof event.data === 'string') this.options.onText(event.data);
    });
    ws.addEventListener('close', (event) => { if (this.#socket === ws) this.#closed(event.code); });
    this.#status();
  }

  /** Sends text on the current socket if it is open; returns whether it did. */
  send(text) {
    if (!this.isOpen) return false;
    this.#socket.send(text);
    return true;
  }

  /** The socket is in use (the page's handshake finished): it is kept, its time up counts, and
   * it is pinged from now on. */
  confirmed() {
    this.options.timers.clearTimeout(this.#confirmTimer);
    this.options.backoff.connected();
    this.#startPinging(this.#socket);
  }

  /** The answer to our last ping came: the socket still reaches the server. */
  ponged() {
    this.options.timers.clearTimeout(this.#pongTimer);
    this.#pongTimer = 0;
  }

  /** Gives up on the current socket (it refused us, say) and retries with backoff. */
  drop(why) {
    this.#dropSocket(this.#socket, why);
  }

  /** No socket: skip the rest of the wait (the user asked, the network came back). */
  reconnectNow() {
    if (this.#socket) return;
    this.options.backoff.reset();
    this.connect();
  }

  /** The page is going away: close cleanly and retry nothing. */
  stop(why = 'page hidden') {
    this.#stopped = true;
    this.#clearRetry();
    const ws = this.#socket;
    if (!ws) return;
    try { ws.close(1000, why); } catch { /* already closing */ }
    this.#closed(1000);
  }

  /** The page is back (from the back/forward cache): connect again at once. */
  restart() {
    this.#stopped = false;
    this.#socket = null;
    this.options.backoff.reset();
    this.connect();
  }

  #status() {
    this.options.onStatus({ retryAt: this.#retryAt });
  }

  #clearRetry() {
    const { timers } = this.options;
    timers.clearTimeout(this.#retryTimer);
    timers.clearInterval(this.#tickTimer);
    this.#retryTimer = 0;
    this.#tickTimer = 0;
    this.#retryAt = 0;
  }

  #scheduleRetry() {
    const { backoff, timers, now } = this.options;
    this.#clearRetry();
    const delay = backoff.nextDelay();
    this.#retryAt = now() + delay;
    this.#retryTimer = timers.setTimeout(this.connect, delay);
    this.#tickTimer = timers.setInterval(() => this.#status(), 250); // the "reconnecting in Ns" countdown
    this.#status();
  }

  #startPinging(ws) {
    const { pingEveryMs, timers } = this.options;
    this.#stopPinging();
    if (!ws || !pingEveryMs) return;
    this.#pingTimer = timers.setInterval(() => this.#ping(ws), pingEveryMs);
  }

  #ping(ws) {
    if (this.#socket !== ws || !this.isOpen) return;
    const { pingText, pongWithinMs, timers } = this.options;
    ws.send(pingText);
    // One deadline at a time: a ping still unanswered keeps its own.
    if (!this.#pongTimer) {
      this.#pongTimer = timers.setTimeout(() => this.#dropSocket(ws, `no answer to a ping within ${pongWithinMs} ms`), pongWithinMs);
    }
  }

  #stopPinging() {
    const { timers } = this.options;
    timers.clearInterval(this.#pingTimer);
    timers.clearTimeout(this.#pongTimer);
    this.#pingTimer = 0;
    this.#pongTimer = 0;
  }

  #closed(code) {
    this.options.timers.clearTimeout(this.#confirmTimer);
    this.#stopPinging();
    this.options.backoff.closed();
    this.#socket = null;
    this.options.onClose({ code, stopped: this.#stopped });
    if (this.#stopped) return;
    if (code !== 1000 && code !== 1006) this.options.log.info(`seatmap: socket closed with ${code}`);
    this.#scheduleRetry();
  }

  #dropSocket(ws, why) {
    if (!ws || this.#socket !== ws) return;
    this.options.log.warn(`seatmap: dropping socket (${why})`);
    try { ws.close(); } catch { /* already closing */ }
    this.#closed(1006);
  }
}
