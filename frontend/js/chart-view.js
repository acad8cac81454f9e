// The seat map drawn on a canvas (charts, and grids too big for a button each): the view
// (zoom and pan), the full frame, the repaint of just the seats that changed, and an overlay
// layer for labels, the section overview and the hover and focus rings.
//
// Two stacked canvases: `seats` holds the seats; `overlay` everything drawn over them. A change
// to one seat repaints that seat's own circle on `seats` (a few microseconds), so the work per
// update is proportional to the change, not to the venue; zooming or panning repaints the
// frame (every seat in view, batched by colour: one path per colour).
import { seatPlaceText } from './chart-model.js';
import { classify, seatLabel } from './seats.js';
import { best, picks, venue } from './state.js';

export const SEAT_RADIUS = 0.42; // chart units; seats are about one unit apart
const BACKGROUND = '#ffffff';
const MIN_SCALE = 1;     // px per chart unit (fit can go lower on a very large grid)
const MAX_SCALE = 64;
const ROW_LABELS_FROM = 9; // px per unit: row labels from this zoom on
const OVERVIEW_BELOW = 7;  // px per unit: section names and free counts below this zoom
const OVERVIEW_EVERY_MS = 500;

/** Fills per seat state; an available seat takes its category's colour. */
export const STATE_FILL = Object.freeze({
  held: '#c3c8d0',
  booked: '#868d99',
  'held-by-you': '#ffb400',
  'booked-by-you': '#111318',
  blocked: '#eceef2',
});

export const view = {
  el: null, seats: null, overlay: null, tip: null,
  width: 0, height: 0, dpr: 1,
  scale: 1, tx: 0, ty: 0, fitScale: 1,
  full: false,          // the whole frame must be repainted
  dirty: new Set(),     // chart seats to repaint on the next frame
  frame: 0,             // the pending animation frame
  overlayDue: false,
  countsTimer: 0,       // a repaint of the overview's counts is due
  hover: null,          // chart seat under the pointer
  focus: null,          // chart seat whose button has focus
  drawnMarked: false,   // performance.mark('seatmap:drawn') done
};

export function attachCanvas({ el, seats, overlay, tip }) {
  Object.assign(view, { el, seats, overlay, tip });
}

/** Chart units -> CSS px in the view, and back. */
export const toScreen = (x, y) => [x * view.scale + view.tx, y * view.scale + view.ty];
export const toChart = (px, py) => [(px - view.tx) / view.scale, (py - view.ty) / view.scale];

/** Matches the canvases to the element's size (CSS px x devicePixelRatio); true when it changed. */
export function resize() {
  const rect = view.el.getBoundingClientRect();
  const width = Math.max(1, Math.round(rect.width));
  const height = Math.max(1, Math.round(rect.height));
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  if (width === view.width && height === view.height && dpr === view.dpr) return false;
  const [cx, cy] = view.width ? toChart(view.width / 2, view.height / 2) : [0, 0];
  const hadSize = view.width > 0;
  Object.assign(view, { width, height, dpr });
  for (const canvas of [view.seats, view.overlay]) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  if (hadSize) centreAt(cx, cy);
  return true;
}

/** The whole venue in view. */
export function fit() {
  const b = venue.chart.bounds;
  const pad = 2;
  const w = b.maxX - b.minX + 2 * pad;
  const h = b.maxY - b.minY + 2 * pad;
  view.fitScale = Math.min(view.width / w, view.height / h);
  view.scale = view.fitScale;
  centreAt((b.minX + b.maxX) / 2, (b.minY + b.maxY) / 2);
}

function centreAt(x, y) {
  view.tx = view.width / 2 - x * view.scale;
  view.ty = view.height / 2 - y * view.scale;
  repaintAll();
}

/** Zooms by `factor` keeping the chart point under (px, py) where it is. */
export function zoomAt(factor, px = view.width / 2, py = view.height / 2) {
  const lo = Math.min(MIN_SCALE, view.fitScale * 0.8);
  const scale = Math.min(MAX_SCALE, Math.max(lo, view.scale * factor));
  if (scale === view.scale) return;
  const [x, y] = toChart(px, py);
  view.scale = scale;
  view.tx = px - x * scale;
  view.ty = py - y * scale;
  repaintAll();
}

