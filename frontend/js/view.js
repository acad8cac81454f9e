// Rendering: the seat map (a grid of buttons, or the drawn map of chart-view.js with the
// finder's buttons), the side panels, counters, identity, connection status, errors and
// screen-reader announcements. Reads the state; never changes seats.
import { renderHolds, tickHolds } from './basket.js';
import { fit, repaintAll, repaintSeat, resize, STATE_FILL, updateTip } from './chart-view.js';
import { ERROR_TEXT, ERROR_TTL_MS, MAX_ERRORS, STATUS } from './config.js';
import { el, setAttr } from './dom.js';
import { buildFinder, configureFinder } from './finder.js';
import { classify, retally, seatLabel, seatLocked, seatsOfKind } from './seats.js';
import { best, conn, dom, grid, me, picks, requests, seatButtons, venue } from './state.js';

export { el, setAttr };

configureFinder({ render: (id) => renderSeat(id) });

// ---------------------------------------------------------------------------------------
// Grid
// ---------------------------------------------------------------------------------------

function rowLabel(r) {
  // Take the letters from the server's own ids, so the labels always match them.
  const id = grid.cells[r] && grid.cells[r].find(Boolean);
  return id ? id.replace(/\d+$/, '') : String.fromCharCode(65 + r);
}

/** Marks the first time every seat is on screen (a benchmark reads it). */
function markDrawn() {
  if (performance.getEntriesByName('seatmap:drawn').length) return;
  requestAnimationFrame(() => {
    if (!performance.getEntriesByName('seatmap:drawn').length) performance.mark('seatmap:drawn');
  });
}

/** Builds the map for the venue just received: buttons for a small grid, else the drawn map. */
export function buildMap() {
  const canvas = venue.drawn === 'canvas';
  dom.chart.hidden = !canvas;
  dom.gridLegend.hidden = canvas;
  dom.stage.hidden = canvas && venue.layout === 'chart'; // a chart draws its own stage
  document.body.dataset.map = canvas ? 'drawn' : 'buttons';
  dom.grid.classList.toggle('seat-row', canvas);
  if (canvas) buildDrawnMap();
  else buildGrid();
}

function buildDrawnMap() {
  resize();
  fit();
  buildChartLegend();
  buildFinder();
  dom.grid.removeAttribute('aria-busy');
  dom.holdsEmpty.textContent = 'None yet. Pick a seat on the map, or in the section and row lists.';
  dom.help.textContent = 'Drag to move the map, scroll or pinch to zoom, or use the buttons. '
    + 'By keyboard: choose a section and a row, then arrow keys move between seats '
    + '(up and down change row, Page Up and Page Down change section); Enter holds a seat.';
}

function swatch(fill, glyph) {
  const node = el('span', { className: 'swatch chart-swatch', 'aria-hidden': 'true', text: glyph || '' });
  node.style.setProperty('--fill', fill); // through the CSSOM: allowed by the page's CSP
  return node;
}

/** Categories with their prices, then what the other colours and marks mean. */
function buildChartLegend() {
  const items = [];
  if (venue.layout === 'chart') {
    for (const c of venue.chart.categories) {
      items.push(el('li', {}, [swatch(c.color), `${c.label} ${c.priceText}`]));
    }
  } else {
    items.push(el('li', {}, [swatch(venue.chart.categories[0]?.color || '#4a90d9'), 'Available']));
  }
  items.push(el('li', {}, [swatch(STATE_FILL.held), 'Held by someone']));
  items.push(el('li', {}, [swatch(STATE_FILL.booked), 'Booked']));
  items.push(el('li', {}, [swatch(STATE_FILL['held-by-you'], '★'), 'Held by you']));
  items.push(el('li', {}, [swatch(STATE_FILL['booked-by-you'], '✓'), 'Booked by you']));
  if (venue.chart.seats.some((s) => s.blocked)) items.push(el('li', {}, [swatch(STATE_FILL.blocked, '✕'), 'Not for sale']));
  if (venue.chart.seats.some((s) => s.accessible)) items.push(el('li', {}, [swatch('#ffffff', '♿'), 'Wheelchair space (square)']));
  dom.chartLegend.replaceChildren(...items);
}

function buildGrid() {
  const focusedId = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.seat : null;

  const cells = Array.from({ length: venue.rows }, () => new Array(venue.cols).fill(null));
  for (const seat of venue.seats.values()) {
    if (seat.row >= 0 && seat.row < venue.rows && seat.col >= 0 && seat.col < venue.cols) {
      cells[seat.row][seat.col] = seat.id;
    }
  }
  grid.cells = cells;

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

  // A CSS custom property set through the CSSOM: allowed by the page's CSP (style-src 'self').
  dom.grid.style.setProperty('--cols', String(venue.cols));
  dom.grid.replaceChildren(frag);
  dom.grid.removeAttribute('aria-busy');
  if (focusedId && seatButtons.has(focusedId)) seatButtons.get(focusedId).focus();
  markDrawn();
}

export function renderSeat(id) {
  if (venue.drawn === 'canvas') repaintSeat(id);
  const button = seatButtons.get(id);
  const seat = venue.seats.get(id);
  if (!button || !seat) return;
  const kind = classify(seat);
  // Only write what changed: this runs for every held seat every second.
  setAttr(button, 'data-status', kind);
  setAttr(button, 'aria-label', seatLabel(seat, kind));
  setAttr(button, 'aria-busy', requests.isBusy(id) ? 'true' : null);
  // Waiting room: not your turn. Still focusable (arrow keys, the state is still read out),
  // with the reason as its description; the accessible name stays the contract's.
  const locked = seatLocked(kind);
  setAttr(button, 'aria-disabled', locked ? 'true' : null);
  setAttr(button, 'aria-describedby', locked ? 'queue-seat-note' : null);
  // Choosing several: every seat says whether it is picked (a toggle while the mode is on).
  const choosing = picks.on || picks.seats.size > 0;
  setAttr(button, 'aria-pressed', choosing && kind === 'available' ? String(picks.seats.has(id)) : null);
  setAttr(button, 'data-picked', picks.seats.has(id) ? 'true' : null);
  setAttr(button, 'data-best', best.seats.has(id) ? 'true' : null);
}

