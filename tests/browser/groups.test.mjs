// Browser tests for seats bought together, against the whole running stack: choosing several
// seats and holding them in one go (SELECT_SEATS, all or nothing), the basket (each seat's
// category and price, the total, one countdown, book all, release one or all), best available
// (HOLD_BEST: the result held, ringed and brought into view). The single-seat rule's refusal in words
// is in single-seat-rule.test.mjs (a stack with SINGLE_SEAT_RULE=1). Two browser contexts are two people. Fixtures and helpers: lib/page.mjs, lib/arena.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arenaChart, chooseRow, openArena, seatsWhere } from './lib/arena.mjs';
import {
  WAIT_MS, assertNoErrors, clickSeat, holdEntry, openViewer, seatSelector, shot, text, useBrowser, waitSeat,
} from './lib/page.mjs';

useBrowser();

/** Seat ids in the basket, in its order. */
function basketSeats(page) {
  return page.locator('#my-holds li[data-seat]').evaluateAll((items) => items.map((li) => li.dataset.seat));
}

/** Waits until the announcer (the polite live region) says something starting with `start`. */
async function waitAnnounced(page, start) {
  try {
    await page.waitForFunction((s) => document.getElementById('announcer').textContent.startsWith(s), start, { timeout: WAIT_MS });
  } catch (err) {
    throw new Error(`the page did not announce "${start}…"; it says "${await text(page, '#announcer')}"`, { cause: err });
  }
}

/** A chart's prices summed in minor units, as the page writes an amount ("255.00 EUR"). */
function priceOf(json, ids) {
  const byId = new Map(seatsWhere(json, () => true).map((s) => [s.id, s]));
  const categories = new Map(json.categories.map((c) => [c.id, c]));
  let minor = 0;
  let currency = null;
  for (const id of ids) {
    const category = categories.get(byId.get(id).category);
    minor += category.price;
    currency = category.currency;
  }
  return `${(minor / 100).toFixed(2)} ${currency}`;
}

/** Where a chart seat is: its section, its row and its place in the row (aisles counted). */
function placeOf(json, id) {
  for (const section of json.sections) {
    for (const row of section.rows) {
      const index = row.seats.findIndex((s) => s !== 'aisle' && s.id === id);
      if (index >= 0) return { section, row, index };
    }
  }
  throw new Error(`${id} is not in the chart`);
}

test('choose several on the grid: three seats picked, held in one go, shown in the other browser, booked together', async () => {
  const a = await openViewer('A');
  const b = await openViewer('B');
  const toggle = a.page.getByRole('button', { name: 'Choose several' });
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');

  // Picked, not held: nothing changes for anyone yet.
  for (const id of ['D4', 'D5', 'D6']) await clickSeat(a.page, id);
  for (const id of ['D4', 'D5', 'D6']) {
    assert.equal(await a.page.locator(seatSelector(id)).getAttribute('aria-pressed'), 'true', `${id} is picked`);
    await waitSeat(a.page, id, 'available');
  }
  assert.equal(await text(a.page, '#picks-list'), 'Picked: D4, D5 and D6.');
  await waitSeat(b.page, 'D5', 'available');

  // The stack's holds last a few seconds (SEATMAP_HOLD_SECONDS): everything that needs them
  // held is checked at once, and the basket in one look, before booking.
  await a.page.getByRole('button', { name: 'Hold these 3 seats together' }).click();
  await Promise.all(['D4', 'D5', 'D6'].flatMap((id) => [
    waitSeat(a.page, id, 'held-by-you', { startsWith: `${id}, held by you, ` }),
    waitSeat(b.page, id, 'held', { startsWith: `${id}, held, ` }),
  ]));
  const basket = await a.page.evaluate(() => ({
    seats: [...document.querySelectorAll('#my-holds li[data-seat]')].map((li) => li.dataset.seat),
    trayHidden: document.getElementById('picks').hidden,
    countdown: document.getElementById('basket-countdown').textContent,
    totalHidden: document.getElementById('basket-total-line').hidden,
  }));
  await a.page.getByRole('button', { name: 'Book all 3' }).click();
  assert.deepEqual(basket.seats, ['D4', 'D5', 'D6']);
  assert.ok(basket.trayHidden, 'the picks tray is empty once they are held');
  assert.match(basket.countdown, /^The first hold runs out in \d+ seconds?\. Book to keep them\.$/);
  assert.ok(basket.totalHidden, 'a grid has no prices, so no total');
  for (const id of ['D4', 'D5', 'D6']) {
    await waitSeat(a.page, id, 'booked-by-you');
    await waitSeat(b.page, id, 'booked');
  }
  await waitAnnounced(a.page, '3 seats booked: D4, D5 and D6.');
  await a.page.locator('#basket-summary').waitFor({ state: 'hidden', timeout: WAIT_MS });
  assert.equal(await text(a.page, '#my-bookings'), 'D4D5D6');
  await assertNoErrors(a);
  await assertNoErrors(b);
});

