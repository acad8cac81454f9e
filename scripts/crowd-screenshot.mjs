// crowd-screenshot.mjs: the page in headless Chromium while a crowd (scripts/crowd.sh) is at work,
// shot twice GAP_S apart and laid side by side in one PNG, each with how many seats the page
// showed in each state, so the picture shows seats changing live (docs/crowd-*.png in DEMO.md).
//
//   SEATMAP_URL=http://127.0.0.1:8000 VENUE=arena OUT=docs/crowd-arena.png node scripts/crowd-screenshot.mjs
//
// Environment: SEATMAP_URL (NGINX, required), VENUE (main), OUT (required), GAP_S (4), ZOOM (0:
// how many times the drawn map's zoom-in button is pressed first),
// CHROMIUM_PATH (/usr/bin/chromium). Uses tests/browser's playwright-core (npm ci there first).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(HERE, '../tests/browser/package.json'));
const { chromium } = require('playwright-core');

const BASE = (process.env.SEATMAP_URL || '').replace(/\/+$/, '');
const VENUE = process.env.VENUE || 'main';
const OUT = process.env.OUT;
const GAP_S = Number(process.env.GAP_S || 4);
const ZOOM = Number(process.env.ZOOM || 0);
if (!BASE || !OUT) throw new Error('SEATMAP_URL and OUT must be set');
const VIEW = { width: 1280, height: 900 };

/**
 * What the page says: its "Available: N of M", and on a grid how many seats it shows in each
 * state (its seat buttons' data-status; a drawn venue lists only one row's seats there).
 */
function counts(page, grid) {
  return page.evaluate((grid) => {
    const by = {};
    if (grid) {
      for (const b of document.querySelectorAll('#seat-grid button[data-seat]')) {
        by[b.dataset.status] = (by[b.dataset.status] || 0) + 1;
      }
    }
    const text = (id) => document.getElementById(id)?.textContent.trim();
    return { available: `${text('available-count')} of ${text('total-count')} available`, by };
  }, grid);
}

const caption = (t, { available, by }) => `t = ${t} s: ${[available,
  ...Object.entries(by).filter(([k]) => k !== 'available').sort().map(([k, n]) => `${n} ${k}`)].join(', ')}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  const page = await (await browser.newContext({ viewport: VIEW })).newPage();
  await page.goto(`${BASE}/?venue=${VENUE}`);
  await page.waitForFunction(() => document.getElementById('conn-status')?.dataset.state === 'connected'
    && document.querySelector('#seat-grid button[data-seat]') !== null, null, { timeout: 15000 });
  // Let the drawn chart settle after its first state.
  await page.waitForTimeout(1500);
  // A drawn venue: zoomed in ZOOM steps, so single seats show.
  for (let i = 0; i < ZOOM; i++) await page.click('#zoom-in');
  if (ZOOM) await page.waitForTimeout(500);
  const shots = [];
  for (const t of [0, GAP_S]) {
    if (t) await page.waitForTimeout(GAP_S * 1000);
    shots.push({ t, by: await counts(page, VENUE === 'main'), png: (await page.screenshot()).toString('base64') });
  }
  const sheet = await (await browser.newContext({ viewport: { width: VIEW.width, height: 520 } })).newPage();
  await sheet.setContent(`<body style="margin:0;font:16px sans-serif;background:#fff;display:flex">${shots.map((s) => `
    <figure style="margin:8px;width:${VIEW.width / 2 - 16}px">
      <img style="width:100%;border:1px solid #999" src="data:image/png;base64,${s.png}">
      <figcaption style="margin-top:4px">${caption(s.t, s.by)}</figcaption>
    </figure>`).join('')}</body>`);
  await sheet.screenshot({ path: OUT, fullPage: true });
  for (const s of shots) console.log(`[crowd-screenshot] ${VENUE} ${caption(s.t, s.by)}`);
  console.log(`[crowd-screenshot] wrote ${OUT}`);
} finally {
  await browser.close();
}
