// The basket: your held seats, each with its category and price (a chart's; a grid has none)
// and its own Book and Release buttons, then the total, one countdown (to the hold that runs out
// first; an entry says its own seconds only when its hold runs out later) and Book all / Release all. Reads the state; the buttons' clicks are wired in input.js.
import { URGENT_SECONDS } from './config.js';
import { el, setAttr } from './dom.js';
import { plural, seatsOfKind } from './seats.js';
import { clock, dom, me, requests, seatButtons, venue } from './state.js';
import { seatCount, seatPrice, totalText } from './words.js';

/** Seconds left as the basket says them. */
function leftText(left) {
  return left == null ? 'held' : left === 0 ? 'expiring…' : `${plural(left, 'second')} left`;
}

function createHoldItem(id) {
  const seatEl = el('span', { className: 'hold-seat', id: `hold-${id}-seat`, text: id });
  const price = seatPrice(venue.chart, id);
  const placeEl = el('span', {
    className: 'hold-place', id: `hold-${id}-place`, text: price ? `${price.label}, ${price.text}` : '',
  });
  placeEl.hidden = !price;
  const timeEl = el('span', { className: 'hold-time', id: `hold-${id}-time` });
  const describedBy = `hold-${id}-seat ${price ? `hold-${id}-place ` : ''}hold-${id}-time`;
  const actions = el('div', { className: 'hold-actions' }, [
    el('button', { type: 'button', className: 'btn btn-primary', dataset: { action: 'book' }, 'aria-describedby': describedBy, text: 'Book' }),
    el('button', { type: 'button', className: 'btn btn-secondary', dataset: { action: 'release' }, 'aria-describedby': describedBy, text: 'Release' }),
  ]);
  return el('li', { className: 'hold', dataset: { seat: id } }, [seatEl, placeEl, timeEl, actions]);
}

/**
 * One entry: its seconds are shown only when its hold runs out later than the basket's one
 * countdown says (holds from one request share their expiry, so usually none is).
 */
function updateHoldItem(item, id, firstExpiry) {
  const seat = venue.seats.get(id);
  const left = clock.secondsLeft(seat.expires_at);
  const timeEl = item.querySelector('.hold-time');
  const own = seat.expires_at != null && seat.expires_at !== firstExpiry;
  const text = own ? leftText(left) : '';
  if (timeEl.textContent !== text) timeEl.textContent = text;
  timeEl.hidden = !own;
  timeEl.classList.toggle('urgent', left != null && left <= URGENT_SECONDS);
  const busy = requests.isBusy(id) ? 'true' : null;
  for (const button of item.querySelectorAll('button')) setAttr(button, 'aria-disabled', busy);
}

/** When the hold that runs out first does (unix seconds; null: none known). */
function firstExpiry(ids) {
  let first = null;
  for (const id of ids) {
    const at = venue.seats.get(id)?.expires_at;
    if (Number.isFinite(at) && (first == null || at < first)) first = at;
  }
  return first;
}

/** The total, the one countdown and the buttons for all of them. */
function renderSummary(ids) {
  const b = dom.basket;
  b.summary.hidden = ids.length === 0;
  if (!ids.length) return;
  const total = totalText(venue.chart, ids);
  b.totalLine.hidden = total == null;
  const totalWords = total == null ? '' : total;
  if (b.total.textContent !== totalWords) b.total.textContent = totalWords;
  const count = seatCount(ids.length);
  if (b.count.textContent !== count) b.count.textContent = count;

  const left = clock.secondsLeft(firstExpiry(ids));
  const countdown = left == null ? 'Held for you.'
    : left === 0 ? 'A hold is running out now.'
      : `${ids.length > 1 ? 'The first hold runs out' : 'Runs out'} in ${plural(left, 'second')}. Book to keep ${ids.length > 1 ? 'them' : 'it'}.`;
  if (b.countdown.textContent !== countdown) b.countdown.textContent = countdown;
  b.countdown.classList.toggle('urgent', left != null && left <= URGENT_SECONDS);
  const fraction = left == null ? 1 : Math.min(1, left / Math.max(1, me.holdSeconds));
  b.bar.style.setProperty('--left', fraction.toFixed(3));

  // One seat has its own Book and Release; several get a button for all of them too.
  b.allActions.hidden = ids.length < 2;
  const busy = ids.some((id) => requests.isBusy(id)) ? 'true' : null;
  const bookAll = `Book all ${ids.length}`;
  if (b.bookAll.textContent !== bookAll) b.bookAll.textContent = bookAll;
  const releaseAll = `Release all ${ids.length}`;
  if (b.releaseAll.textContent !== releaseAll) b.releaseAll.textContent = releaseAll;
  setAttr(b.bookAll, 'aria-disabled', busy);
  setAttr(b.releaseAll, 'aria-disabled', busy);
}

/** The basket from the state: entries added and removed, never moved (focus stays put). */
export function renderHolds() {
  const mine = seatsOfKind('held-by-you');
  const wanted = new Set(mine);
  let lostFocusFrom = null;
  const summaryHadFocus = dom.basket.allActions.contains(document.activeElement);

  for (const item of Array.from(dom.holds.children)) {
    if (wanted.has(item.dataset.seat)) continue;
    if (item.contains(document.activeElement)) lostFocusFrom = item.dataset.seat;
    item.remove();
  }

  // Existing entries are already in seat order, so only new entries are inserted and the
  // focused one is never moved (moving a node would drop keyboard focus).
  const first = firstExpiry(mine);
  mine.forEach((id, index) => {
    let item = dom.holds.querySelector(`li[data-seat="${CSS.escape(id)}"]`);
    if (!item) {
      item = createHoldItem(id);
      dom.holds.insertBefore(item, dom.holds.children[index] || null);
    }
    updateHoldItem(item, id, first);
  });

  dom.holdsEmpty.hidden = mine.length > 0;
  renderSummary(mine);
  // The entry you were on is gone (booked, released, expired): keep focus on that seat, or on
  // the basket's heading when the seat has no button now.
  if (lostFocusFrom && seatButtons.has(lostFocusFrom)) seatButtons.get(lostFocusFrom).focus();
  else if (lostFocusFrom || (summaryHadFocus && (dom.basket.summary.hidden || dom.basket.allActions.hidden))) {
    dom.holdsHeading.focus();
  }
}

/** Once a second: every entry's seconds and the basket's countdown. */
export function tickHolds() {
  const mine = seatsOfKind('held-by-you');
  const first = firstExpiry(mine);
  for (const item of dom.holds.children) updateHoldItem(item, item.dataset.seat, first);
  renderSummary(mine);
}