test('a picked seat someone else takes leaves the picks, with a word', async () => {
  const a = await openViewer('A');
  const b = await openViewer('B');
  // Shift-click picks without turning the mode on.
  await a.page.locator(seatSelector('G3')).click({ modifiers: ['Shift'] });
  await a.page.locator(seatSelector('G4')).click({ modifiers: ['Shift'] });
  assert.equal(await text(a.page, '#picks-list'), 'Picked: G3 and G4.');
  await clickSeat(b.page, 'G4'); // B holds G4 at once
  await waitSeat(a.page, 'G4', 'held');
  await waitAnnounced(a.page, 'G4 was taken by someone else, so it is no longer picked.');
  assert.equal(await text(a.page, '#picks-list'), 'Picked: G3.');
  await a.page.getByRole('button', { name: 'Hold this seat' }).click();
  await waitSeat(a.page, 'G3', 'held-by-you');
  await assertNoErrors(a);
});

test('the basket on the arena: each seat\'s category and price, the total, release one, release all', async () => {
  const json = await arenaChart();
  const a = await openArena('A');
  const b = await openArena('B');
  const picked = ['FL1-A-1', 'FL1-A-2', '112-F-14'];
  await chooseRow(a.page, 'FL1', 'A');
  for (const id of picked.slice(0, 2)) await a.page.locator(seatSelector(id)).click({ modifiers: ['Shift'] });
  await chooseRow(a.page, '112', 'F');
  await a.page.locator(seatSelector('112-F-14')).click({ modifiers: ['Shift'] });
  assert.equal(await text(a.page, '#picks-list'), `Picked: FL1-A-1, FL1-A-2 and 112-F-14 (${priceOf(json, picked)}).`);

  await chooseRow(b.page, '112', 'F');

  // The stack's holds last a few seconds: what needs them held is checked at once.
  await a.page.getByRole('button', { name: 'Hold these 3 seats together' }).click();
  await Promise.all([
    waitSeat(a.page, '112-F-14', 'held-by-you'), // the row A's finder shows
    waitSeat(b.page, '112-F-14', 'held'),
    a.page.waitForFunction(() => document.querySelectorAll('#my-holds li[data-seat]').length === 3, null, { timeout: WAIT_MS }),
  ]);
  const basket = await a.page.evaluate(() => ({
    seats: [...document.querySelectorAll('#my-holds li[data-seat]')].map((li) => li.dataset.seat),
    total: document.getElementById('basket-total').textContent,
    count: document.getElementById('basket-count').textContent,
    floor: document.getElementById('hold-FL1-A-1-place').textContent,
    lower: document.getElementById('hold-112-F-14-place').textContent,
  }));
  // Release one: the total follows.
  await holdEntry(a.page, 'FL1-A-2').getByRole('button', { name: 'Release', exact: true }).click();
  await holdEntry(a.page, 'FL1-A-2').waitFor({ state: 'detached', timeout: WAIT_MS });
  const totalAfter = await text(a.page, '#basket-total');
  // Release all: the basket is empty and B sees the seats free again.
  await a.page.getByRole('button', { name: 'Release all 2' }).click();

  assert.deepEqual(basket.seats.sort(), [...picked].sort());
  assert.equal(basket.total, priceOf(json, picked), 'the total is the sum of the categories\' prices');
  assert.equal(basket.count, '3 seats');
  assert.equal(basket.floor, 'Floor, 95.00 EUR');
  assert.equal(basket.lower, 'Lower tier, 65.00 EUR');
  assert.equal(totalAfter, priceOf(json, ['FL1-A-1', '112-F-14']));
  await a.page.locator('#basket-summary').waitFor({ state: 'hidden', timeout: WAIT_MS });
  await waitSeat(b.page, '112-F-14', 'available');
  await a.page.screenshot({ path: shot('arena-basket.png'), fullPage: true });
  await assertNoErrors(a);
  await assertNoErrors(b);
});

