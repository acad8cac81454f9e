// The page's constants: storage keys, timings, error texts, command names.

export const TOKEN_KEY = 'seatmap.token';
export const USER_KEY = 'seatmap.user_id'; // remembered with the token, so a reload shows "yours" at once
export const CID_COOKIE = 'seatmap_cid';   // NGINX hashes it to pick this browser's edge
export const CID_MAX_AGE_S = 365 * 24 * 3600;

/** Reconnecting: see backoff.js (a random wait below 250 ms, 500 ms, 1 s, … up to 10 s). */
export const BACKOFF_BASE_MS = 250;
export const BACKOFF_CAP_MS = 10000;
export const HEALTHY_AFTER_MS = 5000;
/** Open, but our identity not confirmed or no VENUE_STATE by then: drop it and try again. */
export const HANDSHAKE_TIMEOUT_MS = 8000;
/**
 * A PING every 20 s on a socket in use; no PONG within 10 s and the socket is dropped and
 * reconnected: one cut off behind a proxy (which may keep the TCP connection and answer the
 * WebSocket's own pings) is noticed within 30 s.
 */
export const PING_EVERY_MS = 20000;
export const PONG_WITHIN_MS = 10000;
export const REQUEST_TIMEOUT_MS = 10000;  // stop showing a seat as "waiting" if no answer comes
export const ERROR_TTL_MS = 12000;
export const MAX_ERRORS = 3;
export const URGENT_SECONDS = 5;
/** Waiting room: a new position is read out at most this often (the banner shows it at once). */
export const POSITION_ANNOUNCE_MS = 30000;
/** Waiting room: "one minute left" is said this many seconds before the pass ends. */
export const PASS_WARN_SECONDS = 60;

export const STATUS = Object.freeze({ AVAILABLE: 0, HELD: 1, BOOKED: 2 });
/** The contract's token shape: 16-128 characters of [A-Za-z0-9_.-]. */
export const TOKEN_RE = /^[A-Za-z0-9_.-]{16,128}$/;

/** Friendly text per server error code; `seat` may be null, `message` is the server's. */
export const ERROR_TEXT = {
  SEAT_UNAVAILABLE: (seat) => `${seat || 'That seat'} is held by someone else right now. Please pick another seat.`,
  SEAT_BOOKED: (seat) => `${seat || 'That seat'} is already booked. Please pick another seat.`,
  NO_SEATS_TOGETHER: () => 'There are no seats side by side free for that request right now. Try fewer seats, or another category or section.',
  SINGLE_SEAT_GAP: (seat) => `Holding ${seat || 'that seat'} would leave a single seat on its own. Choose a seat next to a taken one, or let Best available choose for you.`,
  SEAT_NOT_FOR_SALE: (seat) => `${seat || 'That seat'} is not for sale.`,
  NOT_HOLDER: (seat) => `You no longer hold ${seat || 'that seat'}; the hold may have run out. Select it again if it is still free.`,
  MAX_HOLDS_EXCEEDED: () => 'You are already holding as many seats as allowed. Book or release one first.',
  RATE_LIMITED: () => 'Too many clicks at once. Please wait a moment and try again.',
  UNAVAILABLE: () => 'Booking is briefly unavailable. Please try again in a few seconds.',
  VALIDATION_ERROR: (seat, message) => `That request was not accepted${message ? `: ${message}` : '.'}`,
  UNAUTHORIZED: () => 'Your session is not recognised. Reload the page to start a new one.',
  UNKNOWN_SEAT: (seat) => `There is no seat ${seat || 'like that'} in this venue.`,
  UNKNOWN_VENUE: () => 'This venue does not exist.',
  NOT_ADMITTED: () => 'It is not your turn to choose seats yet. Keep this page open to keep your place in the queue.',
  INTERNAL: () => 'Something went wrong on our side. Please try again.',
};

export const COMMANDS = Object.freeze({
  select: 'SELECT_SEAT',
  book: 'BOOK_SEAT',
  release: 'RELEASE_SEAT',
});

/** The same on several seats at once: all or nothing. */
export const GROUP_COMMANDS = Object.freeze({
  select: 'SELECT_SEATS',
  book: 'BOOK_SEATS',
  release: 'RELEASE_SEATS',
});

/** The most seats one identity may hold until WELCOME says (its max_holds_per_user). */
export const DEFAULT_MAX_HOLDS = 4;
/** How long the seats best available found stay ringed on the map. */
export const BEST_HIGHLIGHT_MS = 8000;
