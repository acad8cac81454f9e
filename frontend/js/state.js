/*
 * The client's state: one object per concern. Other modules read and change these objects;
 * nothing here touches the DOM or the network.
 */
import { TOKEN_KEY, TOKEN_RE, USER_KEY } from './config.js';

/** localStorage can throw (disabled storage, private modes); the page must work without it. */
export const storage = {
  get(key) {
    try { return localStorage.getItem(key); } catch { return null; }
  },
  set(key, value) {
    try {
      if (value == null) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch { /* not persisted: the next visit just gets a new identity */ }
  },
};

export function validToken(token) {
  return typeof token === 'string' && TOKEN_RE.test(token) ? token : null;
}

/** What the page shows: the last VENUE_STATE plus every SEAT_UPDATE after it, in seq order. */
export const venue = {
  name: new URLSearchParams(location.search).get('venue') || 'main',
  rows: 0,
  cols: 0,
  seq: -1,          // the last seq applied; -1 before the first VENUE_STATE
  epoch: null,      // from VENUE_STATE; sent back with after_seq when reconnecting
  gaps: 0,          // SEAT_UPDATEs that skipped a seq (the edge promises none; counted, not fatal)
  seats: new Map(), // id -> { id, row, col, status, held_by, expires_at }
  order: [],        // seat ids in row-major order, for stable lists
};

/** Who we are. The token is the identity; it is given up only when the server calls it UNAUTHORIZED. */
export const me = {
  token: validToken(storage.get(TOKEN_KEY)),
  userId: null,
  edgeId: null,
  holdSeconds: 30,
};
// Only trust a remembered user id if it belongs to the remembered token.
if (me.token) me.userId = storage.get(USER_KEY);

/**
 * The resume handshake of the current socket. The edge greets every new socket with a fresh
 * identity before it reads our CONNECT, and answers a CONNECT with our token by greeting again
 * with it. `pending` is the token our CONNECT carried until that second WELCOME confirms it;
 * `fresh` is the greeting's identity, adopted only if our token is refused as UNAUTHORIZED.
 */
export const identity = { pending: null, fresh: null };

export const conn = {
  ws: null,
  attempt: 0,          // retries in a row, drives the backoff
  retryTimer: 0,
  retryAt: 0,
  countdownTimer: 0,
  handshakeTimer: 0,
  welcomed: false,     // this socket confirmed our identity
  synced: false,       // this socket gave us a current view (VENUE_STATE, or a resume by seq)
  resumedAfterSeq: false, // our CONNECT on this socket asked to resume after a seq
  connectedAt: 0,      // when this socket became connected (0: not yet)
  everClosed: false,   // "connecting" before the first loss, "reconnecting" after
  wasConnected: false, // for the "connection lost" / "reconnected" announcements
  browserOffline: false,
  stopped: false,      // page is being hidden/unloaded
};

/** Server clock: offset = server_time_ms - Date.now(), refreshed by WELCOME/VENUE_STATE. */
export const clock = {
  offsetMs: 0,
  sync(serverMs) {
    if (Number.isFinite(serverMs)) this.offsetMs = serverMs - Date.now();
  },
  nowMs() {
    return Date.now() + this.offsetMs;
  },
  secondsLeft(expiresAt) {
    if (!Number.isFinite(expiresAt)) return null;
    return Math.max(0, Math.ceil((expiresAt * 1000 - this.nowMs()) / 1000));
  },
};

/**
 * Requests in flight. `mark` is the event counter when the command was sent: an OK's seat is
 * only applied if no SEAT_UPDATE/VENUE_STATE touched that seat since, so a late OK can never
 * overwrite a newer change.
 */
export const requests = { counter: 0, pending: new Map(), busySeats: new Set() };
export const events = { mark: 0, touched: new Map() };

/** DOM references, filled by init(). */
export const dom = {};
/** seat id -> <button>, and the [row][col] layout (`cells`) for arrow-key navigation. */
export const seatButtons = new Map();
export const grid = { cells: [] };
