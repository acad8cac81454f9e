// Browser tests for the drawn seat map on a real venue: the arena chart (venues/arena.json,
// 11,888 seats for sale) that ./start.sh serves as /?venue=arena, against the whole running
// stack. Each person is a browser context (its own identity); every check waits on what the
// page shows: the canvas's pixels, the tooltip, the finder's seat buttons and their aria-labels.
// Also: the page asks for compact states, and shows a compact VENUE_STATE and MINE as it shows
// the full form. Fixtures and helpers: lib/page.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arenaChart, chooseRow, openArena, seatsWhere } from './lib/arena.mjs';
import {
  DESKTOP, MOBILE, WAIT_MS, assertNoErrors, holdEntry, openViewer, shot, text, useBrowser,
  waitConnected, waitSeat,
} from './lib/page.mjs';

useBrowser();

const FILL = { held: '#c3c8d0', booked: '#868d99', heldByYou: '#ffb400', blocked: '#eceef2' };

/**
 * Fit, then focus the seat's button: the map zooms in on it and puts it in the middle. A chart
 * seat's row is chosen first; a grid seat's row must be the one shown.
 */
async function centreOn(page, seatId) {
  const [section, row] = seatId.split('-');
  await page.locator('#zoom-fit').click();
  if (row) await chooseRow(page, section, row);
  await page.locator(`#seat-grid [data-seat="${seatId}"], #seat-grid [data-blocked-seat="${seatId}"]`).focus();
  await page.locator('#chart-view').scrollIntoViewIfNeeded(); // focusing the button may have scrolled
  const box = await page.locator('#chart-view').boundingBox();
  return { x: box.x + box.width / 2, y: box.y + box.height / 2, box };
}

/** The colour the seats layer shows at a point of the page (CSS px), as #rrggbb. */
async function pixelAt(page, x, y) {
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  return page.evaluate(({ x, y }) => {
    const canvas = document.getElementById('chart-seats');
    const rect = canvas.getBoundingClientRect();
    const k = canvas.width / rect.width;
    const [r, g, b] = canvas.getContext('2d').getImageData(Math.round((x - rect.left) * k), Math.round((y - rect.top) * k), 1, 1).data;
    return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  }, { x, y });
}

async function tipAt(page, x, y) {
  await page.mouse.move(x, y);
  await page.locator('#chart-tip').waitFor({ state: 'visible', timeout: WAIT_MS });
  return text(page, '#chart-tip');
}

/** The map's zoom (px per chart unit) once what was asked has been painted. */
async function zoom(page) {
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  return Number(await page.locator('#chart-view').getAttribute('data-zoom'));
}

/** Waits until the map's zoom (px per chart unit, data-zoom) is about `want`, or above `above`. */
async function waitZoom(page, { want, above }, what) {
  try {
    await page.waitForFunction(({ want, above }) => {
      const z = Number(document.getElementById('chart-view').dataset.zoom);
      return above != null ? z > above : Math.abs(z - want) < 0.02;
    }, { want, above }, { timeout: WAIT_MS });
  } catch (err) {
    throw new Error(`${what}: zoom is ${await zoom(page)}, wanted ${above != null ? `above ${above}` : want}`, { cause: err });
  }
}

function assertClean(viewer) {
  assert.deepEqual(viewer.console, [], `${viewer.name}: console errors`);
  assert.deepEqual(viewer.csp, [], `${viewer.name}: CSP violations`);
}

// ---------------------------------------------------------------------------------------

