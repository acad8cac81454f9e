// What the page says about several seats at once: a list of seat ids in words, each seat's
// category and price, a basket's total (summed in integer minor units, per currency), where a
// block of seats is, and the group errors (the seats that stood in the way, in words).
// Pure: every function is given the chart model it needs (unit-tested in tests/page/words.test.mjs).
import { formatPrice } from './chart-model.js';

/** "D5", "D5 and D6", "D5, D6 and D7". */
export function listSeats(ids) {
  const list = Array.from(ids || []);
  if (list.length <= 1) return list.join('');
  return `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

export function seatCount(n) {
  return `${n} seat${n === 1 ? '' : 's'}`;
}

/**
 * A seat's category and price from a chart model (chart-model.js), or null when the venue has
 * no prices to show (no chart, or a grid: its one category is priced at nothing).
 */
export function seatPrice(chart, id) {
  if (!chart || chart.layout !== 'chart') return null;
  const seat = chart.byId.get(id);
  const category = seat && chart.categories[seat.cat];
  if (!category) return null;
  return { label: category.label, price: category.price, currency: category.currency, text: category.priceText };
}

/**
 * The total of some seats as people read it ("260.00 EUR"; "130.00 EUR + 45.00 GBP" when they
 * are priced in several currencies), summed in minor units so no fraction is lost; null when
 * no seat of them has a price.
 */
export function totalText(chart, ids) {
  const sums = new Map(); // currency -> minor units, in the order first met
  for (const id of ids) {
    const price = seatPrice(chart, id);
    if (price) sums.set(price.currency, (sums.get(price.currency) || 0) + price.price);
  }
  if (!sums.size) return null;
  return Array.from(sums, ([currency, minor]) => formatPrice(minor, currency)).join(' + ');
}

/**
 * Where a block of seats is, for an announcement: "section 112, row F, seats 13 to 16, Lower
 * tier" when they share a row of a chart; else the seat ids.
 */
export function describeBlock(chart, ids) {
  const seats = ids.map((id) => chart && chart.byId.get(id)).filter(Boolean);
  if (!chart || chart.layout !== 'chart' || seats.length !== ids.length || !seats.length) return listSeats(ids);
  const first = seats[0];
  if (!seats.every((s) => s.section === first.section && s.row === first.row)) return listSeats(ids);
  const section = chart.sections[first.section];
  const numbers = seats.map((s) => s.number);
  const where = seats.length === 1
    ? `seat ${numbers[0]}`
    : `seats ${numbers[0]} to ${numbers[numbers.length - 1]}`;
  const cats = new Set(seats.map((s) => s.cat));
  const category = cats.size === 1 ? chart.categories[first.cat] : null;
  return `section ${section.id}, row ${section.rows[first.row].label}, ${where}${category ? `, ${category.label}` : ''}`;
}

const areIs = (ids) => (ids.length === 1 ? 'is' : 'are');

/**
 * The words for a refused command on several seats (or best available): what stood in the way
 * (the error's `seat_ids`) and what to do. `asked`: { action, count, seatIds, where } of the
 * request ('where': "in Lower tier", say, for best available). Null for a code it has no words for.
 */
export function groupErrorText(code, seatIds, asked = {}) {
  const ids = Array.isArray(seatIds) ? seatIds : [];
  const them = listSeats(ids);
  const n = asked.count || (asked.seatIds ? asked.seatIds.length : 0);
  const none = asked.action === 'book' ? 'nothing was booked' : asked.action === 'release' ? 'nothing was released' : 'nothing was held';
  switch (code) {
    case 'NO_SEATS_TOGETHER':
      return `Right now there are no ${seatCount(n || 2)} side by side free${asked.where ? ` ${asked.where}` : ''}. `
        + 'Try fewer seats, or another category or section.';
    case 'SINGLE_SEAT_GAP':
      return `${asked.seatIds && asked.seatIds.length ? `Holding ${listSeats(asked.seatIds)}` : 'That choice'} would leave `
        + `${them || 'a seat'} on its own, and single seats between taken ones rarely sell. `
        + 'Choose seats next to each other that leave no single seat, or let Best available choose for you.';
    case 'SEAT_UNAVAILABLE':
      return ids.length ? `${them} ${areIs(ids)} held by someone else right now, so ${none}. Please choose other seats.` : null;
    case 'SEAT_BOOKED':
      return ids.length ? `${them} ${areIs(ids)} already taken, so ${none}. Please choose other seats.` : null;
    case 'SEAT_NOT_FOR_SALE':
      return ids.length ? `${them} ${areIs(ids)} not for sale, so ${none}.` : null;
    case 'NOT_HOLDER':
      return ids.length ? `You no longer hold ${them} (the hold may have run out), so ${none}.` : null;
    case 'MAX_HOLDS_EXCEEDED':
      return `You can hold at most ${asked.maxHolds || 'a few'} seats at once${ids.length ? `, and ${them} would take you past that` : ''}. `
        + 'Book or release some first, or ask for fewer.';
    default:
      return null;
  }
}