export function panBy(dx, dy) {
  view.tx += dx;
  view.ty += dy;
  repaintAll();
}

/** Brings a seat into view (zooming in enough to pick it out) unless it already is. */
export function showSeat(seat) {
  showSeats([seat]);
}

/** Brings seats into view together (zoomed in enough to pick them out) unless they already are. */
export function showSeats(seats) {
  if (!seats.length) return;
  const b = boundsOfSeats(seats);
  const margin = 24;
  const inView = (x, y) => {
    const [px, py] = toScreen(x, y);
    return px > margin && py > margin && px < view.width - margin && py < view.height - margin;
  };
  if (inView(b.minX, b.minY) && inView(b.maxX, b.maxY) && view.scale >= ROW_LABELS_FROM) return;
  if (view.scale < ROW_LABELS_FROM) {
    // Close enough to tell the seats apart, but never so close that the block does not fit.
    const fits = Math.min((view.width - 2 * margin) / (b.maxX - b.minX + 2), (view.height - 2 * margin) / (b.maxY - b.minY + 2));
    view.scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, 14, fits));
  }
  centreAt((b.minX + b.maxX) / 2, (b.minY + b.maxY) / 2);
}

function boundsOfSeats(seats) {
  const xs = seats.map((s) => s.x);
  const ys = seats.map((s) => s.y);
  return { minX: Math.min(...xs), maxX: Math.max(...xs), minY: Math.min(...ys), maxY: Math.max(...ys) };
}

// ---------------------------------------------------------------------------------------
// Scheduling: at most one paint per animation frame
// ---------------------------------------------------------------------------------------

function schedule() {
  if (!view.frame && view.seats) view.frame = requestAnimationFrame(paint);
}

export function repaintAll() {
  view.full = true;
  view.overlayDue = true;
  schedule();
}

/** One seat changed: repaint just it on the next frame. */
export function repaintSeat(id) {
  const seat = venue.chart && venue.chart.byId.get(id);
  if (!seat) return;
  view.dirty.add(seat);
  if (seat === view.hover || seat === view.focus) view.overlayDue = true;
  if (view.scale < OVERVIEW_BELOW) countsChanged();
  schedule();
}

/**
 * The overview's free counts changed: repainted at most every OVERVIEW_EVERY_MS, so a stream of
 * changes costs one overlay paint per interval, not one per change.
 */
function countsChanged() {
  if (view.countsTimer) return;
  view.countsTimer = setTimeout(() => {
    view.countsTimer = 0;
    repaintOverlay();
  }, OVERVIEW_EVERY_MS);
}

export function repaintOverlay() {
  view.overlayDue = true;
  schedule();
}

function paint() {
  view.frame = 0;
  if (!venue.chart || !view.width) return;
  const ctx = view.seats.getContext('2d');
  if (view.full) {
    view.full = false;
    view.dirty.clear();
    paintFrame(ctx);
    view.el.dataset.zoom = view.scale.toFixed(2); // px per chart unit, for styles and tests
    if (!view.drawnMarked && venue.seats.size) {
      view.drawnMarked = true;
      performance.mark('seatmap:drawn'); // every seat of the venue has been painted once
    }
  } else if (view.dirty.size) {
    paintSeats(ctx, view.dirty);
    view.dirty.clear();
  }
  if (view.overlayDue) {
    view.overlayDue = false;
    paintOverlay(view.overlay.getContext('2d'));
    updateTip();
  }
}

// ---------------------------------------------------------------------------------------
// The seats layer
// ---------------------------------------------------------------------------------------

/** What a chart seat shows: its fill and its kind. */
function lookOf(seat) {
  if (seat.blocked) return { kind: 'blocked', fill: STATE_FILL.blocked };
  const state = venue.seats.get(seat.id);
  if (!state) return { kind: 'blocked', fill: STATE_FILL.blocked };
  const kind = classify(state);
  if (kind === 'available') return { kind, fill: venue.chart.categories[seat.cat]?.color || '#4a90d9' };
  return { kind, fill: STATE_FILL[kind] };
}

