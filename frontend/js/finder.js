// The keyboard and screen-reader path to every seat of a drawn (canvas) map: choose a section,
// then a row (two native <select>s), and the row's seats are buttons in #seat-grid, each named
// as the contract says. Only one row's buttons exist at a time; arrow keys move along the row,
// up and down to the next row, Page Up and Page Down to the next section. The focused seat is
// ringed on the canvas and brought into view.
import { setFocus, showSeat } from './chart-view.js';
import { el } from './dom.js';
import { dom, seatButtons, venue } from './state.js';

export const finder = { section: 0, row: 0 };
let renderSeat = () => {};

/** `render(id)` gives a new seat button its state and name (view.js's renderSeat). */
export function configureFinder({ render }) {
  renderSeat = render;
}

function option(value, text) {
  return el('option', { value: String(value), text });
}

/** Fills the section list for the venue just loaded and shows its first row. */
export function buildFinder() {
  const sections = venue.chart.sections.map((s) => {
    const cats = new Set(s.rows.flatMap((r) => r.seats.map((seat) => seat.cat)));
    const prices = [...cats].map((c) => venue.chart.categories[c]).filter(Boolean);
    const from = prices.sort((a, b) => a.price - b.price)[0];
    const price = from && venue.layout === 'chart' ? `, from ${from.priceText}` : '';
    return option(s.index, `${s.label}${price}`);
  });
  dom.finderSection.replaceChildren(...sections);
  finder.section = -1;
  showRow(0, 0);
}

function fillRows(section) {
  const rows = venue.chart.sections[section].rows.map((r) => option(r.index, `Row ${r.label}`));
  dom.finderRow.replaceChildren(...rows);
}

/**
 * Shows one row's seats as buttons (the section and row lists follow). `focusPos`: the seat to
 * focus afterwards, by its place in the row (clamped), or null to leave focus where it is.
 */
export function showRow(section, row, focusPos = null) {
  const sec = venue.chart.sections[section];
  if (!sec || !sec.rows[row]) return;
  if (finder.section !== section) fillRows(section);
  finder.section = section;
  finder.row = row;
  dom.finderSection.value = String(section);
  dom.finderRow.value = String(row);

  const seats = sec.rows[row].seats;
  seatButtons.clear();
  const buttons = [];
  for (const seat of seats) {
    buttons.push(seatButton(seat));
    if (seat.aisleAfter) buttons.push(el('span', { className: 'aisle', 'aria-hidden': 'true' }));
  }
  dom.grid.setAttribute('aria-label', `Seats in ${sec.label}, row ${sec.rows[row].label}`);
  dom.grid.replaceChildren(...buttons);
  for (const id of seatButtons.keys()) renderSeat(id);
  if (focusPos != null) {
    const target = seats[Math.max(0, Math.min(seats.length - 1, focusPos))];
    focusSeat(target);
  }
}

function seatButton(seat) {
  if (seat.blocked) {
    // Never for sale: reachable and named, but not a seat anyone can choose.
    const label = `${seat.id}, ${blockedPlace(seat)}, not for sale`;
    return el('button', {
      type: 'button', className: 'seat seat-blocked', 'aria-disabled': 'true', 'aria-label': label,
      dataset: { blockedSeat: seat.id }, text: seat.number,
    });
  }
  const button = el('button', { type: 'button', className: 'seat', dataset: { seat: seat.id }, text: seat.number });
  const category = venue.chart.categories[seat.cat];
  if (category) button.style.setProperty('--fill', category.color); // the CSSOM: allowed by the CSP
  seatButtons.set(seat.id, button);
  return button;
}

function blockedPlace(seat) {
  const sec = venue.chart.sections[seat.section];
  return `section ${sec.id}, row ${sec.rows[seat.row].label}, seat ${seat.number}`;
}

function buttonOf(seat) {
  return dom.grid.querySelector(`[data-seat="${CSS.escape(seat.id)}"], [data-blocked-seat="${CSS.escape(seat.id)}"]`);
}

function focusSeat(seat) {
  const button = seat && buttonOf(seat);
  if (button) button.focus();
}

/** Shows the row of a chart seat (after a click on the canvas, say). */
export function revealSeat(seat) {
  if (finder.section !== seat.section || finder.row !== seat.row) showRow(seat.section, seat.row);
}

/** A seat button got focus: ring it on the canvas and bring it into view. */
function onFocusIn(event) {
  const id = event.target.dataset && (event.target.dataset.seat || event.target.dataset.blockedSeat);
  const seat = id && venue.chart && venue.chart.byId.get(id);
  if (!seat) return;
  setFocus(seat);
  showSeat(seat);
}

/** Moves along a row, to the next row or the next section, from the focused seat. */
function onKeydown(event) {
  const id = event.target.dataset && (event.target.dataset.seat || event.target.dataset.blockedSeat);
  const seat = id && venue.chart && venue.chart.byId.get(id);
  if (!seat) return;
  const sections = venue.chart.sections;
  const rows = sections[seat.section].rows;
  const inRow = rows[seat.row].seats;
  const moves = {
    ArrowLeft: () => focusSeat(inRow[seat.pos - 1]),
    ArrowRight: () => focusSeat(inRow[seat.pos + 1]),
    Home: () => focusSeat(inRow[0]),
    End: () => focusSeat(inRow[inRow.length - 1]),
    ArrowUp: () => seat.row > 0 && showRow(seat.section, seat.row - 1, seat.pos),
    ArrowDown: () => seat.row < rows.length - 1 && showRow(seat.section, seat.row + 1, seat.pos),
    PageUp: () => seat.section > 0 && showRow(seat.section - 1, 0, 0),
    PageDown: () => seat.section < sections.length - 1 && showRow(seat.section + 1, 0, 0),
  };
  const move = moves[event.key];
  if (!move) return;
  event.preventDefault();
  move();
}

/** Wires the section and row lists and the seat buttons' keys. */
export function bindFinder() {
  dom.finderSection.addEventListener('change', () => showRow(Number(dom.finderSection.value), 0));
  dom.finderRow.addEventListener('change', () => showRow(finder.section, Number(dom.finderRow.value)));
  dom.grid.addEventListener('focusin', onFocusIn);
  dom.grid.addEventListener('focusout', () => setFocus(null));
  dom.grid.addEventListener('keydown', (event) => {
    if (venue.drawn === 'canvas') onKeydown(event);
  });
}
