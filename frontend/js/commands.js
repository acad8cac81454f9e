// Seat commands: sending SELECT_SEAT, BOOK_SEAT and RELEASE_SEAT, their group forms on several
// seats (SELECT_SEATS, BOOK_SEATS, RELEASE_SEATS) and HOLD_BEST through the `send` it is given,
// and what the page shows while one waits for its answer (the answers: messages.js).
import { COMMANDS, GROUP_COMMANDS } from './config.js';
import { dom, events, requests } from './state.js';
import { connectionState, renderSeat, renderSideAndCounts, showError } from './view.js';
import { listSeats } from './words.js';

const PAST = { select: 'selected', book: 'booked', release: 'released' };

function renderSeats(ids) {
  ids.forEach(renderSeat);
  renderSideAndCounts();
}

/** Best available will not answer now (no answer in time, or the socket is gone). */
function stopLooking() {
  const result = dom.best.result;
  if (result.dataset.state === 'looking') {
    result.textContent = '';
    delete result.dataset.state;
  }
}

/** `send(message)` puts one message on the socket. */
export function createCommands({ send }) {
  function connected(what) {
    if (connectionState() === 'connected') return true;
    showError(`Not connected right now, so ${what}. Please try again in a moment.`);
    return false;
  }

  function sendCommand(action, seatId) {
    if (requests.isBusy(seatId)) return; // one request per seat at a time
    if (!connected(`${seatId} was not ${PAST[action]}`)) return;
    // No answer in time: stop showing the seat as waiting.
    const reqId = requests.open({ action, seatId, mark: events.mark }, () => renderSeats([seatId]));
    send({ type: COMMANDS[action], data: { seat_id: seatId, req_id: reqId } });
    renderSeats([seatId]);
  }

  /** Several seats at once, all or nothing; returns whether it was sent. */
  function sendGroup(action, seatIds) {
    const ids = Array.from(seatIds);
    if (!ids.length || ids.some((id) => requests.isBusy(id))) return false;
    if (!connected(`${listSeats(ids)} ${ids.length === 1 ? 'was' : 'were'} not ${PAST[action]}`)) return false;
    const reqId = requests.open({ action, seatIds: ids, mark: events.mark }, () => renderSeats(ids));
    send({ type: GROUP_COMMANDS[action], data: { seat_ids: ids, req_id: reqId } });
    renderSeats(ids);
    return true;
  }

  /**
   * Best available: `count` seats side by side, optionally within a `category` or `section`, or
   * a wheelchair space with companions (`accessible`). `where` is kept for the words of a
   * refusal. Returns whether it was sent (one at a time).
   */
  function sendBest({ count, category, section, accessible, where }) {
    if (requests.bestPending()) return false;
    if (!connected('no seats were found')) return false;
    const data = { count };
    if (category) data.category = category;
    if (section) data.section = section;
    if (accessible) data.accessible = true;
    data.req_id = requests.open({ action: 'best', seatIds: [], mark: events.mark, count, where }, () => {
      stopLooking();
      showError('No answer came for best available. Please try again.');
    });
    send({ type: 'HOLD_BEST', data });
    return true;
  }

  /** After the socket is gone nobody will answer the old requests: stop showing them as waiting. */
  function dropPending() {
    const seats = requests.dropAll();
    seats.forEach(renderSeat);
    renderSideAndCounts();
    stopLooking();
  }

  return { sendCommand, sendGroup, sendBest, dropPending };
}