test('the arena draws: every seat, categories with prices, blocked and wheelchair seats, names on hover', async () => {
  const json = await arenaChart();
  const a = await openArena('A');
  const forSale = seatsWhere(json, (s) => !s.blocked).length;
  assert.equal(await text(a.page, '#total-count'), String(forSale));
  assert.equal(await text(a.page, '#available-count'), String(forSale));
  const legend = await text(a.page, '#chart-legend');
  for (const c of json.categories) {
    assert.ok(legend.includes(`${c.label} ${(c.price / 100).toFixed(2)} ${c.currency}`), `legend: ${c.label} and its price in "${legend}"`);
  }
  assert.ok(legend.includes('Not for sale') && legend.includes('Wheelchair'), legend);

  // A seat for sale: its category's colour, and named on hover as the contract words it.
  const seat = seatsWhere(json, (s, sec, row) => sec.id === '104' && row.label === 'C' && !s.blocked)[4];
  const category = json.categories.find((c) => c.id === seat.category);
  const at = await centreOn(a.page, seat.id);
  assert.equal(await pixelAt(a.page, at.x + 3, at.y), category.color.toLowerCase(), `${seat.id} in ${category.label}'s colour`);
  const words = `${seat.id}, section 104, row C, seat ${seat.number}, ${category.label}, ${(category.price / 100).toFixed(2)} ${category.currency}, available`;
  assert.equal(await tipAt(a.page, at.x, at.y), words);
  assert.equal(await a.page.locator(`#seat-grid [data-seat="${seat.id}"]`).getAttribute('aria-label'), words);

  // A blocked seat: drawn as not for sale, named so, and not a seat anyone can choose.
  const blocked = seatsWhere(json, (s) => s.blocked)[0];
  const b = await centreOn(a.page, blocked.id);
  assert.equal(await pixelAt(a.page, b.x + 3, b.y), FILL.blocked);
  const blockedButton = a.page.locator(`#seat-grid [data-blocked-seat="${blocked.id}"]`);
  assert.equal(await blockedButton.getAttribute('aria-disabled'), 'true');
  assert.match(await blockedButton.getAttribute('aria-label'), new RegExp(`^${blocked.id}, section .*, not for sale$`));

  // A wheelchair space: its button says where it is; the map draws it square (a corner is filled).
  const wheelchair = seatsWhere(json, (s) => s.accessible && !s.blocked)[0];
  const w = await centreOn(a.page, wheelchair.id);
  const scale = await zoom(a.page);
  const corner = await pixelAt(a.page, w.x + 0.36 * scale, w.y + 0.36 * scale);
  assert.notEqual(corner, '#ffffff', 'a wheelchair space is square: its corner is painted');
  await a.page.locator('#zoom-fit').click();
  await a.page.mouse.move(0, 0);
  await a.page.screenshot({ path: shot('arena.png'), fullPage: true });
  await assertNoErrors(a);
  assertClean(a);
});

test('a hold in one browser shows in the other, on the map and on the seat button', async () => {
  const a = await openArena('A');
  const b = await openArena('B');
  await chooseRow(a.page, '112', 'F');
  await a.page.locator('#seat-grid [data-seat="112-F-14"]').click();
  const place = '112-F-14, section 112, row F, seat 14, Lower tier, 65.00 EUR';
  await waitSeat(a.page, '112-F-14', 'held-by-you', { startsWith: `${place}, held by you, `, includes: 'seconds left' });
  await holdEntry(a.page, '112-F-14').waitFor({ timeout: WAIT_MS });

  await chooseRow(b.page, '112', 'F');
  await waitSeat(b.page, '112-F-14', 'held', { startsWith: `${place}, held, `, includes: 'seconds left' });
  const at = await centreOn(b.page, '112-F-14');
  assert.equal(await pixelAt(b.page, at.x + 3, at.y), FILL.held, "B's map shows it held");
  const mine = await centreOn(a.page, '112-F-14');
  assert.equal(await pixelAt(a.page, mine.x + 3, mine.y), FILL.heldByYou, "A's map shows it as A's");
  const available = Number(await text(b.page, '#total-count')) - 1;
  await b.page.waitForFunction((want) => document.getElementById('available-count').textContent.trim() === String(want),
    available, { timeout: WAIT_MS });
  await b.page.screenshot({ path: shot('arena-held-by-other.png') });
  assertClean(a);
  assertClean(b);
});

