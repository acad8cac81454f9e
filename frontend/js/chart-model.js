// A venue's static geometry as the page uses it: the chart of GET /api/venues/{venue}/chart
// turned into sections, rows and seats with their places, categories and prices, the seat order
// the compact VENUE_STATE uses, and a spatial index to find the seat under a point.
// Pure: no DOM, no network (unit-tested in tests/page/chart-model.test.mjs).

/** Grid row labels as spreadsheets label columns: A … Z, AA, AB, … (row 0 is A). */
export function gridRowLabel(row) {
  let n = row + 1;
  let label = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    label = String.fromCharCode(65 + rem) + label;
    n = Math.floor((n - 1) / 26);
  }
  return label;
}

/** A grid's seat ids in the compact state's order: row-major, A1, A2, … then B1 … */
export function gridSeatOrder(rows, cols) {
  const ids = new Array(rows * cols);
  for (let r = 0, i = 0; r < rows; r++) {
    const label = gridRowLabel(r);
    for (let c = 0; c < cols; c++, i++) ids[i] = `${label}${c + 1}`;
  }
  return ids;
}

/** Digits after the point for a currency ("EUR": 2, "JPY": 0), from the platform when it knows. */
function minorDigits(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** A price in minor units as people read it: 6500 EUR is "65.00 EUR". */
export function formatPrice(minor, currency) {
  const digits = minorDigits(currency);
  const amount = (Number(minor) / 10 ** digits).toFixed(digits);
  return currency ? `${amount} ${currency}` : amount;
}

const HIT_CELL = 4; // chart units per cell of the spatial index

function makeCategories(list) {
  return (Array.isArray(list) ? list : []).map((c, index) => ({
    index,
    id: String(c.id),
    label: String(c.label ?? c.id),
    color: /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(c.color) ? c.color : '#4a90d9',
    price: Number(c.price) || 0,
    currency: c.currency ? String(c.currency) : '',
    priceText: formatPrice(c.price || 0, c.currency),
  }));
}

/** One seat item of a chart row, placed in its section and row. */
function makeSeat(item, ctx) {
  const cat = ctx.catIndex.get(String(item.category));
  return {
    id: String(item.id).toUpperCase(),
    number: String(item.number),
    x: Number(item.x),
    y: Number(item.y),
    cat: cat ?? 0,
    section: ctx.section,
    row: ctx.row,
    pos: ctx.pos,
    accessible: item.accessible === true,
    companion: item.companion === true,
    blocked: item.blocked === true,
    aisleAfter: false,
    sale: -1, // its index in the compact state's order; -1: never for sale
  };
}

/** Where a row's label goes: a little beyond its first seat, away from the second. */
function rowLabelPlace(seats) {
  const first = seats[0];
  const next = seats[1];
  if (!next) return { x: first.x - 1.2, y: first.y };
  const dx = first.x - next.x;
  const dy = first.y - next.y;
  const len = Math.hypot(dx, dy) || 1;
  return { x: first.x + (dx / len) * 1.3, y: first.y + (dy / len) * 1.3 };
}

function boundsOf(seats) {
  const b = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  for (const s of seats) {
    if (s.x < b.minX) b.minX = s.x;
    if (s.x > b.maxX) b.maxX = s.x;
    if (s.y < b.minY) b.minY = s.y;
    if (s.y > b.maxY) b.maxY = s.y;
  }
  if (!seats.length) Object.assign(b, { minX: 0, minY: 0, maxX: 1, maxY: 1 });
  return b;
}

function indexByCell(seats) {
  const cells = new Map();
  for (const s of seats) {
    const key = `${Math.floor(s.x / HIT_CELL)},${Math.floor(s.y / HIT_CELL)}`;
    let list = cells.get(key);
    if (!list) cells.set(key, (list = []));
    list.push(s);
  }
  return cells;
}

/**
 * The page's model of a chart: `sections` (each with `rows`, each with its `seats` in order,
 * blocked seats included), `seats` (all of them), `byId`, `saleOrder` (the seats for sale in the
 * order the compact state lists them: sections, rows, seats, skipping aisles and blocked
 * seats), `categories` (with `priceText`), `bounds` (seats and stage), `focal`, `stage` and the
 * spatial index.
 */
export function buildChartModel(json) {
  const categories = makeCategories(json.categories);
  const catIndex = new Map(categories.map((c) => [c.id, c.index]));
  const seats = [];
  const saleOrder = [];
  const sections = (json.sections || []).map((sec, section) => {
    const rows = (sec.rows || []).map((row, rowIndex) => {
      const rowSeats = [];
      for (const item of row.seats || []) {
        if (item === 'aisle') {
          if (rowSeats.length) rowSeats[rowSeats.length - 1].aisleAfter = true;
          continue;
        }
        const seat = makeSeat(item, { catIndex, section, row: rowIndex, pos: rowSeats.length });
        if (!seat.blocked) seat.sale = saleOrder.push(seat) - 1;
        rowSeats.push(seat);
        seats.push(seat);
      }
      const label = String(row.label);
      return { index: rowIndex, label, seats: rowSeats, labelAt: rowSeats.length ? rowLabelPlace(rowSeats) : null };
    });
    const own = rows.flatMap((r) => r.seats);
    const b = boundsOf(own);
    return {
      index: section,
      id: String(sec.id),
      label: String(sec.label ?? sec.id),
      rows,
      bounds: b,
      centre: { x: (b.minX + b.maxX) / 2, y: (b.minY + b.maxY) / 2 },
      forSale: own.filter((s) => !s.blocked).length,
      free: 0, // seats available now: kept by seats.js as the state changes
    };
  });
  const focal = json.focal_point ? { x: Number(json.focal_point.x), y: Number(json.focal_point.y) } : null;
  const layout = json.layout === 'grid' ? 'grid' : 'chart';
  // A chart's stage is drawn at its focal point, and is part of what "fit" shows.
  const stage = focal && layout === 'chart' ? { x: focal.x - 12, y: focal.y - 2.5, w: 24, h: 5 } : null;
  const bounds = boundsOf(seats);
  if (stage) {
    bounds.minX = Math.min(bounds.minX, stage.x);
    bounds.maxX = Math.max(bounds.maxX, stage.x + stage.w);
    bounds.minY = Math.min(bounds.minY, stage.y);
    bounds.maxY = Math.max(bounds.maxY, stage.y + stage.h);
  }
  return {
    venue: String(json.venue || ''),
    layout,
    stage,
    title: String(json.title || json.venue || ''),
    categories,
    sections,
    seats,
    saleOrder,
    saleIds: saleOrder.map((s) => s.id),
    byId: new Map(seats.map((s) => [s.id, s])),
    bounds,
    focal,
    cells: indexByCell(seats),
  };
}

/** The seat nearest (x, y) in chart units, if one is within `reach` units; else null. */
export function seatAt(model, x, y, reach = 0.6) {
  const cx = Math.floor(x / HIT_CELL);
  const cy = Math.floor(y / HIT_CELL);
  let best = null;
  let bestD = reach * reach;
  for (let i = cx - 1; i <= cx + 1; i++) {
    for (let j = cy - 1; j <= cy + 1; j++) {
      for (const s of model.cells.get(`${i},${j}`) || []) {
        const d = (s.x - x) ** 2 + (s.y - y) ** 2;
        if (d <= bestD) { bestD = d; best = s; }
      }
    }
  }
  return best;
}

/** The seat description shared by the tooltip and the aria-label: "section 112, row F, seat 14, Lower tier, 65.00 EUR". */
export function seatPlaceText(model, seat) {
  const section = model.sections[seat.section];
  const row = section.rows[seat.row];
  const cat = model.categories[seat.cat];
  const parts = [`section ${section.id}`, `row ${row.label}`, `seat ${seat.number}`];
  if (cat) parts.push(cat.label, cat.priceText);
  return parts.join(', ');
}
