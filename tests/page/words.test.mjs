// Several seats in words (js/words.js): lists, prices and totals in minor units, where a block
// is, and the words for a refused group or best available.
import assert from 'node:assert/strict';
import test from 'node:test';
import { buildChartModel } from '../../frontend/js/chart-model.js';
import { describeBlock, groupErrorText, listSeats, seatPrice, totalText } from '../../frontend/js/words.js';

const chart = buildChartModel({
  venue: 'hall',
  layout: 'chart',
  focal_point: { x: 0, y: -5 },
  categories: [
    { id: 'front', label: 'Front', color: '#c0392b', price: 6550, currency: 'EUR' },
    { id: 'back', label: 'Back', color: '#2980b9', price: 3925, currency: 'EUR' },
    { id: 'yen', label: 'Yen seats', color: '#27ae60', price: 5000, currency: 'JPY' },
  ],
  sections: [{
    id: '112',
    rows: [
      { label: 'F', seats: [1, 2, 3, 4].map((n) => ({ id: `112-F-${n}`, number: String(n), x: n, y: 0, category: n < 4 ? 'front' : 'back' })) },
      { label: 'G', seats: [{ id: '112-G-1', number: '1', x: 1, y: 1, category: 'yen' }] },
    ],
  }],
});

test('a list of seats reads as a sentence', () => {
  assert.equal(listSeats([]), '');
  assert.equal(listSeats(['D5']), 'D5');
  assert.equal(listSeats(['D5', 'D6']), 'D5 and D6');
  assert.equal(listSeats(['D5', 'D6', 'D7']), 'D5, D6 and D7');
});

test('prices come from the seat\'s category; a total is summed in minor units, per currency', () => {
  assert.deepEqual(seatPrice(chart, '112-F-1'), { label: 'Front', price: 6550, currency: 'EUR', text: '65.50 EUR' });
  assert.equal(totalText(chart, ['112-F-1', '112-F-2', '112-F-4']), '170.25 EUR');
  assert.equal(totalText(chart, ['112-F-1', '112-G-1']), '65.50 EUR + 5000 JPY', 'yen have no minor digits');
  assert.equal(totalText(chart, []), null);
  assert.equal(totalText(null, ['D5']), null, 'no chart: no prices');
  const grid = buildChartModel({ layout: 'grid', categories: [{ id: 'standard', price: 0, currency: 'EUR' }], sections: [] });
  assert.equal(seatPrice(grid, 'A1'), null, 'a grid has no prices to show');
});

test('a block in one row is told by section, row and seat numbers', () => {
  assert.equal(describeBlock(chart, ['112-F-1', '112-F-2', '112-F-3']), 'section 112, row F, seats 1 to 3, Front');
  assert.equal(describeBlock(chart, ['112-F-3', '112-F-4']), 'section 112, row F, seats 3 to 4', 'two categories: none named');
  assert.equal(describeBlock(chart, ['112-F-4', '112-G-1']), '112-F-4 and 112-G-1', 'two rows: the ids');
  assert.equal(describeBlock(null, ['D4', 'D5']), 'D4 and D5');
});

test('group refusals name the seats that stood in the way and say what to do', () => {
  assert.equal(groupErrorText('SEAT_UNAVAILABLE', ['D6'], { action: 'select', seatIds: ['D5', 'D6'] }),
    'D6 is held by someone else right now, so nothing was held. Please choose other seats.');
  assert.equal(groupErrorText('SEAT_BOOKED', ['D6', 'D7'], { action: 'select' }),
    'D6 and D7 are already taken, so nothing was held. Please choose other seats.');
  assert.equal(groupErrorText('NOT_HOLDER', ['D5'], { action: 'book' }),
    'You no longer hold D5 (the hold may have run out), so nothing was booked.');
  assert.match(groupErrorText('MAX_HOLDS_EXCEEDED', ['D7', 'D8'], { maxHolds: 4 }), /^You can hold at most 4 seats at once, and D7 and D8 would take you past that\./);
  assert.equal(groupErrorText('NO_SEATS_TOGETHER', undefined, { action: 'best', count: 4, where: 'in Lower tier' }),
    'Right now there are no 4 seats side by side free in Lower tier. Try fewer seats, or another category or section.');
  assert.match(groupErrorText('SINGLE_SEAT_GAP', ['D1'], { seatIds: ['D2'] }),
    /^Holding D2 would leave D1 on its own, .* let Best available choose for you\.$/);
  assert.equal(groupErrorText('SEAT_UNAVAILABLE', [], {}), null, 'no seats named: the one-seat words instead');
  assert.equal(groupErrorText('RATE_LIMITED', ['D5'], {}), null);
});