test('zoom and pan: wheel, buttons, keys, drag, pinch and fit; a click on the map holds the seat under it', async () => {
  const json = await arenaChart();
  const a = await openArena('A', { contextOptions: { hasTouch: true } });
  const page = a.page;
  const fitted = await zoom(page);
  const box = await page.locator('#chart-view').boundingBox();
  const mid = { x: box.x + box.width / 2, y: box.y + box.height / 2 };

  await page.mouse.move(mid.x, mid.y);
  await page.mouse.wheel(0, -500);
  await waitZoom(page, { above: fitted * 1.5 }, 'the wheel zooms in');
  await page.locator('#zoom-fit').click();
  await waitZoom(page, { want: fitted }, 'Fit');
  await page.locator('#zoom-in').click();
  await waitZoom(page, { want: fitted * 1.5 }, 'the + button zooms in 1.5 times');
  await page.locator('#zoom-out').click();
  await waitZoom(page, { want: fitted }, 'the − button zooms back out');
  await page.locator('#chart-view').focus();
  await page.keyboard.press('+');
  await waitZoom(page, { want: fitted * 1.5 }, 'the + key zooms in');
  await page.keyboard.press('0');
  await waitZoom(page, { want: fitted }, '0 fits the venue again');

  // Pinch with two fingers, spreading them: zooms in.
  const cdp = await a.context.newCDPSession(page);
  const touch = (type, spread) => cdp.send('Input.dispatchTouchEvent', {
    type, touchPoints: type === 'touchEnd' ? [] : [{ x: mid.x - spread, y: mid.y }, { x: mid.x + spread, y: mid.y }],
  });
  await touch('touchStart', 20);
  for (const spread of [40, 60, 80, 100]) await touch('touchMove', spread);
  await touch('touchEnd', 0);
  await waitZoom(page, { above: fitted * 3 }, 'a pinch zooms in');

  // Drag: the seat under the pointer moves with it; the arrow keys move the map too.
  const seat = seatsWhere(json, (s, sec, row) => sec.id === '104' && row.label === 'C' && !s.blocked)[6];
  const at = await centreOn(page, seat.id);
  assert.ok((await tipAt(page, at.x, at.y)).startsWith(`${seat.id}, `));
  await page.mouse.down();
  await page.mouse.move(at.x - 60, at.y + 20, { steps: 5 });
  await page.mouse.move(at.x - 120, at.y + 40, { steps: 5 });
  await page.mouse.up();
  assert.ok((await tipAt(page, at.x - 120, at.y + 40)).startsWith(`${seat.id}, `), 'the seat moved with the drag');
  await page.locator('#chart-view').focus();
  await page.keyboard.press('ArrowLeft'); // the map moves right
  assert.ok((await tipAt(page, at.x - 40, at.y + 40)).startsWith(`${seat.id}, `), 'ArrowLeft moved the map 80 px');

  // A click (no drag) on the map picks the seat under it.
  await page.mouse.click(at.x - 40, at.y + 40);
  await page.locator(`#seat-grid [data-seat="${seat.id}"]`).waitFor();
  await waitSeat(page, seat.id, 'held-by-you');
  await holdEntry(page, seat.id).waitFor({ timeout: WAIT_MS });
  await page.screenshot({ path: shot('arena-zoomed.png') });
  assertClean(a);
});

test('by keyboard alone: section, row, then seat, to a far section, and hold it', async () => {
  const json = await arenaChart();
  const a = await openArena('A');
  const b = await openArena('B');
  const page = a.page;
  const last = json.sections[json.sections.length - 1];
  const lastRow = last.rows[last.rows.length - 1];
  const target = lastRow.seats.filter((s) => s !== 'aisle').pop();
  assert.ok(!target.blocked, `${target.id} is for sale`);

  await page.locator('#finder-section').focus();
  await page.keyboard.press('End'); // the last section
  await page.keyboard.press('Tab');
  await page.keyboard.press('End'); // its last row
  await page.keyboard.press('Tab'); // its first seat
  assert.equal(await page.evaluate(() => document.activeElement.dataset.seat), lastRow.seats.find((s) => s !== 'aisle').id);
  await page.keyboard.press('End'); // the last seat of the row
  assert.equal(await page.evaluate(() => document.activeElement.dataset.seat), target.id);
  const label = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  assert.ok(label.startsWith(`${target.id}, section ${last.id}, row ${lastRow.label}, seat ${target.number}, `), label);
  assert.ok(label.endsWith(', available'), label);
  // The map shows where focus is: the tooltip names the seat.
  await page.locator('#chart-tip').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.ok((await text(page, '#chart-tip')).startsWith(`${target.id}, `));

  await page.keyboard.press('Enter');
  await waitSeat(page, target.id, 'held-by-you', { startsWith: `${target.id}, section ${last.id}, ` });
  await page.waitForFunction((id) => document.getElementById('announcer').textContent.startsWith(`${id} held for`),
    target.id, { timeout: WAIT_MS });
  await chooseRow(b.page, last.id, lastRow.label);
  await waitSeat(b.page, target.id, 'held');

  // Up goes to the row in front, Page Up to the section before; focus follows.
  await page.locator(`#seat-grid [data-seat="${target.id}"]`).focus();
  await page.keyboard.press('ArrowUp');
  const upRow = last.rows[last.rows.length - 2].label;
  assert.ok((await page.evaluate(() => document.activeElement.dataset.seat)).startsWith(`${last.id}-${upRow}-`));
  await page.keyboard.press('PageUp');
  const before = json.sections[json.sections.length - 2];
  assert.ok((await page.evaluate(() => document.activeElement.dataset.seat || document.activeElement.dataset.blockedSeat))
    .startsWith(`${before.id}-${before.rows[0].label}-`));
  assertClean(a);
  assertClean(b);
});

