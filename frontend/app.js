/*
 * Seat map client: the entry point (an ES module, no build step).
 *
 * Renders one venue from the edge server's WebSocket feed (/ws, same origin) and sends the
 * user's seat commands. The modules in js/:
 *   config.js      constants, timings, error texts
 *   state.js       the client's state (venue, identity, connection, requests)
 *   seats.js       what a seat means to this user; its accessible name
 *   view.js        rendering: grid, panels, connection status, errors, announcements
 *   messages.js    the server's messages: identity, snapshots and updates in seq order, answers
 *   connection.js  the socket: CONNECT (token, after_seq, epoch), backoff, reconnecting
 *   commands.js    seat commands and their answers
 *   input.js       clicks, keys, online/offline, page hide/show
 * The page's Content-Security-Policy allows only same-origin scripts and styles: no inline
 * script or style anywhere (styles are set through the CSSOM only).
 */
import { connect } from './js/connection.js';
import { bindEvents } from './js/input.js';
import { clock, dom } from './js/state.js';
import { renderConnection, renderCountdowns, renderIdentity } from './js/view.js';

/** Tick on the server's second boundaries, when "seconds left" actually changes. */
function scheduleTick() {
  const msToNextSecond = 1000 - (((clock.nowMs() % 1000) + 1000) % 1000);
  setTimeout(() => {
    renderCountdowns();
    scheduleTick();
  }, msToNextSecond + 10);
}

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

// Module scripts run after the document is parsed (they are deferred).
init();