function chartTransform(ctx) {
  const k = view.dpr;
  ctx.setTransform(k * view.scale, 0, 0, k * view.scale, k * view.tx, k * view.ty);
}

function addShape(path, seat, r) {
  if (seat.accessible) {
    path.rect(seat.x - r, seat.y - r, 2 * r, 2 * r); // wheelchair spaces are square
  } else {
    path.moveTo(seat.x + r, seat.y);
    path.arc(seat.x, seat.y, r, 0, 2 * Math.PI);
  }
}

/** The whole frame: every seat in view, one path per colour. */
function paintFrame(ctx) {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, view.seats.width, view.seats.height);
  chartTransform(ctx);
  paintStage(ctx);
  const [x0, y0] = toChart(-10, -10);
  const [x1, y1] = toChart(view.width + 10, view.height + 10);
  const byFill = new Map();
  const marked = [];
  for (const seat of venue.chart.seats) {
    if (seat.x < x0 || seat.x > x1 || seat.y < y0 || seat.y > y1) continue;
    const look = lookOf(seat);
    let path = byFill.get(look.fill);
    if (!path) byFill.set(look.fill, (path = new Path2D()));
    addShape(path, seat, SEAT_RADIUS);
    if (look.kind !== 'available' || seat.accessible) marked.push([seat, look.kind]);
  }
  for (const [fill, path] of byFill) {
    ctx.fillStyle = fill;
    ctx.fill(path);
  }
  if (view.scale >= 5) for (const [seat, kind] of marked) paintMark(ctx, seat, kind);
}

/** Changed seats only: clear each seat's own disc and paint it again. */
function paintSeats(ctx, seats) {
  chartTransform(ctx);
  const edge = SEAT_RADIUS + 1 / view.scale;
  for (const seat of seats) {
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(seat.x - edge, seat.y - edge, 2 * edge, 2 * edge);
    const look = lookOf(seat);
    const path = new Path2D();
    addShape(path, seat, SEAT_RADIUS);
    ctx.fillStyle = look.fill;
    ctx.fill(path);
    if (view.scale >= 5 && (look.kind !== 'available' || seat.accessible)) paintMark(ctx, seat, look.kind);
  }
}

