/*
 * Seat commands: sending them and keeping track of the answers still to come.
 */
import { COMMANDS, REQUEST_TIMEOUT_MS } from './config.js';
import { send } from './connection.js';
import { events, requests } from './state.js';
import { connectionState, renderSeat, renderSideAndCounts, showError } from './view.js';

export function actionFromName(name) {
  const n = String(name || '').toLowerCase();
  if (n.includes('book')) return 'book';
  if (n.includes('release')) return 'release';
  if (n.includes('select') || n.includes('hold')) return 'select';
  return null;
}

/** The request a req_id answers, removed from the ones in flight. */
export function takeRequest(reqId) {
  const request = reqId != null ? requests.pending.get(String(reqId)) : undefined;
  if (!request) return undefined;
  clearTimeout(request.timer);
  requests.pending.delete(String(reqId));
  requests.busySeats.delete(request.seatId);
  return request;
}

export function sendCommand(action, seatId) {
  if (requests.busySeats.has(seatId)) return; // one request per seat at a time
  if (connectionState() !== 'connected') {
    const done = { select: 'selected', book: 'booked', release: 'released' }[action];
    showError(`Not connected right now, so ${seatId} was not ${done}. Please try again in a moment.`);
    return;
  }
  const reqId = `r-${++requests.counter}`;
  const timer = setTimeout(() => {
    takeRequest(reqId);
    renderSeat(seatId);
    renderSideAndCounts();
  }, REQUEST_TIMEOUT_MS);
  requests.pending.set(reqId, { action, seatId, mark: events.mark, timer });
  requests.busySeats.add(seatId);
  send({ type: COMMANDS[action], data: { seat_id: seatId, req_id: reqId } });
  renderSeat(seatId);
  renderSideAndCounts();
}

/** After a reconnect nobody will answer the old requests: stop showing them as waiting. */
export function dropPendingRequests() {
  const seats = Array.from(requests.busySeats);
  for (const reqId of Array.from(requests.pending.keys())) takeRequest(reqId);
  seats.forEach(renderSeat);
  if (seats.length) renderSideAndCounts();
}