/** A short ring on seats changed by someone else, so live changes catch the eye. */
export function flashSeat(id) {
  const button = seatButtons.get(id);
  if (!button) return;
  button.classList.remove('flash');
  void button.offsetWidth; // restart the animation
  button.classList.add('flash');
}

// ---------------------------------------------------------------------------------------
// Side panels, counters, identity
// ---------------------------------------------------------------------------------------

function renderBookings() {
  const mine = seatsOfKind('booked-by-you');
  const key = mine.join(',');
  if (dom.bookings.dataset.key === key) return;
  dom.bookings.dataset.key = key;
  dom.bookings.replaceChildren(...mine.map((id) => el('li', { text: id })));
  dom.bookingsEmpty.hidden = mine.length > 0;
}

function renderCounts() {
  const available = String(venue.tally.available);
  const total = String(venue.seats.size);
  if (dom.available.textContent !== available) dom.available.textContent = available;
  if (dom.total.textContent !== total) dom.total.textContent = total;
}

export function renderIdentity() {
  dom.userId.textContent = me.userId || '—';
  dom.edgeId.textContent = me.edgeId || '—';
}

/** Everything that depends on the whole venue (after a snapshot or an identity change). */
export function renderAll() {
  retally();
  for (const id of seatButtons.keys()) renderSeat(id);
  if (venue.drawn === 'canvas') repaintAll();
  renderSideAndCounts();
}

export function renderSideAndCounts() {
  renderHolds();
  renderBookings();
  renderCounts();
}

/** Once a second: the countdowns of held seats. */
export function renderCountdowns() {
  // Only the seats on screen as buttons say their seconds (the drawn map shows no countdown).
  for (const id of seatButtons.keys()) {
    if (venue.seats.get(id)?.status === STATUS.HELD) renderSeat(id);
  }
  if (venue.drawn === 'canvas') updateTip();
  tickHolds();
}

// ---------------------------------------------------------------------------------------
// Announcements and errors
// ---------------------------------------------------------------------------------------

/** Puts a message in a live region; clears it first so the same sentence twice is read out again. */
export function speak(region, message) {
  region.textContent = '';
  setTimeout(() => { region.textContent = message; }, 50);
}

/** Polite announcements for screen readers (results of your own actions). */
export function announce(message) {
  speak(dom.announcer, message);
}

/**
 * Shows an error (and reads it out). `action`: { label, run } adds a button that does what the
 * message suggests (and dismisses it).
 */
export function showError(message, { action } = {}) {
  // The same message again (say, several clicks on taken seats) replaces the old one.
  for (const existing of dom.errors.querySelectorAll('.error')) {
    if (existing.firstChild.textContent === message) existing.remove();
  }
  const text = el('span', { className: 'error-text', text: message });
  const dismiss = el('button', { type: 'button', className: 'link-button', text: 'Dismiss' });
  const suggestion = action && el('button', { type: 'button', className: 'link-button', text: action.label });
  const item = el('p', { className: 'error' }, suggestion ? [text, suggestion, dismiss] : [text, dismiss]);
  const remove = () => {
    item.remove();
    dom.errors.hidden = dom.errors.childElementCount === 0;
  };
  dismiss.addEventListener('click', remove);
  if (suggestion) {
    suggestion.addEventListener('click', () => {
      remove();
      action.run();
    });
  }
  setTimeout(remove, ERROR_TTL_MS);

  dom.errors.prepend(item);
  while (dom.errors.childElementCount > MAX_ERRORS) dom.errors.lastElementChild.remove();
  dom.errors.hidden = false;
  announce(message);
}

export function friendlyError(code, seatId, message) {
  const make = ERROR_TEXT[code];
  if (make) return make(seatId, message);
  return message || `Something went wrong${code ? ` (${code})` : ''}.`;
}

// ---------------------------------------------------------------------------------------
// Connection status
// ---------------------------------------------------------------------------------------

export function connectionState() {
  if (conn.welcomed && conn.synced) return 'connected';
  if (conn.browserOffline) return 'offline';
  return conn.everClosed ? 'reconnecting' : 'connecting';
}

export function renderConnection() {
  const state = connectionState();
  let text = state;
  if (state === 'connecting') text = 'connecting…';
  if (state === 'reconnecting') {
    text = conn.retryAt
      ? `reconnecting in ${Math.max(1, Math.ceil((conn.retryAt - Date.now()) / 1000))}s`
      : 'reconnecting…';
  }
  if (state === 'offline') text = conn.retryAt ? 'offline, retrying' : 'offline';
  // Connected to an edge that says it may be behind (STATUS): commands still work.
  const catchingUp = state === 'connected' && !conn.live;
  if (catchingUp) text = 'catching up…';
  setAttr(dom.conn, 'data-live', catchingUp ? 'false' : 'true');
  setAttr(dom.conn, 'data-state', state);
  setAttr(document.body, 'data-conn', state);
  if (dom.conn.textContent !== text) dom.conn.textContent = text;
  dom.retry.hidden = !conn.retryAt;
}
