// The page's entry point (an ES module, no build step): finds the page's elements, wires the
// modules in js/ together and starts the connection and the once-a-second tick.
//
// It renders one venue from the edge server's WebSocket feed (/ws, same origin) and sends the
// user's seat commands. The modules in js/, each importing only the ones listed before it:
//   config.js         constants, timings, error texts
//   seq-tracker.js    the seq and epoch rules: what to apply, where to resume from
//   request-book.js   commands waiting for an answer, by req_id
//   backoff.js        how long to wait before reconnecting
//   transport.js      the WebSocket: open, text, close, confirm in time, PING/PONG, reconnect with backoff
//   chart-model.js    a chart's sections, rows, seats, categories and prices; seat order; hit test
//   words.js          several seats in words: lists, prices and totals, where a block is, group errors
//   compact.js        the compact VENUE_STATE and MINE, decoded
//   state.js          the page's state (venue, identity, connection, waiting room, requests)
//   seats.js          what a seat means to this user; its accessible name; the running tally
//   chart-loader.js   the venue's chart, fetched once and revalidated by its ETag
//   dom.js            making elements, writing attributes only when they change
//   chart-view.js     the drawn map (canvas): zoom and pan, full frame, one-seat repaints, tooltip
//   finder.js         the keyboard path to every drawn seat: section, row, then the row's buttons
//   basket.js         your holds: each seat's category and price, the total, one countdown
//   view.js           rendering: grid or drawn map, panels, connection status, errors, announcements
//   waiting-room.js   the waiting room: QUEUE, ADMITTED, the banner, its announcements
//   picks.js          "choose several": picking seats to hold together, the tray
//   best.js           best available: the form, and what it found (ringed, shown, said)
//   commands.js       seat commands, one seat or several, and best available (given `send`)
//   session.js        identity, the CONNECT handshake, STATUS (given `send` and the transport's hooks)
//   messages.js       the server's frames, dispatched (given the session and where PONG goes)
//   chart-input.js    wheel, drag, pinch, zoom buttons and keys on the drawn map; picking a seat
//   input.js          clicks, keys, online/offline, page hide/show (given what they set off)
// Only this file joins them, so no module reaches back up to one that imports it
// (scripts/check-import-cycles.mjs keeps it so).
//
// The page's Content-Security-Policy allows only same-origin scripts and styles: no inline
// script or style anywhere (styles are set through the CSSOM only).
import { Backoff } from './js/backoff.js';
import { loadChart } from './js/chart-loader.js';
import { attachCanvas, repaintAll, resize } from './js/chart-view.js';
import { createCommands } from './js/commands.js';
import {
  BACKOFF_BASE_MS, BACKOFF_CAP_MS, HANDSHAKE_TIMEOUT_MS, HEALTHY_AFTER_MS, PING_EVERY_MS, PONG_WITHIN_MS,
} from './js/config.js';
import { bindEvents } from './js/input.js';
import { createMessages } from './js/messages.js';
import { Session, socketUrl } from './js/session.js';
import { clock, conn, dom, venue } from './js/state.js';
import { Transport } from './js/transport.js';
import { renderConnection, renderCountdowns, renderIdentity } from './js/view.js';
import { renderWaitingRoom, tickWaitingRoom } from './js/waiting-room.js';

/** Tick on the server's second boundaries, when "seconds left" actually changes. */
function scheduleTick() {
  const msToNextSecond = 1000 - (((clock.nowMs() % 1000) + 1000) % 1000);
  setTimeout(() => {
    renderCountdowns();
    tickWaitingRoom();
    scheduleTick();
  }, msToNextSecond + 10);
}