test('375 px: no sideways scroll, the map fits, seats big enough for a thumb, a tap holds', async () => {
  const phone = await openArena('phone', { viewport: MOBILE, contextOptions: { hasTouch: true, isMobile: true } });
  const page = phone.page;
  const layout = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    map: document.getElementById('chart-view').getBoundingClientRect().right,
  }));
  assert.ok(layout.scroll <= 375, `page is ${layout.scroll} px wide`);
  assert.ok(layout.map <= 375, `the map ends at ${layout.map} px`);

  await chooseRow(page, '205', 'D');
  const button = page.locator('#seat-grid [data-seat="205-D-5"]');
  const size = await button.boundingBox();
  assert.ok(size.width >= 40 && size.height >= 40, `a seat button is ${size.width}x${size.height}`);
  await button.tap();
  await waitSeat(page, '205-D-5', 'held-by-you');

  // Tapping the whole venue, where seats are a few pixels wide, zooms in and holds nothing.
  await page.locator('#zoom-fit').tap();
  const fitted = await zoom(page);
  const box = await page.locator('#chart-view').boundingBox();
  await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 3);
  await waitZoom(page, { above: fitted * 2 }, 'a tap on the whole venue zooms in');
  assert.equal(await text(page, '#available-count'), String(Number(await text(page, '#total-count')) - 1), 'only 205-D-5 is held');

  // Tapping a seat big enough for a thumb: focus it (the map zooms to it), then tap it.
  const at = await centreOn(page, '205-D-7');
  await page.touchscreen.tap(at.x, at.y);
  await waitSeat(page, '205-D-7', 'held-by-you');
  await holdEntry(page, '205-D-7').getByRole('button', { name: 'Book', exact: true }).tap();
  await waitSeat(page, '205-D-7', 'booked-by-you');
  await page.screenshot({ path: shot('arena-mobile.png'), fullPage: true });
  assertClean(phone);
});

test('compact states: the page asks for them, and shows a compact VENUE_STATE and MINE', async () => {
  const frames = [];
  let socket;
  const a = await openViewer('A', {
    viewport: DESKTOP,
    setup: async (context) => {
      await context.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        socket = ws;
        ws.onMessage((m) => { frames.push(JSON.parse(String(m))); server.send(m); });
        server.onMessage((m) => ws.send(m));
      });
    },
  });
  const connect = frames.find((f) => f.type === 'CONNECT');
  assert.equal(connect.data.state, 'compact', 'CONNECT asks for compact states');
  const seq = 1_000_000; // ahead of anything real, in a new epoch
  const status = '1' + '2' + '1' + '2' + '0'.repeat(96); // A1 held, A2 booked, A3 held, A4 booked
  const expires = Math.floor(Date.now() / 1000) + 60;
  socket.send(JSON.stringify({ type: 'VENUE_STATE', data: {
    venue: 'main', seq, epoch: 42, layout: 'grid', state: 'compact', rows: 10, cols: 10, count: 100,
    status, held: [[0, expires], [2, expires]], server_time_ms: Date.now(),
  } }));
  socket.send(JSON.stringify({ type: 'MINE', data: { venue: 'main', seq, held: [{ id: 'A3', expires_at: expires }], booked: ['A4'] } }));
  await waitSeat(a.page, 'A1', 'held', { startsWith: 'A1, held, ', includes: 'seconds left' });
  await waitSeat(a.page, 'A2', 'booked', { startsWith: 'A2, booked' });
  await waitSeat(a.page, 'A3', 'held-by-you', { startsWith: 'A3, held by you, ' });
  await waitSeat(a.page, 'A4', 'booked-by-you');
  await holdEntry(a.page, 'A3').waitFor({ timeout: WAIT_MS });
  assert.equal(await text(a.page, '#my-bookings'), 'A4');
  assert.equal(await text(a.page, '#available-count'), '96');
  await waitConnected(a.page);
  assertClean(a);
});