/** The glyph that makes a state readable without its colour: ✕ not for sale, ♿, ★ yours, ✓ booked by you. */
function paintMark(ctx, seat, kind) {
  const r = SEAT_RADIUS;
  if (kind === 'blocked') {
    ctx.strokeStyle = '#9aa1ad';
    ctx.lineWidth = 1.2 / view.scale;
    ctx.beginPath();
    ctx.moveTo(seat.x - r * 0.6, seat.y - r * 0.6);
    ctx.lineTo(seat.x + r * 0.6, seat.y + r * 0.6);
    ctx.moveTo(seat.x + r * 0.6, seat.y - r * 0.6);
    ctx.lineTo(seat.x - r * 0.6, seat.y + r * 0.6);
    ctx.stroke();
    return;
  }
  const glyph = seat.accessible ? '♿' : kind === 'held-by-you' ? '★' : kind === 'booked-by-you' ? '✓' : '';
  if (!glyph || view.scale < 9) return;
  ctx.fillStyle = kind === 'held-by-you' || kind === 'held' ? '#111318' : '#ffffff';
  ctx.font = `${r * 1.5}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(glyph, seat.x, seat.y + r * 0.08);
}

function paintStage(ctx) {
  const stage = venue.chart.stage;
  if (!stage) return;
  ctx.fillStyle = '#2b2f38';
  ctx.fillRect(stage.x, stage.y, stage.w, stage.h);
  ctx.fillStyle = '#ffffff';
  ctx.font = '2.2px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText('STAGE', stage.x + stage.w / 2, stage.y + stage.h / 2);
}

// ---------------------------------------------------------------------------------------
// The overlay: section overview, row labels, hover and focus rings
// ---------------------------------------------------------------------------------------

function paintOverlay(ctx) {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, view.overlay.width, view.overlay.height);
  ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0); // CSS px from here on
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  if (view.scale < OVERVIEW_BELOW && venue.chart.sections.length > 1) paintOverview(ctx);
  if (view.scale >= ROW_LABELS_FROM) paintRowLabels(ctx);
  paintMarks(ctx);
  if (view.hover) paintRing(ctx, view.hover, '#111318', 2);
  if (view.focus) paintRing(ctx, view.focus, '#111318', 3);
}

/** Zoomed out: each section's name and how many of its seats are free. */
function paintOverview(ctx) {
  const small = view.width < 500;
  for (const section of venue.chart.sections) {
    const [px, py] = toScreen(section.centre.x, section.centre.y);
    if (px < -40 || py < -40 || px > view.width + 40 || py > view.height + 40) continue;
    ctx.font = `700 ${small ? 10 : 13}px system-ui, sans-serif`;
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(255,255,255,0.9)';
    ctx.fillStyle = '#111318';
    ctx.strokeText(section.id, px, py - 6);
    ctx.fillText(section.id, px, py - 6);
    ctx.font = `${small ? 9 : 11}px system-ui, sans-serif`;
    const free = `${section.free} free`;
    ctx.strokeText(free, px, py + 7);
    ctx.fillText(free, px, py + 7);
  }
}

function paintRowLabels(ctx) {
  ctx.font = `600 ${Math.min(14, view.scale * 0.7)}px system-ui, sans-serif`;
  ctx.fillStyle = '#4d5360';
  for (const section of venue.chart.sections) {
    for (const row of section.rows) {
      if (!row.labelAt) continue;
      const [px, py] = toScreen(row.labelAt.x, row.labelAt.y);
      if (px < -20 || py < -20 || px > view.width + 20 || py > view.height + 20) continue;
      ctx.fillText(row.label, px, py);
    }
  }
}

/** Rings the seats picked to hold together (dashed) and those best available just found. */
function paintMarks(ctx) {
  const ringed = (ids, draw) => {
    for (const id of ids) {
      const seat = venue.chart.byId.get(id);
      if (seat) draw(seat);
    }
  };
  ctx.setLineDash([4, 3]);
  ringed(picks.seats, (seat) => paintRing(ctx, seat, '#1f5fc4', 2));
  ctx.setLineDash([]);
  ringed(best.seats, (seat) => paintRing(ctx, seat, '#d35400', 3));
}

function paintRing(ctx, seat, colour, width) {
  const [px, py] = toScreen(seat.x, seat.y);
  const r = Math.max(5, SEAT_RADIUS * view.scale + 3);
  ctx.lineWidth = width + 2;
  ctx.strokeStyle = '#ffffff';
  ctx.beginPath();
  ctx.arc(px, py, r, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.lineWidth = width;
  ctx.strokeStyle = colour;
  ctx.stroke();
}

export function setHover(seat) {
  if (view.hover === seat) return;
  view.hover = seat;
  repaintOverlay();
  updateTip();
}

export function setFocus(seat) {
  if (view.focus === seat) return;
  view.focus = seat;
  repaintOverlay();
  updateTip();
}

// ---------------------------------------------------------------------------------------
// The tooltip: the seat under the pointer (or else the focused one) in words
// ---------------------------------------------------------------------------------------

/** What the tooltip says of a chart seat: its accessible name, or "not for sale". */
export function seatWords(seat) {
  const state = !seat.blocked && venue.seats.get(seat.id);
  if (state) return seatLabel(state, classify(state));
  const place = venue.layout === 'chart' ? seatPlaceText(venue.chart, seat) : `seat ${seat.id}`;
  return `${seat.id}, ${place}, not for sale`;
}

/** Shows, moves or hides the tooltip; call after the seat it names changed or the view moved. */
export function updateTip() {
  const seat = view.hover || view.focus;
  if (!view.tip) return;
  if (!seat) {
    view.tip.hidden = true;
    return;
  }
  const text = seatWords(seat);
  if (view.tip.textContent !== text) view.tip.textContent = text;
  view.tip.hidden = false;
  const [px, py] = toScreen(seat.x, seat.y);
  const tipWidth = view.tip.offsetWidth;
  const left = Math.max(4, Math.min(view.width - tipWidth - 4, px - tipWidth / 2));
  const below = py < 70;
  const top = below ? py + SEAT_RADIUS * view.scale + 8 : py - SEAT_RADIUS * view.scale - 8 - view.tip.offsetHeight;
  view.tip.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
}
