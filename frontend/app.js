/*
 * Seat map client.
 *
 * Renders one venue from the edge server's WebSocket feed (/ws, same origin) and sends the
 * user's seat commands. Plain browser JavaScript: no framework, no build step, no globals
 * (everything lives inside this IIFE).
 *
 * The server is the only source of truth. The page never changes a seat on its own guess:
 * it shows what VENUE_STATE / SEAT_UPDATE say, plus the seat carried by an OK when that is
 * known to be the newest information about the seat.
 */
(() => {
  'use strict';

  // ---------------------------------------------------------------------------------------
  // Constants
  // ---------------------------------------------------------------------------------------

  const TOKEN_KEY = 'seatmap.token';
  const USER_KEY = 'seatmap.user_id'; // remembered with the token, so a reload shows "yours" at once
  const CID_COOKIE = 'seatmap_cid';   // NGINX hashes it to pick this browser's edge
  const CID_MAX_AGE_S = 365 * 24 * 3600;

  const BACKOFF_BASE_MS = 250;
  const BACKOFF_CAP_MS = 5000;
  const GOING_AWAY_JITTER_MS = 200;  // 1001: the edge is shutting down, another one is ready now
  const HANDSHAKE_TIMEOUT_MS = 8000; // open but no WELCOME + VENUE_STATE by then: try again
  const RESUME_GRACE_MS = 3000;      // how long to wait for the WELCOME that confirms our token
  const REQUEST_TIMEOUT_MS = 10000;  // stop showing a seat as "waiting" if no answer comes
  const RESYNC_MIN_INTERVAL_MS = 5000;
  const ERROR_TTL_MS = 12000;
  const MAX_ERRORS = 3;
  const URGENT_SECONDS = 5;

  const STATUS = Object.freeze({ AVAILABLE: 0, HELD: 1, BOOKED: 2 });
  const TOKEN_RE = /^[A-Za-z0-9_-]{16,128}$/;

  /** Friendly text per server error code; `seat` may be null, `message` is the server's. */
  const ERROR_TEXT = {
    SEAT_UNAVAILABLE: (seat) => `${seat || 'That seat'} is held by someone else right now. Please pick another seat.`,
    SEAT_BOOKED: (seat) => `${seat || 'That seat'} is already booked. Please pick another seat.`,
    NOT_HOLDER: (seat) => `You no longer hold ${seat || 'that seat'}; the hold may have run out. Select it again if it is still free.`,
    MAX_HOLDS_EXCEEDED: () => 'You are already holding as many seats as allowed. Book or release one first.',
    RATE_LIMITED: () => 'Too many clicks at once. Please wait a moment and try again.',
    UNAVAILABLE: () => 'Booking is briefly unavailable. Please try again in a few seconds.',
    VALIDATION_ERROR: (seat, message) => `That request was not accepted${message ? `: ${message}` : '.'}`,
    UNAUTHORIZED: () => 'Your session is not recognised. Reload the page to start a new one.',
    UNKNOWN_SEAT: (seat) => `There is no seat ${seat || 'like that'} in this venue.`,
    UNKNOWN_VENUE: () => 'This venue does not exist.',
    INTERNAL: () => 'Something went wrong on our side. Please try again.',
  };

  const COMMANDS = Object.freeze({
    select: 'SELECT_SEAT',
    book: 'BOOK_SEAT',
    release: 'RELEASE_SEAT',
  });

  /** localStorage can throw (disabled storage, private modes); the page must work without it. */
  const storage = {
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

  // ---------------------------------------------------------------------------------------
  // State (one object per concern; only the functions below touch it)
  // ---------------------------------------------------------------------------------------

  const venue = {
    name: new URLSearchParams(location.search).get('venue') || 'main',
    rows: 0,
    cols: 0,
    seq: -1,
    seats: new Map(), // id -> { id, row, col, status, held_by, expires_at }
    order: [],        // seat ids in row-major order, for stable lists
  };

  const me = {
    token: validToken(storage.get(TOKEN_KEY)),
    userId: null,
    edgeId: null,
    holdSeconds: 30,
  };
  // Only trust a remembered user id if it belongs to the remembered token.
  if (me.token) me.userId = storage.get(USER_KEY);

  /** Waiting for the server to confirm the token we resumed with (see onWelcome). */
  const identity = { resumeToken: null, provisional: null, graceTimer: 0 };

  const conn = {
    ws: null,
    attempt: 0,          // consecutive failures, drives the backoff
    retryTimer: 0,
    retryAt: 0,
    countdownTimer: 0,
    handshakeTimer: 0,
    welcomed: false,     // this socket got a WELCOME
    synced: false,       // this socket got a VENUE_STATE
    everClosed: false,   // "connecting" before the first loss, "reconnecting" after
    wasConnected: false, // for the "connection lost" / "reconnected" announcements
    browserOffline: false,
    stopped: false,      // page is being hidden/unloaded
    lastResyncAt: 0,
  };

  /** Server clock: offset = server_time_ms - Date.now(), refreshed by WELCOME/VENUE_STATE. */
  const clock = {
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
  const requests = { counter: 0, pending: new Map(), busySeats: new Set() };
  const events = { mark: 0, touched: new Map() };

  /** DOM references, filled by init(). */
  const dom = {};
  /** seat id -> <button>, and the [row][col] layout for arrow-key navigation. */
  const seatButtons = new Map();
  let cells = [];

  // ---------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------

  function validToken(token) {
    return typeof token === 'string' && TOKEN_RE.test(token) ? token : null;
  }

  function randomId(bytes = 16) {
    const buf = new Uint8Array(bytes);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(buf);
    else for (let i = 0; i < bytes; i++) buf[i] = Math.floor(Math.random() * 256);
    return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? '' : 's'}`;
  }

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'className') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  // ---------------------------------------------------------------------------------------
  // Seats: normalising and classifying
  // ---------------------------------------------------------------------------------------

  function toStatus(value) {
    if (typeof value === 'number') return value;
    const named = { available: 0, held: 1, booked: 2 }[String(value).toLowerCase()];
    return named ?? Number(value);
  }

  function normaliseSeat(raw) {
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
  function classify(seat) {
    const mine = me.userId != null && seat.held_by === me.userId;
    if (seat.status === STATUS.HELD) return mine ? 'held-by-you' : 'held';
    if (seat.status === STATUS.BOOKED) return mine ? 'booked-by-you' : 'booked';
    return 'available';
  }

  /** The accessible name; its wording is a contract (tests and screen readers rely on it). */
  function seatLabel(seat, kind) {
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

  function seatsOfKind(kind) {
    return venue.order.filter((id) => classify(venue.seats.get(id)) === kind);
  }

  // ---------------------------------------------------------------------------------------
  // Rendering: grid
  // ---------------------------------------------------------------------------------------

  function rowLabel(r) {
    // Take the letters from the server's own ids, so the labels always match them.
    const id = cells[r] && cells[r].find(Boolean);
    return id ? id.replace(/\d+$/, '') : String.fromCharCode(65 + r);
  }

  function buildGrid() {
    const focusedId = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.seat : null;

    cells = Array.from({ length: venue.rows }, () => new Array(venue.cols).fill(null));
    for (const seat of venue.seats.values()) {
      if (seat.row >= 0 && seat.row < venue.rows && seat.col >= 0 && seat.col < venue.cols) {
        cells[seat.row][seat.col] = seat.id;
      }
    }

    seatButtons.clear();
    const frag = document.createDocumentFragment();
    frag.append(el('div', { className: 'axis', 'aria-hidden': 'true' }));
    for (let c = 0; c < venue.cols; c++) {
      frag.append(el('div', { className: 'axis', 'aria-hidden': 'true', text: String(c + 1) }));
    }
    for (let r = 0; r < venue.rows; r++) {
      frag.append(el('div', { className: 'axis', 'aria-hidden': 'true', text: rowLabel(r) }));
      for (let c = 0; c < venue.cols; c++) {
        const id = cells[r][c];
        if (!id) { frag.append(el('div', { 'aria-hidden': 'true' })); continue; }
        const button = el('button', { type: 'button', className: 'seat', dataset: { seat: id } });
        seatButtons.set(id, button);
        frag.append(button);
      }
    }

    dom.grid.style.setProperty('--cols', String(venue.cols));
    dom.grid.replaceChildren(frag);
    dom.grid.removeAttribute('aria-busy');
    if (focusedId && seatButtons.has(focusedId)) seatButtons.get(focusedId).focus();
  }

  function renderSeat(id) {
    const button = seatButtons.get(id);
    const seat = venue.seats.get(id);
    if (!button || !seat) return;
    const kind = classify(seat);
    // Only write what changed: this runs for every held seat every second.
    setAttr(button, 'data-status', kind);
    setAttr(button, 'aria-label', seatLabel(seat, kind));
    setAttr(button, 'aria-busy', requests.busySeats.has(id) ? 'true' : null);
  }

  function setAttr(node, name, value) {
    if (value == null) {
      if (node.hasAttribute(name)) node.removeAttribute(name);
    } else if (node.getAttribute(name) !== value) {
      node.setAttribute(name, value);
    }
  }

  /** A short ring on seats changed by someone else, so live changes catch the eye. */
  function flashSeat(id) {
    const button = seatButtons.get(id);
    if (!button) return;
    button.classList.remove('flash');
    void button.offsetWidth; // restart the animation
    button.classList.add('flash');
  }

  // ---------------------------------------------------------------------------------------
  // Rendering: side panels, counters, identity, errors
  // ---------------------------------------------------------------------------------------

  function renderHolds() {
    const mine = seatsOfKind('held-by-you');
    const wanted = new Set(mine);
    let lostFocusFrom = null;

    for (const item of Array.from(dom.holds.children)) {
      if (wanted.has(item.dataset.seat)) continue;
      if (item.contains(document.activeElement)) lostFocusFrom = item.dataset.seat;
      item.remove();
    }

    // Existing entries are already in seat order, so only new entries are inserted and the
    // focused one is never moved (moving a node would drop keyboard focus).
    mine.forEach((id, index) => {
      let item = dom.holds.querySelector(`li[data-seat="${CSS.escape(id)}"]`);
      if (!item) {
        item = createHoldItem(id);
        dom.holds.insertBefore(item, dom.holds.children[index] || null);
      }
      updateHoldItem(item, id);
    });

    dom.holdsEmpty.hidden = mine.length > 0;
    // The entry you were on is gone (booked, released, expired): keep focus on that seat.
    if (lostFocusFrom && seatButtons.has(lostFocusFrom)) seatButtons.get(lostFocusFrom).focus();
  }

  function createHoldItem(id) {
    const seatEl = el('span', { className: 'hold-seat', id: `hold-${id}-seat`, text: id });
    const timeEl = el('span', { className: 'hold-time', id: `hold-${id}-time` });
    const bar = el('span', { className: 'hold-bar', 'aria-hidden': 'true' }, [el('span')]);
    const describedBy = `hold-${id}-seat hold-${id}-time`;
    const actions = el('div', { className: 'hold-actions' }, [
      el('button', { type: 'button', className: 'btn btn-primary', dataset: { action: 'book' }, 'aria-describedby': describedBy, text: 'Book' }),
      el('button', { type: 'button', className: 'btn btn-secondary', dataset: { action: 'release' }, 'aria-describedby': describedBy, text: 'Release' }),
    ]);
    return el('li', { className: 'hold', dataset: { seat: id } }, [seatEl, timeEl, bar, actions]);
  }

  function updateHoldItem(item, id) {
    const seat = venue.seats.get(id);
    const left = clock.secondsLeft(seat.expires_at);
    const timeEl = item.querySelector('.hold-time');
    const text = left == null ? 'held' : left === 0 ? 'expiring…' : `${plural(left, 'second')} left`;
    if (timeEl.textContent !== text) timeEl.textContent = text;
    timeEl.classList.toggle('urgent', left != null && left <= URGENT_SECONDS);

    const fraction = left == null ? 1 : Math.min(1, left / Math.max(1, me.holdSeconds));
    item.querySelector('.hold-bar > span').style.setProperty('--left', fraction.toFixed(3));

    const busy = requests.busySeats.has(id) ? 'true' : null;
    for (const button of item.querySelectorAll('button')) setAttr(button, 'aria-disabled', busy);
  }

  function renderBookings() {
    const mine = seatsOfKind('booked-by-you');
    const key = mine.join(',');
    if (dom.bookings.dataset.key === key) return;
    dom.bookings.dataset.key = key;
    dom.bookings.replaceChildren(...mine.map((id) => el('li', { text: id })));
    dom.bookingsEmpty.hidden = mine.length > 0;
  }

  function renderCounts() {
    let available = 0;
    for (const seat of venue.seats.values()) if (seat.status === STATUS.AVAILABLE) available++;
    dom.available.textContent = String(available);
    dom.total.textContent = String(venue.seats.size);
  }

  function renderIdentity() {
    dom.userId.textContent = me.userId || '—';
    dom.edgeId.textContent = me.edgeId || '—';
  }

  /** Everything that depends on the whole venue (after a snapshot or an identity change). */
  function renderAll() {
    for (const id of seatButtons.keys()) renderSeat(id);
    renderSideAndCounts();
  }

  function renderSideAndCounts() {
    renderHolds();
    renderBookings();
    renderCounts();
  }

  /** Polite announcements for screen readers (results of your own actions). */
  function announce(message) {
    // Clear first so the same sentence twice in a row is still read out.
    dom.announcer.textContent = '';
    setTimeout(() => { dom.announcer.textContent = message; }, 50);
  }

  function showError(message) {
    // The same message again (say, several clicks on taken seats) replaces the old one.
    for (const existing of dom.errors.querySelectorAll('.error')) {
      if (existing.firstChild.textContent === message) existing.remove();
    }
    const text = el('span', { className: 'error-text', text: message });
    const dismiss = el('button', { type: 'button', className: 'link-button', text: 'Dismiss' });
    const item = el('p', { className: 'error' }, [text, dismiss]);
    const remove = () => {
      item.remove();
      dom.errors.hidden = dom.errors.childElementCount === 0;
    };
    dismiss.addEventListener('click', remove);
    setTimeout(remove, ERROR_TTL_MS);

    dom.errors.prepend(item);
    while (dom.errors.childElementCount > MAX_ERRORS) dom.errors.lastElementChild.remove();
    dom.errors.hidden = false;
    announce(message);
  }

  function friendlyError(code, seatId, message) {
    const make = ERROR_TEXT[code];
    if (make) return make(seatId, message);
    return message || `Something went wrong${code ? ` (${code})` : ''}.`;
  }

  // ---------------------------------------------------------------------------------------
  // Rendering: connection status
  // ---------------------------------------------------------------------------------------

  function connectionState() {
    if (conn.ws && conn.welcomed && conn.synced) return 'connected';
    if (conn.browserOffline) return 'offline';
    return conn.everClosed ? 'reconnecting' : 'connecting';
  }

  function renderConnection() {
    const state = connectionState();
    let text = state;
    if (state === 'connecting') text = 'connecting…';
    if (state === 'reconnecting') {
      text = conn.retryTimer
        ? `reconnecting in ${Math.max(1, Math.ceil((conn.retryAt - Date.now()) / 1000))}s`
        : 'reconnecting…';
    }
    if (state === 'offline') text = conn.retryTimer ? 'offline, retrying' : 'offline';
    setAttr(dom.conn, 'data-state', state);
    setAttr(document.body, 'data-conn', state);
    if (dom.conn.textContent !== text) dom.conn.textContent = text;
    dom.retry.hidden = !conn.retryTimer;
  }

  // ---------------------------------------------------------------------------------------
  // Identity and the sticky-session cookie
  // ---------------------------------------------------------------------------------------

  /** NGINX hashes this cookie to pick an edge, so each browser profile sticks to one edge. */
  function ensureClientCookie() {
    const match = document.cookie.match(/(?:^|;\s*)seatmap_cid=([^;]+)/);
    const id = match ? match[1] : randomId(16);
    const secure = location.protocol === 'https:' ? '; Secure' : '';
    // Re-set even when present: slides the one-year expiry forward.
    document.cookie = `${CID_COOKIE}=${id}; path=/; max-age=${CID_MAX_AGE_S}; SameSite=Lax${secure}`;
  }

  function adoptIdentity(welcome) {
    clearTimeout(identity.graceTimer);
    identity.resumeToken = null;
    identity.provisional = null;

    const token = validToken(welcome.token) || me.token;
    const changed = welcome.user_id && welcome.user_id !== me.userId;
    me.token = token;
    if (welcome.user_id) me.userId = welcome.user_id;
    storage.set(TOKEN_KEY, me.token);
    storage.set(USER_KEY, me.userId);
    renderIdentity();
    if (changed) renderAll(); // "held by you" depends on who you are
  }

  /** The server did not take our old token: accept the identity it issued instead. */
  function abandonResume() {
    const fallback = identity.provisional;
    identity.resumeToken = null;
    identity.provisional = null;
    clearTimeout(identity.graceTimer);
    if (fallback) adoptIdentity(fallback);
  }

  // ---------------------------------------------------------------------------------------
  // Server messages
  // ---------------------------------------------------------------------------------------

  function onWelcome(data) {
    clock.sync(Number(data.server_time_ms));
    if (Number.isFinite(Number(data.hold_seconds)) && data.hold_seconds > 0) me.holdSeconds = Number(data.hold_seconds);
    if (data.edge_id) me.edgeId = String(data.edge_id);

    // The edge greets every new socket with a fresh identity *before* it reads our CONNECT,
    // then greets again with the resumed one. Adopting the first would throw away the
    // user's holds, so while a resume is pending a WELCOME for another token is only kept
    // as a fallback (used if the resume is refused or never confirmed).
    const resuming = identity.resumeToken;
    if (resuming && data.token && data.token !== resuming) {
      identity.provisional = data;
      clearTimeout(identity.graceTimer);
      identity.graceTimer = setTimeout(abandonResume, RESUME_GRACE_MS);
      renderIdentity();
    } else {
      adoptIdentity(data);
    }

    conn.welcomed = true;
    onHandshakeProgress();
  }

  function onVenueState(data) {
    if (data.venue && data.venue !== venue.name) return;
    clock.sync(Number(data.server_time_ms));

    const seats = (Array.isArray(data.seats) ? data.seats : []).map(normaliseSeat);
    const rows = Number(data.rows) || 0;
    const cols = Number(data.cols) || 0;
    const sameShape = rows === venue.rows && cols === venue.cols
      && seats.length === venue.seats.size && seats.every((s) => seatButtons.has(s.id));

    venue.rows = rows;
    venue.cols = cols;
    venue.seq = Number.isFinite(Number(data.seq)) ? Number(data.seq) : -1;
    venue.seats = new Map(seats.map((s) => [s.id, s]));
    venue.order = seats.slice().sort((a, b) => a.row - b.row || a.col - b.col).map((s) => s.id);

    // A snapshot is newer than any OK still in flight.
    events.mark++;
    for (const id of venue.seats.keys()) events.touched.set(id, events.mark);

    if (!sameShape) buildGrid();
    renderAll();

    conn.synced = true;
    onHandshakeProgress();
  }

  function onSeatUpdate(data) {
    if (data.venue && data.venue !== venue.name) return;
    const seq = Number(data.seq);
    const hasSeq = data.seq != null && Number.isFinite(seq);
    if (hasSeq && seq <= venue.seq) return; // already included in what we show

    const seat = venue.seats.get(data.seat_id);
    if (hasSeq && venue.seq >= 0 && seq > venue.seq + 1) requestResync('gap in seq');
    if (hasSeq) venue.seq = seq;
    if (!seat) return; // a seat we do not know: the resync above (or the next one) fixes it

    const before = classify(seat);
    seat.status = toStatus(data.status);
    seat.held_by = data.held_by || null;
    seat.expires_at = data.expires_at == null ? null : Number(data.expires_at);
    events.touched.set(seat.id, ++events.mark);

    renderSeat(seat.id);
    renderSideAndCounts();
    if (!requests.busySeats.has(seat.id)) flashSeat(seat.id);
    reportOwnChange(seat.id, before, classify(seat), data.reason);
  }

  /** Tell the user when their own seat changed without them asking (expiry, reset, other tab). */
  function reportOwnChange(id, before, after, reason) {
    if (before !== 'held-by-you' || before === after || requests.busySeats.has(id)) return;
    if (after === 'booked-by-you') announce(`${id} booked.`);
    else if (reason === 'expired') announce(`Your hold on ${id} expired.`);
    else if (reason === 'reset') announce(`${id} was reset by the organiser.`);
    else announce(`You no longer hold ${id}.`);
  }

  function onOk(data) {
    const request = takeRequest(data.req_id);
    const seatId = data.seat_id || (data.seat && data.seat.id) || (request && request.seatId);
    const action = (request && request.action) || actionFromName(data.action);

    // The matching SEAT_UPDATE may arrive before or after this OK. Apply the OK's seat only
    // if nothing newer touched the seat since the command went out; otherwise it would go
    // backwards.
    if (data.seat && request && seatId && venue.seats.has(seatId)
        && (events.touched.get(seatId) || 0) <= request.mark) {
      const seat = venue.seats.get(seatId);
      Object.assign(seat, normaliseSeat({ ...seat, ...data.seat }));
      events.touched.set(seatId, ++events.mark);
    }
    if (seatId) {
      renderSeat(seatId);
      renderSideAndCounts();
    }
    announceOk(action, seatId);
  }

  function announceOk(action, seatId) {
    if (!seatId) return;
    const seat = venue.seats.get(seatId);
    if (action === 'select') {
      const left = seat ? clock.secondsLeft(seat.expires_at) : null;
      announce(`${seatId} held for ${plural(left ?? me.holdSeconds, 'second')}. Book it to keep it.`);
    } else if (action === 'book') {
      announce(`${seatId} booked. It is yours.`);
    } else if (action === 'release') {
      announce(`${seatId} released.`);
    }
  }

  function onError(data) {
    const request = takeRequest(data.req_id);
    const seatId = data.seat_id || (request && request.seatId) || null;
    if (seatId) {
      renderSeat(seatId);
      renderSideAndCounts();
    }
    // An UNAUTHORIZED with no req_id while our token is being resumed answers CONNECT: the
    // old identity is gone, so carry on with the one this socket was greeted with.
    if (!data.req_id && identity.resumeToken && data.code === 'UNAUTHORIZED') {
      me.token = null;
      storage.set(TOKEN_KEY, null);
      abandonResume();
      showError('Your previous session could not be resumed, so you are continuing as a new visitor.');
      return;
    }
    showError(friendlyError(data.code, seatId, data.message));
  }

  const HANDLERS = {
    WELCOME: onWelcome,
    VENUE_STATE: onVenueState,
    SEAT_UPDATE: onSeatUpdate,
    OK: onOk,
    ERROR: onError,
  };

  function onFrame(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      console.warn('seatmap: ignoring a frame that is not JSON');
      return;
    }
    if (!message || typeof message.type !== 'string') return;
    const handler = HANDLERS[message.type.toUpperCase()];
    if (handler) handler(message.data || {});
  }

  // ---------------------------------------------------------------------------------------
  // Commands
  // ---------------------------------------------------------------------------------------

  function actionFromName(name) {
    const n = String(name || '').toLowerCase();
    if (n.includes('book')) return 'book';
    if (n.includes('release')) return 'release';
    if (n.includes('select') || n.includes('hold')) return 'select';
    return null;
  }

  function takeRequest(reqId) {
    const request = reqId != null ? requests.pending.get(String(reqId)) : undefined;
    if (!request) return undefined;
    clearTimeout(request.timer);
    requests.pending.delete(String(reqId));
    requests.busySeats.delete(request.seatId);
    return request;
  }

  function isConnected() {
    return connectionState() === 'connected';
  }

  function sendCommand(action, seatId) {
    if (requests.busySeats.has(seatId)) return; // one request per seat at a time
    if (!isConnected()) {
      const done = { select: 'selected', book: 'booked', release: 'released' }[action];
      showError(`Not connected right now, so ${seatId} was not ${done}. Please try again in a moment.`);
      return;
    }
    const reqId = `r-${++requests.counter}`;
    const timer = setTimeout(() => {
      takeRequest(reqId);
      renderSeat(seatId);
      renderSideAndCounts();
    }, REQUEST_TIMEOUT_MS);
    requests.pending.set(reqId, { action, seatId, mark: events.mark, timer });
    requests.busySeats.add(seatId);
    send({ type: COMMANDS[action], data: { seat_id: seatId, req_id: reqId } });
    renderSeat(seatId);
    renderSideAndCounts();
  }

  /** After a reconnect nobody will answer the old requests: stop showing them as waiting. */
  function dropPendingRequests() {
    const seats = Array.from(requests.busySeats);
    for (const reqId of Array.from(requests.pending.keys())) takeRequest(reqId);
    seats.forEach(renderSeat);
    if (seats.length) renderSideAndCounts();
  }

  function send(message) {
    if (conn.ws && conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(message));
  }

  function sendConnect() {
    const data = { venue: venue.name };
    if (me.token) data.token = me.token;
    identity.resumeToken = me.token || null;
    send({ type: 'CONNECT', data });
  }

  /** CONNECT again on the same socket: the edge answers with WELCOME + a fresh VENUE_STATE. */
  function requestResync(why) {
    const now = Date.now();
    if (now - conn.lastResyncAt < RESYNC_MIN_INTERVAL_MS) return;
    conn.lastResyncAt = now;
    console.warn(`seatmap: resynchronising (${why})`);
    sendConnect();
  }

  // ---------------------------------------------------------------------------------------
  // Connection lifecycle
  // ---------------------------------------------------------------------------------------

  function socketUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  function connect() {
    clearRetry();
    if (conn.stopped || conn.ws) return;
    ensureClientCookie(); // before the upgrade request, so NGINX can hash it

    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (err) {
      console.warn('seatmap: cannot open WebSocket', err);
      scheduleReconnect(false);
      return;
    }
    conn.ws = ws;
    conn.welcomed = false;
    conn.synced = false;
    conn.handshakeTimer = setTimeout(() => dropSocket(ws, 'handshake timeout'), HANDSHAKE_TIMEOUT_MS);

    // Each handler checks it still belongs to the current socket: a late event from an
    // abandoned socket must not disturb the new one.
    ws.addEventListener('open', () => { if (conn.ws === ws) sendConnect(); });
    ws.addEventListener('message', (event) => {
      if (conn.ws === ws && typeof event.data === 'string') onFrame(event.data);
    });
    ws.addEventListener('close', (event) => {
      if (conn.ws === ws) onSocketClosed(event.code);
    });
    renderConnection();
  }

  function onHandshakeProgress() {
    if (!(conn.welcomed && conn.synced)) return;
    clearTimeout(conn.handshakeTimer);
    conn.attempt = 0;
    if (!conn.wasConnected && conn.everClosed) announce('Reconnected. The seat map is up to date.');
    conn.wasConnected = true;
    renderConnection();
  }

  /** Give up on a socket that stopped answering, without waiting for its close handshake. */
  function dropSocket(ws, why) {
    if (conn.ws !== ws) return;
    console.warn(`seatmap: dropping socket (${why})`);
    try { ws.close(); } catch { /* already closing */ }
    onSocketClosed(1006);
  }

  function onSocketClosed(code) {
    clearTimeout(conn.handshakeTimer);
    conn.ws = null;
    conn.welcomed = false;
    conn.synced = false;
    conn.everClosed = true;
    // A half-finished resume belongs to the dead socket; the next socket starts it afresh.
    clearTimeout(identity.graceTimer);
    identity.resumeToken = null;
    identity.provisional = null;
    dropPendingRequests();
    if (conn.stopped) return;
    if (conn.wasConnected) announce('Connection lost. Reconnecting…');
    conn.wasConnected = false;
    scheduleReconnect(code === 1001);
  }

  /**
   * Exponential backoff with jitter (250 ms doubling to 5 s), so a fleet of browsers does not
   * reconnect in lockstep. A 1001 means "this edge is going away": another edge is ready, so
   * go almost at once.
   */
  function scheduleReconnect(goingAway) {
    clearRetry();
    let delay;
    if (goingAway) {
      delay = Math.random() * GOING_AWAY_JITTER_MS;
    } else {
      const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** conn.attempt);
      delay = ceiling / 2 + Math.random() * (ceiling / 2);
      conn.attempt++;
    }
    conn.retryAt = Date.now() + delay;
    conn.retryTimer = setTimeout(connect, delay);
    conn.countdownTimer = setInterval(renderConnection, 250);
    renderConnection();
  }

  function clearRetry() {
    clearTimeout(conn.retryTimer);
    clearInterval(conn.countdownTimer);
    conn.retryTimer = 0;
    conn.countdownTimer = 0;
  }

  function reconnectNow() {
    if (conn.ws) return;
    conn.attempt = 0;
    connect();
  }

  // ---------------------------------------------------------------------------------------
  // Countdown ticker
  // ---------------------------------------------------------------------------------------

  /** Tick on the server's second boundaries, when "seconds left" actually changes. */
  function scheduleTick() {
    const msToNextSecond = 1000 - (((clock.nowMs() % 1000) + 1000) % 1000);
    setTimeout(() => {
      tick();
      scheduleTick();
    }, msToNextSecond + 10);
  }

  function tick() {
    for (const seat of venue.seats.values()) {
      if (seat.status === STATUS.HELD) renderSeat(seat.id);
    }
    for (const item of dom.holds.children) updateHoldItem(item, item.dataset.seat);
  }

  // ---------------------------------------------------------------------------------------
  // User input
  // ---------------------------------------------------------------------------------------

  function onSeatActivated(id) {
    const seat = venue.seats.get(id);
    if (!seat) return;
    switch (classify(seat)) {
      case 'available':
        sendCommand('select', id);
        break;
      case 'held-by-you':
        // Your own hold: take you to its Book / Release buttons.
        focusHold(id);
        break;
      case 'held':
      case 'booked':
        // Our view can be milliseconds behind (a hold may just have ended), so let the
        // server referee: it answers OK, or an ERROR we turn into a readable message.
        sendCommand('select', id);
        break;
      case 'booked-by-you':
        announce(`${id} is booked for you.`);
        break;
    }
  }

  function focusHold(id) {
    const item = dom.holds.querySelector(`li[data-seat="${CSS.escape(id)}"]`);
    if (!item) return;
    item.scrollIntoView({ block: 'nearest' });
    item.querySelector('button[data-action="book"]').focus();
    item.classList.add('highlight');
    setTimeout(() => item.classList.remove('highlight'), 1500);
  }

  const ARROWS = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };

  /** Arrow keys move between seats (Tab still visits every seat, Enter/Space activate). */
  function onGridKeydown(event) {
    const id = event.target.dataset && event.target.dataset.seat;
    const seat = id && venue.seats.get(id);
    if (!seat) return;
    let target = null;
    if (ARROWS[event.key]) {
      const [dr, dc] = ARROWS[event.key];
      target = findSeat(seat.row, seat.col, dr, dc);
    } else if (event.key === 'Home') {
      target = event.ctrlKey ? venue.order[0] : cells[seat.row].find(Boolean);
    } else if (event.key === 'End') {
      target = event.ctrlKey ? venue.order[venue.order.length - 1] : cells[seat.row].filter(Boolean).pop();
    } else {
      return;
    }
    event.preventDefault(); // no page scrolling while moving in the grid
    if (target && seatButtons.has(target)) seatButtons.get(target).focus();
  }

  /** The next seat in a direction, skipping gaps in the layout. */
  function findSeat(row, col, dr, dc) {
    for (let r = row + dr, c = col + dc; r >= 0 && r < venue.rows && c >= 0 && c < venue.cols; r += dr, c += dc) {
      if (cells[r][c]) return cells[r][c];
    }
    return null;
  }

  function bindEvents() {
    dom.grid.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-seat]');
      if (button) onSeatActivated(button.dataset.seat);
    });
    dom.grid.addEventListener('keydown', onGridKeydown);
    dom.grid.addEventListener('animationend', (event) => event.target.classList.remove('flash'));

    dom.holds.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-action]');
      const item = button && button.closest('li[data-seat]');
      if (!item || button.getAttribute('aria-disabled') === 'true') return;
      sendCommand(button.dataset.action, item.dataset.seat);
    });

    dom.retry.addEventListener('click', reconnectNow);

    window.addEventListener('offline', () => {
      conn.browserOffline = true;
      renderConnection();
    });
    window.addEventListener('online', () => {
      conn.browserOffline = false;
      reconnectNow(); // the network is back: don't sit out the rest of the backoff
      renderConnection();
    });

    // Close cleanly when the page goes away (frees the edge at once, keeps bfcache usable),
    // and start again if it comes back from the back/forward cache.
    window.addEventListener('pagehide', () => {
      conn.stopped = true;
      clearRetry();
      if (conn.ws) conn.ws.close(1000, 'page hidden');
    });
    window.addEventListener('pageshow', (event) => {
      if (!event.persisted) return;
      conn.stopped = false;
      conn.ws = null;
      reconnectNow();
    });
  }

  // ---------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------

  function init() {
    Object.assign(dom, {
      grid: document.getElementById('seat-grid'),
      conn: document.getElementById('conn-status'),
      retry: document.getElementById('retry-now'),
      userId: document.getElementById('user-id'),
      edgeId: document.getElementById('edge-id'),
      available: document.getElementById('available-count'),
      total: document.getElementById('total-count'),
      holds: document.getElementById('my-holds'),
      holdsEmpty: document.getElementById('holds-empty'),
      bookings: document.getElementById('my-bookings'),
      bookingsEmpty: document.getElementById('bookings-empty'),
      errors: document.getElementById('errors'),
      announcer: document.getElementById('announcer'),
    });
    bindEvents();
    renderIdentity();
    renderConnection();
    connect();
    scheduleTick();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
