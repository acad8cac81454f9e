// Zooming and panning the drawn map, and picking a seat on it: the wheel (and a trackpad's
// pinch, which browsers send as a wheel with ctrlKey), a drag with one finger or the mouse, a
// pinch with two fingers, the zoom buttons, and keys on the focused map (arrows pan, + and −
// zoom, 0 fits). A tap or click that did not move picks the seat under it (or, while the seats
// are too small to pick out, zooms in there); hovering names it.
import { seatAt } from './chart-model.js';
import { fit, panBy, setHover, toChart, view, zoomAt } from './chart-view.js';
import { revealSeat } from './finder.js';
import { dom, venue } from './state.js';

const TAP_SLOP_PX = 8;   // a press that moved less than this is a tap, not a drag
const KEY_PAN_PX = 80;
const STEP_ZOOM = 1.5;
const TOUCH_PICK_SCALE = 12; // px per chart unit (about the seat pitch) below which a tap zooms
const MOUSE_PICK_SCALE = 3;
const TAP_ZOOM = 2.5;

const pointers = new Map(); // pointerId -> { x, y, startX, startY }
let pinch = null;            // { distance, midX, midY } while two pointers are down
let dragged = false;

function localPoint(event) {
  const rect = view.el.getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}

function seatUnder(px, py) {
  if (!venue.chart) return null;
  const [x, y] = toChart(px, py);
  // Within a seat, or, zoomed far out, within a few pixels of one.
  return seatAt(venue.chart, x, y, Math.max(0.6, 6 / view.scale));
}

function pinchOf() {
  const [a, b] = [...pointers.values()];
  return { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1, midX: (a.x + b.x) / 2, midY: (a.y + b.y) / 2 };
}

function onPointerDown(event) {
  if (event.button !== 0 && event.pointerType === 'mouse') return;
  const [x, y] = localPoint(event);
  view.el.setPointerCapture(event.pointerId);
  pointers.set(event.pointerId, { x, y, startX: x, startY: y });
  if (pointers.size === 1) dragged = false;
  if (pointers.size === 2) {
    pinch = pinchOf();
    dragged = true; // two fingers never pick a seat
  }
}

function onPointerMove(event) {
  const [x, y] = localPoint(event);
  const p = pointers.get(event.pointerId);
  if (!p) {
    if (event.pointerType === 'mouse') setHover(seatUnder(x, y));
    return;
  }
  const dx = x - p.x;
  const dy = y - p.y;
  p.x = x;
  p.y = y;
  if (pointers.size === 2 && pinch) {
    const now = pinchOf();
    zoomAt(now.distance / pinch.distance, now.midX, now.midY);
    panBy(now.midX - pinch.midX, now.midY - pinch.midY);
    pinch = now;
    return;
  }
  if (!dragged && Math.hypot(x - p.startX, y - p.startY) < TAP_SLOP_PX) return;
  if (!dragged) {
    dragged = true;
    panBy(x - p.startX, y - p.startY); // the part of the move inside the slop
  } else {
    panBy(dx, dy);
  }
  setHover(null);
}

function onPointerUp(event, activate) {
  const p = pointers.get(event.pointerId);
  pointers.delete(event.pointerId);
  if (pointers.size < 2) pinch = null;
  if (!p || dragged || event.type === 'pointercancel') return;
  // Seats too small to pick out under a finger (or the mouse): the tap zooms in there instead,
  // so a thumb never holds a seat it could not see.
  if (view.scale < (event.pointerType === 'mouse' ? MOUSE_PICK_SCALE : TOUCH_PICK_SCALE)) {
    zoomAt(TAP_ZOOM, p.x, p.y);
    return;
  }
  const seat = seatUnder(p.x, p.y);
  if (!seat) return;
  revealSeat(seat); // its row's buttons, so the keyboard can carry on from there
  if (event.pointerType === 'mouse') setHover(seat);
  if (!seat.blocked) activate(seat.id, event);
}

function onWheel(event) {
  event.preventDefault(); // the page does not scroll while the pointer zooms the map
  const [x, y] = localPoint(event);
  const perPixel = event.ctrlKey ? 0.01 : 0.0015; // a trackpad pinch sends small deltas
  const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
  zoomAt(Math.exp(-delta * perPixel), x, y);
}

function onKeydown(event) {
  if (event.target !== view.el) return;
  const keys = {
    ArrowLeft: () => panBy(KEY_PAN_PX, 0),
    ArrowRight: () => panBy(-KEY_PAN_PX, 0),
    ArrowUp: () => panBy(0, KEY_PAN_PX),
    ArrowDown: () => panBy(0, -KEY_PAN_PX),
    '+': () => zoomAt(STEP_ZOOM),
    '=': () => zoomAt(STEP_ZOOM),
    '-': () => zoomAt(1 / STEP_ZOOM),
    '0': () => fit(),
  };
  const action = keys[event.key];
  if (!action || event.altKey || event.metaKey || event.ctrlKey) return;
  event.preventDefault();
  action();
}

/**
 * Wires the map's input; `activate(seatId, event)` is what a tap or click on a seat for sale
 * does (the event says whether shift was held).
 */
export function bindChart({ activate }) {
  const el = view.el;
  el.addEventListener('pointerdown', onPointerDown);
  el.addEventListener('pointermove', onPointerMove);
  el.addEventListener('pointerup', (event) => onPointerUp(event, activate));
  el.addEventListener('pointercancel', (event) => onPointerUp(event, activate));
  el.addEventListener('pointerleave', (event) => { if (event.pointerType === 'mouse') setHover(null); });
  el.addEventListener('wheel', onWheel, { passive: false });
  el.addEventListener('keydown', onKeydown);
  dom.zoomIn.addEventListener('click', () => zoomAt(STEP_ZOOM));
  dom.zoomOut.addEventListener('click', () => zoomAt(1 / STEP_ZOOM));
  dom.zoomFit.addEventListener('click', () => fit());
}
