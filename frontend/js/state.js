// The page's state: one object per concern (the venue, who we are, the connection, the waiting
// room, the commands in flight). Other modules read and change these objects; nothing here
// touches the DOM or the network.
import { DEFAULT_MAX_HOLDS, REQUEST_TIMEOUT_MS, TOKEN_KEY, TOKEN_RE, USER_KEY } from './config.js';
import { RequestBook } from './request-book.js';
import { SeqTracker } from './seq-tracker.js';

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
  seqs: new SeqTracker(), // the seq and epoch applied; sent back with after_seq when reconnecting
  layout: 'grid',   // 'grid' (rows x cols) or 'chart' (sections, rows, seats: see chart-model.js)
  drawn: 'buttons', // how the map is shown: 'buttons' (a grid of buttons) or 'canvas' (charts, big grids)
  chart: null,      // the chart model (chart-model.js) when drawn on the canvas
  seats: new Map(), // id -> { id, row, col, order, status, held_by, expires_at }
  order: [],        // seat ids in seat order (grids: row-major; charts: the chart's), for stable lists
  // Kept as seats change (seats.js), so an update costs the same on 100 seats or 12,000.
  tally: { available: 0, mineHeld: new Set(), mineBooked: new Set() },
};

/** Who we are. The token is the identity; it is given up only when the server calls it UNAUTHORIZED. */
export const me = {
  token: validToken(storage.get(TOKEN_KEY)),
  userId: null,
  edgeId: null,
  holdSeconds: 30,
  maxHolds: DEFAULT_MAX_HOLDS, // WELCOME's max_holds_per_user: the most seats held at once
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

/** The connection as the page shows it; the socket itself is the transport's (transport.js). */
export const conn = {
  welcomed: false,     // this socket confirmed our identity
  synced: false,       // this socket gave us a current view (VENUE_STATE, or a resume by seq)
  confirmed: false,    // both of the above: the socket is in use
  resumedAfterSeq: false, // our CONNECT on this socket asked to resume after a seq
  everClosed: false,   // "connecting" before the first loss, "reconnecting" after
  wasConnected: false, // for the "connection lost" / "reconnected" announcements
  browserOffline: false,
  retryAt: 0,          // when the next reconnect is due (0: none scheduled)
  live: true,          // the edge is current (false after STATUS live:false, until live:true)
};

/**
 * The waiting room (only when the booking service runs with MAX_SHOPPERS > 0; otherwise no
 * QUEUE or ADMITTED ever comes and `state` stays 'open'). 'waiting': in the queue at `position`;
 * 'admitted': may hold and book until `untilMs` (server clock); 'ended': the pass ran out, a new
 * QUEUE (a place at the end) is on its way.
 */
export const waitingRoom = {
  state: 'open',
  position: 0,
  size: 0,
  estimatedWaitS: 0,
  startPosition: 0,     // the position this wait began at: the progress bar runs from it to 0
  untilMs: 0,
  passMs: 0,            // how long the pass was when we learned of it (the time-left bar)
  warned: false,        // "one minute left" said
  announcedAt: 0,       // when a position was last read out (rate-limited)
  announcedPosition: 0,
  announceTimer: 0,
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
 * Commands in flight. Each keeps `mark`, the event counter when it was sent: an OK's seat is
 * only applied if no SEAT_UPDATE/VENUE_STATE touched that seat since (`events.touched`), so a
 * late OK can never overwrite a newer change.
 */
export const requests = new RequestBook({ timeoutMs: REQUEST_TIMEOUT_MS });
export const events = { mark: 0, touched: new Map() };

/**
 * Choosing several seats to hold in one go: `on` while the "choose several" mode is on (a click
 * on a seat then picks it instead of holding it; a shift-click picks in either mode), `seats`
 * the seats picked so far, in the order picked.
 */
export const picks = { on: false, seats: new Set() };

/** The seats the last best available found (ringed on the map for a while), and their timer. */
export const best = { seats: new Set(), timer: 0 };

/** DOM references, filled by init(). */
export const dom = {};
/** seat id -> <button>, and the [row][col] layout (`cells`) for arrow-key navigation. */
export const seatButtons = new Map();
export const grid = { cells: [] };