function findElements() {
  const byId = (id) => document.getElementById(id);
  Object.assign(dom, {
    grid: byId('seat-grid'),
    help: byId('grid-help'),
    stage: byId('stage'),
    gridLegend: byId('grid-legend'),
    chart: byId('chart'),
    chartLegend: byId('chart-legend'),
    finderSection: byId('finder-section'),
    finderRow: byId('finder-row'),
    zoomIn: byId('zoom-in'),
    zoomOut: byId('zoom-out'),
    zoomFit: byId('zoom-fit'),
    conn: byId('conn-status'),
    retry: byId('retry-now'),
    userId: byId('user-id'),
    edgeId: byId('edge-id'),
    available: byId('available-count'),
    total: byId('total-count'),
    holds: byId('my-holds'),
    holdsEmpty: byId('holds-empty'),
    holdsHeading: byId('holds-heading'),
    basket: {
      summary: byId('basket-summary'),
      totalLine: byId('basket-total-line'),
      total: byId('basket-total'),
      count: byId('basket-count'),
      countdown: byId('basket-countdown'),
      bar: document.querySelector('#basket-summary .hold-bar > span'),
      allActions: byId('basket-all'),
      bookAll: byId('book-all'),
      releaseAll: byId('release-all'),
    },
    picks: {
      toggle: byId('choose-several'),
      hint: byId('picks-hint'),
      tray: byId('picks'),
      list: byId('picks-list'),
      hold: byId('picks-hold'),
      clear: byId('picks-clear'),
    },
    best: {
      form: byId('best-form'),
      count: byId('best-count'),
      category: byId('best-category'),
      categoryField: byId('best-category-field'),
      section: byId('best-section'),
      sectionField: byId('best-section-field'),
      accessible: byId('best-accessible'),
      accessibleField: byId('best-accessible-field'),
      result: byId('best-result'),
    },
    bookings: byId('my-bookings'),
    bookingsEmpty: byId('bookings-empty'),
    errors: byId('errors'),
    announcer: byId('announcer'),
    // The waiting room's elements keep their ids ("queue-…"): tests and aria-describedby use them.
    waitingRoom: {
      banner: byId('queue'),
      heading: byId('queue-heading'),
      message: byId('queue-message'),
      waitPanel: byId('queue-waiting'),
      position: byId('queue-position'),
      ahead: byId('queue-ahead'),
      size: byId('queue-size'),
      wait: byId('queue-wait'),
      progress: byId('queue-progress'),
      passPanel: byId('queue-admitted'),
      countdown: byId('queue-countdown'),
      timeLeft: byId('queue-time'),
      seatNote: byId('queue-seat-note'),
      live: byId('queue-live'),
      alert: byId('queue-alert'),
    },
  });
}

/** The transport, the session, the commands and the frame handler, each given what it calls. */
function wire() {
  let session = null;
  let commands = null;
  let messages = null;
  const transport = new Transport({
    url: socketUrl,
    backoff: new Backoff({ baseMs: BACKOFF_BASE_MS, capMs: BACKOFF_CAP_MS, healthyAfterMs: HEALTHY_AFTER_MS }),
    confirmWithinMs: HANDSHAKE_TIMEOUT_MS, // open, but no identity or no view by then: try again
    pingEveryMs: PING_EVERY_MS, // and once in use, no PONG within PONG_WITHIN_MS of a PING: try again
    pongWithinMs: PONG_WITHIN_MS,
    pingText: JSON.stringify({ type: 'PING' }),
    onOpen: () => session.opened(),
    onText: (text) => messages.onFrame(text),
    onClose: (how) => {
      session.closed(how);
      messages.socketClosed();
      commands.dropPending(); // nobody will answer them now
    },
    onStatus: ({ retryAt }) => {
      conn.retryAt = retryAt;
      renderConnection();
    },
  });
  const send = (message) => transport.send(JSON.stringify(message));
  session = new Session({ send, drop: transport.drop, confirmed: transport.confirmed });
  commands = createCommands({ send });
  messages = createMessages({ session, onPong: transport.ponged });
  return { transport, commands };
}

/** The drawn map's canvases, kept at the size of their box. */
function setUpCanvas() {
  attachCanvas({
    el: document.getElementById('chart-view'),
    seats: document.getElementById('chart-seats'),
    overlay: document.getElementById('chart-overlay'),
    tip: document.getElementById('chart-tip'),
  });
  new ResizeObserver(() => {
    if (venue.drawn === 'canvas' && resize()) repaintAll();
  }).observe(document.getElementById('chart-view'));
}

/**
 * A venue named in the address (/?venue=arena) is likely drawn: fetch its chart now, beside the
 * socket's handshake, instead of after its VENUE_STATE. The default venue waits to be asked.
 */
function prefetchChart() {
  if (!new URLSearchParams(location.search).has('venue')) return;
  loadChart(venue.name).catch(() => { /* fetched again if the venue turns out to need it */ });
}

function init() {
  prefetchChart();
  findElements();
  setUpCanvas();
  const { transport, commands } = wire();
  bindEvents({
    sendCommand: commands.sendCommand,
    sendGroup: commands.sendGroup,
    sendBest: commands.sendBest,
    reconnectNow: transport.reconnectNow,
    stop: transport.stop,
    restart: transport.restart,
  });
  renderIdentity();
  renderConnection();
  renderWaitingRoom();
  transport.connect();
  scheduleTick();
}

// Module scripts run after the document is parsed (they are deferred).
init();
