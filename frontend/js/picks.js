// Choosing several seats to hold in one go: the "choose several" toggle, picking a seat (a click
// while it is on, a shift-click at any time), the tray of picked seats with "Hold them" (one
// SELECT_SEATS: all or nothing) and "Clear", and dropping picks that are no longer free.
import { repaintOverlay } from './chart-view.js';
import { classify, seatsOfKind } from './seats.js';
import { dom, me, picks, seatButtons, venue } from './state.js';
import { announce, renderSeat, showError } from './view.js';
import { listSeats, seatCount, totalText } from './words.js';

/** The tray: what is picked, its total, and the buttons (hidden while nothing is picked). */
export function renderPicks() {
  const t = dom.picks;
  const ids = Array.from(picks.seats);
  t.toggle.setAttribute('aria-pressed', String(picks.on));
  t.tray.hidden = ids.length === 0;
  t.hint.hidden = !picks.on || ids.length > 0;
  if (!ids.length) return;
  const total = totalText(venue.chart, ids);
  t.list.textContent = `Picked: ${listSeats(ids)}${total ? ` (${total})` : ''}.`;
  t.hold.textContent = ids.length === 1 ? 'Hold this seat' : `Hold these ${ids.length} seats together`;
}

/** Every seat button again: whether seats say "pressed" depends on the mode. */
function renderAllSeatButtons() {
  for (const id of seatButtons.keys()) renderSeat(id);
  repaintOverlay();
}

export function setChoosing(on) {
  picks.on = on;
  renderAllSeatButtons();
  renderPicks();
  announce(on
    ? 'Choosing several: each seat you choose is picked, not held. Then hold them together.'
    : `Choosing several is off: choosing a seat holds it at once.${picks.seats.size ? ` ${seatCount(picks.seats.size)} still picked.` : ''}`);
}

export function clearPicks({ quiet = false } = {}) {
  const had = Array.from(picks.seats);
  picks.seats.clear();
  had.forEach(renderSeat);
  renderPicks();
  repaintOverlay();
  if (!quiet && had.length) announce('Picks cleared.');
}

/** Picks a free seat, or unpicks a picked one. */
export function togglePick(id) {
  const seat = venue.seats.get(id);
  if (!seat) return;
  if (picks.seats.has(id)) {
    picks.seats.delete(id);
    announce(`${id} unpicked. ${seatCount(picks.seats.size)} picked.`);
  } else if (classify(seat) !== 'available') {
    showError(`${id} is not free, so it cannot be picked. Please choose a green seat.`);
    return;
  } else if (picks.seats.size + seatsOfKind('held-by-you').length >= me.maxHolds) {
    showError(`You can hold at most ${me.maxHolds} seats at once, counting those you hold already. `
      + 'Hold or clear your picks, or book or release a seat first.');
    return;
  } else {
    picks.seats.add(id);
    announce(`${id} picked. ${seatCount(picks.seats.size)} picked.`);
  }
  renderSeat(id);
  renderPicks();
  repaintOverlay();
}

/**
 * Picks that are no longer free leave the tray: silently when they are now yours (the hold went
 * through), with a word when someone else took them.
 */
export function prunePicks() {
  const taken = [];
  let changed = false;
  for (const id of Array.from(picks.seats)) {
    const seat = venue.seats.get(id);
    const kind = seat ? classify(seat) : 'gone';
    if (kind === 'available') continue;
    picks.seats.delete(id);
    changed = true;
    if (kind !== 'held-by-you') taken.push(id);
    if (seat) renderSeat(id);
  }
  if (!changed) return;
  renderPicks();
  repaintOverlay();
  if (taken.length) {
    announce(`${listSeats(taken)} ${taken.length === 1 ? 'was' : 'were'} taken by someone else, so ${taken.length === 1 ? 'it is' : 'they are'} no longer picked.`);
  }
}

/** Wires the toggle and the tray; `sendGroup(action, ids)` sends SELECT_SEATS (commands.js). */
export function bindPicks({ sendGroup }) {
  const t = dom.picks;
  t.toggle.addEventListener('click', () => setChoosing(!picks.on));
  t.hold.addEventListener('click', () => {
    if (picks.seats.size) sendGroup('select', Array.from(picks.seats));
  });
  t.clear.addEventListener('click', () => clearPicks());
  renderPicks();
}
