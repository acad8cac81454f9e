// The page's chart model (js/chart-model.js): seat order, aisles, blocked seats, prices, labels,
// grid row labels and the seat under a point.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  buildChartModel, formatPrice, gridRowLabel, gridSeatOrder, seatAt, seatPlaceText,
} from '../../frontend/js/chart-model.js';

// The shape GET /api/venues/{venue}/chart answers (docs/http-api.md), small.
const CHART = {
  venue: 'hall', layout: 'chart', title: 'Small hall', focal_point: { x: 0, y: -5 },
  categories: [
    { id: 'front', label: 'Front', color: '#c0392b', price: 6500, currency: 'EUR' },
    { id: 'back', label: 'Back', color: '#2980b9', price: 3500, currency: 'EUR' },
  ],
  sections: [
    { id: 'BOX', label: 'Box', rows: [{ label: 'A', seats: [
      { id: 'BOX-A-1', number: '1', x: -12, y: 0, category: 'front', accessible: true },
      { id: 'BOX-A-2', number: '2', x: -11, y: 0, category: 'front', companion: true },
      'aisle',
      { id: 'BOX-A-3', number: '3', x: -9, y: 0, category: 'front', blocked: true },
    ] }] },
    { id: '101', label: 'Section 101', rows: [
      { label: 'A', seats: [
        { id: '101-A-1', number: '1', x: 0, y: 0, category: 'back' },
        { id: '101-A-2', number: '2', x: 1, y: 0, category: 'back' },
      ] },
      { label: 'B', seats: [{ id: '101-B-1', number: '1', x: 0, y: 1, category: 'back', blocked: true },
        { id: '101-B-2', number: '2', x: 1, y: 1, category: 'back' }] },
    ] },
  ],
};

test('seat order for the compact state: sections, rows, seats, skipping aisles and blocked seats', () => {
  const model = buildChartModel(CHART);
  assert.deepEqual(model.saleIds, ['BOX-A-1', 'BOX-A-2', '101-A-1', '101-A-2', '101-B-2']);
  assert.equal(model.seats.length, 7, 'blocked seats are drawn too');
  assert.equal(model.byId.get('BOX-A-3').sale, -1);
  assert.equal(model.byId.get('101-B-2').sale, 4);
  assert.equal(model.byId.get('BOX-A-2').aisleAfter, true, 'the aisle follows seat 2');
  assert.equal(model.byId.get('BOX-A-1').accessible, true);
  assert.equal(model.sections[1].forSale, 3);
  // The seats, and the stage (24 x 5 units) drawn at the focal point: "fit" shows both.
  assert.deepEqual(model.stage, { x: -12, y: -7.5, w: 24, h: 5 });
  assert.deepEqual(model.bounds, { minX: -12, minY: -7.5, maxX: 12, maxY: 1 });
});

test('the place in words, as the aria-label and the tooltip say it', () => {
  const model = buildChartModel(CHART);
  assert.equal(seatPlaceText(model, model.byId.get('101-B-2')), 'section 101, row B, seat 2, Back, 35.00 EUR');
  assert.equal(formatPrice(6500, 'EUR'), '65.00 EUR');
  assert.equal(formatPrice(1200, 'JPY'), '1200 JPY');
});

test('the seat under a point: the nearest within reach, or none', () => {
  const model = buildChartModel(CHART);
  assert.equal(seatAt(model, 0.1, 0.9).id, '101-B-1');
  assert.equal(seatAt(model, 0.6, 0.1).id, '101-A-2');
  assert.equal(seatAt(model, -5, 0), null);
  assert.equal(seatAt(model, -5, 0, 5)?.id, 'BOX-A-3');
});

test('grid seat order and row labels as spreadsheets label columns', () => {
  assert.deepEqual([0, 25, 26, 27, 51, 52, 701].map(gridRowLabel), ['A', 'Z', 'AA', 'AB', 'AZ', 'BA', 'ZZ']);
  assert.deepEqual(gridSeatOrder(2, 3), ['A1', 'A2', 'A3', 'B1', 'B2', 'B3']);
  assert.equal(gridSeatOrder(100, 100)[9999], 'CV100');
});
