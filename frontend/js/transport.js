// The WebSocket, and nothing of what travels on it: opening one, passing its text frames up,
// noticing when it ends, giving up on one that is not confirmed in time, and reconnecting with
// backoff. The page gives it callbacks (open, text, close, status); it imports nothing.
// Unit-tested with a fake socket and fake timers in frontend/tests/transport.test.mjs.

const OPEN = 1; // WebSocket.OPEN

/**
 * Options:
 *   url()            the address of each new socket (called just before opening it)
 *   backoff          a Backoff (backoff.js): the wait before each retry
 *   confirmWithinMs  a socket not confirmed (see `confirmed`) by then is dropped and retried
 *   onOpen()         the current socket opened
 *   onText(text)     a text frame arrived on the current socket
 *   onClose({ code, stopped })  the current socket is gone (before any retry is scheduled)
 *   onStatus({ retryAt })       a retry was scheduled or cleared (and every 250 ms while waiting)
 *   openSocket(url), timers, now, log: the browser's by default; tests pass fakes
 */
export function createTransport({
  url, backoff, confirmWithinMs, onOpen, onText, onClose, onStatus = () => {},
  openSocket = (address) => new globalThis.WebSocket(address), // looked up each time: tests may swap it
  timers = globalThis, now = () => Date.now(), log = console,
}) {
  let socket = null;
  let stopped = false;
  let retryAt = 0;
  let retryTimer = 0;
  let tickTimer = 0;
  let confirmTimer = 0;

  const status = () => onStatus({ retryAt });

  function clearRetry() {
    timers.clearTimeout(retryTimer);
    timers.clearInterval(tickTimer);
    retryTimer = 0;
    tickTimer = 0;
    retryAt = 0;
  }

  function scheduleRetry() {
    clearRetry();
    const delay = backoff.nextDelay();
    retryAt = now() + delay;
    retryTimer = timers.setTimeout(connect, delay);
    tickTimer = timers.setInterval(status, 250); // the "reconnecting in Ns" countdown
    status();
  }

  /** Opens a socket now, unless one is open or the transport is stopped. */
  function connect() {
    clearRetry();
    if (stopped || socket) return;
    let ws;
    try {
      ws = openSocket(url());
    } catch (err) {
      log.warn('seatmap: cannot open WebSocket', err);
      scheduleRetry();
      return;
    }
    socket = ws;
    confirmTimer = timers.setTimeout(() => dropSocket(ws, 'handshake timeout'), confirmWithinMs);
    // Each handler checks it still belongs to the current socket: a late event from an
    // abandoned socket must not disturb the new one.
    ws.addEventListener('open', () => { if (socket === ws) onOpen(); });
    ws.addEventListener('message', (event) => {
      if (socket === ws && typeof event.data === 'string') onText(event.data);
    });
    ws.addEventListener('close', (event) => { if (socket === ws) closed(event.code); });
    status();
  }

  function closed(code) {
    timers.clearTimeout(confirmTimer);
    backoff.closed();
    socket = null;
    onClose({ code, stopped });
    if (stopped) return;
    if (code !== 1000 && code !== 1006) log.info(`seatmap: socket closed with ${code}`);
    scheduleRetry();
  }

  function dropSocket(ws, why) {
    if (!ws || socket !== ws) return;
    log.warn(`seatmap: dropping socket (${why})`);
    try { ws.close(); } catch { /* already closing */ }
    closed(1006);
  }

  return {
    connect,
    /** Sends text on the current socket if it is open; returns whether it did. */
    send(text) {
      if (!socket || socket.readyState !== OPEN) return false;
      socket.send(text);
      return true;
    },
    /** The socket is in use (the page's handshake finished): it is kept, and its time up counts. */
    confirmed() {
      timers.clearTimeout(confirmTimer);
      backoff.connected();
    },
    /** Gives up on the current socket (it refused us, say) and retries with backoff. */
    drop(why) {
      dropSocket(socket, why);
    },
    /** No socket: skip the rest of the wait (the user asked, the network came back). */
    reconnectNow() {
      if (socket) return;
      backoff.reset();
      connect();
    },
    /** The page is going away: close cleanly and retry nothing. */
    stop(why = 'page hidden') {
      stopped = true;
      clearRetry();
      const ws = socket;
      if (!ws) return;
      try { ws.close(1000, why); } catch { /* already closing */ }
      closed(1000);
    },
    /** The page is back (from the back/forward cache): connect again at once. */
    restart() {
      stopped = false;
      socket = null;
      backoff.reset();
      connect();
    },
    get retryAt() { return retryAt; },
    get isOpen() { return socket != null && socket.readyState === OPEN; },
  };
}