test('a grid too big for a button per seat (50x50) is drawn like a chart, with the same keyboard path', async () => {
  // The stack serves no such grid, so this browser's socket and chart are given one: its chart
  // as the API answers a grid's (one section, unit spacing), and its state in the compact form.
  const rows = 50;
  const cols = 50;
  const label = (r) => (r < 26 ? String.fromCharCode(65 + r) : `A${String.fromCharCode(65 + r - 26)}`);
  const bigChart = {
    venue: 'main', layout: 'grid', title: 'main', focal_point: { x: 24.5, y: -2 }, single_seat_rule: false,
    categories: [{ id: 'standard', label: 'Standard', color: '#4a90d9', price: 0, currency: 'EUR' }],
    sections: [{ id: 'GRID', label: 'Seats', rows: Array.from({ length: rows }, (_, r) => ({
      label: label(r),
      seats: Array.from({ length: cols }, (_, c) => ({ id: `${label(r)}${c + 1}`, number: String(c + 1), x: c, y: r, category: 'standard' })),
    })) }],
  };
  let socket;
  const a = await openViewer('A', {
    setup: async (context) => {
      await context.route('**/api/venues/main/chart', (route) => route.fulfill({ json: bigChart }));
      await context.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        socket = ws;
        ws.onMessage((m) => server.send(m));
        server.onMessage((m) => ws.send(m));
      });
    },
  });
  const status = '0'.repeat(rows * cols).split('');
  status[rows * cols - 1] = '2'; // AX50 booked
  socket.send(JSON.stringify({ type: 'VENUE_STATE', data: {
    venue: 'main', seq: 1_000_000, epoch: 7, layout: 'grid', state: 'compact', rows, cols, count: rows * cols,
    status: status.join(''), held: [], server_time_ms: Date.now(),
  } }));
  socket.send(JSON.stringify({ type: 'MINE', data: { venue: 'main', seq: 1_000_000, held: [], booked: [] } }));
  await a.page.locator('#chart-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  await a.page.waitForFunction(() => document.getElementById('total-count').textContent === '2500', null, { timeout: WAIT_MS });
  assert.equal(await text(a.page, '#available-count'), '2499');
  assert.equal(await a.page.locator('#seat-grid button[data-seat]').count(), cols, 'one row of buttons, not 2,500');
  await a.page.selectOption('#finder-row', { label: `Row ${label(rows - 1)}` });
  await waitSeat(a.page, 'AX50', 'booked', { startsWith: 'AX50, booked' });
  await waitSeat(a.page, 'AX1', 'available', { startsWith: 'AX1, available' });
  // The whole grid fits at a readable size, so focus moves the map only for a seat out of view:
  // zoom in on the middle first, then the far corner's seat is brought to the centre.
  await a.page.locator('#zoom-fit').click();
  for (let i = 0; i < 3; i++) await a.page.locator('#zoom-in').click();
  await a.page.locator('#seat-grid [data-seat="AX50"]').focus();
  await a.page.locator('#chart-view').scrollIntoViewIfNeeded();
  const box = await a.page.locator('#chart-view').boundingBox();
  assert.equal(await pixelAt(a.page, box.x + box.width / 2 + 3, box.y + box.height / 2), FILL.booked);
  await a.page.screenshot({ path: shot('big-grid.png') });
  assertClean(a);
});