test('best available for four in one browser: four seats side by side, held in the other, the total from the prices', async () => {
  const json = await arenaChart();
  const a = await openArena('A');
  const b = await openArena('B');
  const fitted = Number(await a.page.locator('#chart-view').getAttribute('data-zoom'));

  await a.page.getByLabel('How many seats').selectOption('4');
  await a.page.locator('#best-category').selectOption({ label: 'Lower tier, 65.00 EUR a seat' });
  await a.page.getByRole('button', { name: 'Find and hold seats' }).click();
  await waitAnnounced(a.page, 'Best available: 4 seats held together, section ');
  await a.page.waitForFunction(() => document.querySelectorAll('#my-holds li[data-seat]').length === 4, null, { timeout: WAIT_MS });
  const seats = await basketSeats(a.page);
  // The stack's holds last a few seconds: B looks at the four first.
  const { section, row } = placeOf(json, seats[0]);
  await chooseRow(b.page, section.id, row.label);
  await Promise.all(seats.flatMap((id) => [
    waitSeat(b.page, id, 'held', { startsWith: `${id}, section ${section.id}, row ${row.label}, ` }),
    waitSeat(a.page, id, 'held-by-you'),
  ]));

  // Side by side in one row of a Lower tier section: one section, one row, no aisle between.
  const places = seats.map((id) => placeOf(json, id));
  assert.ok(places.every((p) => p.row === places[0].row), `${seats.join(', ')} are in one row`);
  const indexes = places.map((p) => p.index).sort((x, y) => x - y);
  assert.deepEqual(indexes, indexes.map((_, i) => indexes[0] + i), `${seats.join(', ')} are side by side`);
  for (const id of seats) assert.equal(seatsWhere(json, (s) => s.id === id)[0].category, 'lower', `${id} is Lower tier`);
  assert.equal(await text(a.page, '#basket-total'), priceOf(json, seats), 'the total is four Lower tier prices');

  // Brought into view: zoomed in, the row's buttons shown, the four marked.
  assert.ok(Number(await a.page.locator('#chart-view').getAttribute('data-zoom')) > fitted, 'the map zoomed in on them');
  for (const id of seats) {
    assert.equal(await a.page.locator(seatSelector(id)).getAttribute('data-best'), 'true', `${id} is marked`);
  }
  assert.match(await text(a.page, '#best-result'), /^Held for you: section .*, row .*, seats .* to .*, Lower tier, 260\.00 EUR in all\.$/);
  await a.page.screenshot({ path: shot('arena-best.png'), fullPage: true });
  await assertNoErrors(a);
  await assertNoErrors(b);
});

test('best available by keyboard alone on the grid: the front row\'s middle, outlined, read out', async () => {
  const a = await openViewer('A');
  const b = await openViewer('B');
  const page = a.page;
  await page.locator('#best-count').focus();
  await page.keyboard.press('Home'); // 1
  await page.keyboard.press('ArrowDown'); // 2
  assert.equal(await page.locator('#best-count').inputValue(), '2');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'best-submit', 'a grid has no category or section to choose');
  await page.keyboard.press('Enter');
  await Promise.all(['A5', 'A6'].flatMap((id) => [waitSeat(page, id, 'held-by-you'), waitSeat(b.page, id, 'held')]));
  await waitAnnounced(page, 'Best available: 2 seats held together, A5 and A6. Held for ');
  for (const id of ['A5', 'A6']) {
    assert.equal(await page.locator(seatSelector(id)).getAttribute('data-best'), 'true', `${id} is outlined`);
  }
  await assertNoErrors(a);
});

test('best available with no such block free: the refusal in words', async () => {
  const a = await openArena('A');
  await a.page.getByLabel('How many seats').selectOption('2');
  await a.page.locator('#best-section').selectOption({ label: 'Floor 1' });
  await a.page.getByLabel('A wheelchair space, with companion seats beside it').check();
  await a.page.getByRole('button', { name: 'Find and hold seats' }).click();
  await a.page.locator('#errors').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.equal(await text(a.page, '#errors .error-text'),
    'Right now there are no 2 seats side by side free in Floor 1, with a wheelchair space. Try fewer seats, or another category or section.');
  assert.equal(await text(a.page, '#available-count'), await text(a.page, '#total-count'), 'nothing was held');
});
