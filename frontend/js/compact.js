// The two forms of VENUE_STATE made one: the full form (a `seats` array) and the compact form
// (`"state":"compact"`: one status digit per seat in seat order, plus the held seats' expiries),
// and MINE, which names the seats that are this identity's in a compact state.
// Pure: no DOM, no network (unit-tested in tests/page/compact.test.mjs).

export function isCompact(data) {
  return data != null && data.state === 'compact' && typeof data.status === 'string';
}

/**
 * The seats of a compact VENUE_STATE as `{ id, status, expires_at }`, given `order`, the seat ids
 * in seat order (grids: row-major; charts: the chart's seats for sale in order). A state that
 * does not fit the order (another chart than ours) gives `mismatch: true`, and the seats it can.
 */
export function decodeCompact(data, order) {
  const status = data.status;
  const count = Number.isFinite(Number(data.count)) ? Number(data.count) : status.length;
  const mismatch = count !== status.length || count !== order.length;
  const n = Math.min(status.length, order.length);
  const seats = new Array(n);
  for (let i = 0; i < n; i++) {
    const digit = status.charCodeAt(i) - 48;
    seats[i] = { id: order[i], status: digit >= 0 && digit <= 2 ? digit : 0, held_by: null, expires_at: null };
  }
  for (const pair of Array.isArray(data.held) ? data.held : []) {
    const [index, expiresAt] = Array.isArray(pair) ? pair : [];
    if (Number.isInteger(index) && index >= 0 && index < n) seats[index].expires_at = Number(expiresAt);
  }
  return { seats, mismatch };
}

/** MINE's seats: `held` as id -> expires_at, `booked` as a set of ids. */
export function decodeMine(data) {
  const held = new Map();
  for (const entry of Array.isArray(data.held) ? data.held : []) {
    if (entry && entry.id != null) held.set(String(entry.id), entry.expires_at == null ? null : Number(entry.expires_at));
  }
  const booked = new Set((Array.isArray(data.booked) ? data.booked : []).map(String));
  return { held, booked };
}
