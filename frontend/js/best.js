// Best available: the form (how many seats, a category or a section of the chart, a wheelchair
// space with companion seats), sending HOLD_BEST, and what it found: ringed on the map (or
// marked on the grid), brought into view, and said in words.
import { BEST_HIGHLIGHT_MS } from './config.js';
import { repaintOverlay, showSeats } from './chart-view.js';
import { el } from './dom.js';
import { revealSeat } from './finder.js';
import { best, dom, me, seatButtons, venue } from './state.js';
import { announce, renderSeat } from './view.js';
import { describeBlock, seatCount, totalText } from './words.js';

function option(value, text) {
  return el('option', { value: String(value), text });
}

/** The count list: 1 to the most seats one may hold (WELCOME's max_holds_per_user). */
export function renderBestCount() {
  const f = dom.best;
  const max = Math.max(1, me.maxHolds);
  if (f.count.options.length === max) return;
  const chosen = Number(f.count.value) || Math.min(2, max);
  f.count.replaceChildren(...Array.from({ length: max }, (_, i) => option(i + 1, String(i + 1))));
  f.count.value = String(Math.min(chosen, max));
}

/** After a venue's map is built: its categories and sections (a chart's; a grid has neither). */
export function buildBestForm() {
  const f = dom.best;
  const chart = venue.layout === 'chart' ? venue.chart : null;
  renderBestCount();
  const categories = chart ? chart.categories.map((c) => option(c.id, `${c.label}, ${c.priceText} a seat`)) : [];
  f.category.replaceChildren(option('', 'Any category'), ...categories);
  const sections = chart ? chart.sections.map((s) => option(s.id, s.label)) : [];
  f.section.replaceChildren(option('', 'Any section'), ...sections);
  f.categoryField.hidden = !chart;
  f.sectionField.hidden = !chart;
  f.accessibleField.hidden = !(chart && chart.seats.some((s) => s.accessible && !s.blocked));
  if (f.accessibleField.hidden) f.accessible.checked = false;
}

/** What the form asks for, and where in words (for a refusal: "in Lower tier, section 112"). */
function readForm() {
  const f = dom.best;
  const count = Number(f.count.value) || 1;
  const category = f.categoryField.hidden ? '' : f.category.value;
  const section = f.sectionField.hidden ? '' : f.section.value;
  const accessible = !f.accessibleField.hidden && f.accessible.checked;
  const places = [];
  if (category) places.push(`in ${f.category.selectedOptions[0].textContent.replace(/,.*$/, '')}`);
  if (section) places.push(`in ${f.section.selectedOptions[0].textContent}`);
  if (accessible) places.push('with a wheelchair space');
  return { count, category, section, accessible, where: places.join(', ') };
}

/** Best available was refused: the words are in the error; the form says nothing more. */
export function bestRefused() {
  dom.best.result.textContent = '';
  delete dom.best.result.dataset.state;
}

/** A refusal suggested best available: the form, with the count the person wanted. */
export function suggestBest(count) {
  const f = dom.best;
  if (count) f.count.value = String(Math.min(Math.max(1, count), f.count.options.length));
  f.form.scrollIntoView({ block: 'nearest' });
  f.count.focus();
}

function clearHighlight() {
  clearTimeout(best.timer);
  const had = Array.from(best.seats);
  best.seats.clear();
  had.forEach(renderSeat);
  repaintOverlay();
}

/** Marks what best available found for a while, brings it into view and says it. */
export function showBestResult(ids) {
  clearHighlight();
  for (const id of ids) best.seats.add(id);
  ids.forEach(renderSeat);
  best.timer = setTimeout(clearHighlight, BEST_HIGHLIGHT_MS);

  const placed = venue.chart ? ids.map((id) => venue.chart.byId.get(id)).filter(Boolean) : [];
  if (venue.drawn === 'canvas' && placed.length) {
    revealSeat(placed[0]); // the row's buttons, so the keyboard can carry on from there
    showSeats(placed);
    dom.chart.scrollIntoView({ block: 'nearest' });
  } else if (seatButtons.has(ids[0])) {
    seatButtons.get(ids[0]).scrollIntoView({ block: 'nearest' });
  }
  repaintOverlay();

  const where = describeBlock(venue.layout === 'chart' ? venue.chart : null, ids);
  const total = totalText(venue.chart, ids);
  const seconds = me.holdSeconds;
  dom.best.result.textContent = `Held for you: ${where}${total ? `, ${total} in all` : ''}.`;
  delete dom.best.result.dataset.state;
  announce(`Best available: ${seatCount(ids.length)} held together, ${where}${total ? `, ${total} in all` : ''}. `
    + `Held for ${seconds} seconds: book ${ids.length === 1 ? 'it' : 'them'} to keep ${ids.length === 1 ? 'it' : 'them'}.`);
}

/** Wires the form; `sendBest(request)` sends HOLD_BEST (commands.js). */
export function bindBest({ sendBest }) {
  const f = dom.best;
  renderBestCount();
  f.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const request = readForm();
    if (!sendBest(request)) return;
    f.result.textContent = `Looking for ${seatCount(request.count)} together…`;
    f.result.dataset.state = 'looking';
  });
}
