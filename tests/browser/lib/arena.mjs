// Helpers for browser tests on the arena (venues/arena.json, served as /?venue=arena): its chart
// as the API serves it, its seats by a condition, opening it drawn, and the finder's lists.

import assert from 'node:assert/strict';
import { BASE_URL, WAIT_MS, openViewer } from './page.mjs';

export const ARENA = '/?venue=arena';

let chart;
/** The arena's chart as the API serves it: the tests pick their seats from it. */
export async function arenaChart() {
  if (!chart) {
    const res = await fetch(`${BASE_URL}/api/venues/arena/chart`);
    assert.equal(res.status, 200, 'GET /api/venues/arena/chart');
    chart = await res.json();
  }
  return chart;
}

/** The chart's seats (never the aisles) for which pred(seat, section, row) holds. */
export function seatsWhere(json, pred) {
  const found = [];
  for (const section of json.sections) {
    for (const row of section.rows) {
      for (const seat of row.seats) if (seat !== 'aisle' && pred(seat, section, row)) found.push(seat);
    }
  }
  return found;
}

/** A viewer with the arena open and every seat drawn once. */
export async function openArena(name, options = {}) {
  const viewer = await openViewer(name, { path: ARENA, ...options });
  await viewer.page.waitForFunction(() => performance.getEntriesByName('seatmap:drawn').length === 1,
    null, { timeout: WAIT_MS });
  return viewer;
}

/** The finder: a section (by its id) and a row (by its label), as its two lists offer them. */
export async function chooseRow(page, sectionId, rowLabel) {
  const value = await page.evaluate((id) => {
    const wanted = id.startsWith('FL') ? `Floor ${id.slice(2)}` : `Section ${id}`;
    const option = [...document.querySelectorAll('#finder-section option')].find((o) => o.textContent.startsWith(`${wanted},`));
    return option ? option.value : null;
  }, sectionId);
  assert.ok(value != null, `no section ${sectionId} in the list`);
  await page.selectOption('#finder-section', value);
  await page.selectOption('#finder-row', { label: `Row ${rowLabel}` });
  await page.locator(`#seat-grid [data-seat^="${sectionId}-${rowLabel}-"], #seat-grid [data-blocked-seat^="${sectionId}-${rowLabel}-"]`).first().waitFor();
}
