// User input: clicks and keys on seats (the grid's buttons, the finder's, a seat picked on the
// drawn map), on the basket (one hold, or all of them), the "choose several" tray and the best
// available form (picks.js, best.js), and the browser's own events (online/offline, leaving
// and returning to the page). What they set off is given to bindEvents: sending a command, and
// the transport's reconnect, stop and restart.
import { bindBest } from './best.js';
import { bindChart } from './chart-input.js';
import { bindFinder } from './finder.js';
import { bindPicks, togglePick } from './picks.js';
import { classify, seatLocked, seatsOfKind } from './seats.js';
import { conn, dom, grid, picks, seatButtons, venue } from './state.js';
import { announce, renderConnection } from './view.js';
import { explainLocked } from './waiting-room.js';

/**
 * A seat was chosen (click, tap, Enter). It is held at once, unless "choose several" is on or
 * shift was held: then it is picked (or unpicked) to be held with others in one go.
 */
function onSeatActivated(id, sendCommand, event) {
  const seat = venue.seats.get(id);
  if (!seat) return;
  const kind = classify(seat);
  if (seatLocked(kind)) {
    // The waiting room: not your turn (the button is aria-disabled and says why).
    explainLocked();
    return;
  }
  const picking = picks.on || (event && event.shiftKey);
  if (picking && kind !== 'held-by-you' && kind !== 'booked-by-you') {
    togglePick(id);
    return;
  }
  switch (kind) {
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
  if (venue.drawn !== 'buttons') return; // the finder's keys (finder.js)
  const id = event.target.dataset && event.target.dataset.seat;
  const seat = id && venue.seats.get(id);
  if (!seat) return;
  let target = null;
  if (ARROWS[event.key]) {
    const [dr, dc] = ARROWS[event.key];
    target = findSeat(seat.row, seat.col, dr, dc);
  } else if (event.key === 'Home') {
    target = event.ctrlKey ? venue.order[0] : grid.cells[seat.row].find(Boolean);
  } else if (event.key === 'End') {
    target = event.ctrlKey ? venue.order[venue.order.length - 1] : grid.cells[seat.row].filter(Boolean).pop();
  } else {
    return;
  }
  event.preventDefault(); // no page scrolling while moving in the grid
  if (target && seatButtons.has(target)) seatButtons.get(target).focus();
}

/** The next seat in a direction, skipping gaps in the layout. */
function findSeat(row, col, dr, dc) {
  for (let r = row + dr, c = col + dc; r >= 0 && r < venue.rows && c >= 0 && c < venue.cols; r += dr, c += dc) {
    if (grid.cells[r][c]) return grid.cells[r][c];
  }
  return null;
}

/**
 * `sendCommand(action, seatId)`, `sendGroup(action, seatIds)` and `sendBest(request)`
 * (commands.js); `reconnectNow()`, `stop()` and `restart()` of the transport (transport.js).
 */
export function bindEvents({ sendCommand, sendGroup, sendBest, reconnectNow, stop, restart }) {
  dom.grid.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-seat]');
    if (button) onSeatActivated(button.dataset.seat, sendCommand, event);
  });
  dom.grid.addEventListener('keydown', onGridKeydown);
  bindFinder();
  bindChart({ activate: (id, event) => onSeatActivated(id, sendCommand, event) });
  bindPicks({ sendGroup });
  bindBest({ sendBest });
  dom.grid.addEventListener('animationend', (event) => event.target.classList.remove('flash'));

  dom.holds.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    const item = button && button.closest('li[data-seat]');
    if (!item || button.getAttribute('aria-disabled') === 'true') return;
    sendCommand(button.dataset.action, item.dataset.seat);
  });
  // The basket's buttons for all your holds at once (one BOOK_SEATS or RELEASE_SEATS).
  for (const [button, action] of [[dom.basket.bookAll, 'book'], [dom.basket.releaseAll, 'release']]) {
    button.addEventListener('click', () => {
      if (button.getAttribute('aria-disabled') === 'true') return;
      const held = seatsOfKind('held-by-you');
      if (held.length) sendGroup(action, held);
    });
  }

  dom.retry.addEventListener('click', () => reconnectNow());

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
  window.addEventListener('pagehide', () => stop('page hidden'));
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) restart();
  });
}
