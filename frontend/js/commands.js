// Seat commands: sending SELECT_SEAT, BOOK_SEAT and RELEASE_SEAT through the `send` it is given,
// and what the page shows while one waits for its answer (the answers: messages.js).
import { COMMANDS } from './config.js';
import { events, requests } from './state.js';
import { connectionState, renderSeat, renderSideAndCounts, showError } from './view.js';

const PAST = { select: 'selected', book: 'booked', release: 'released' };

/** `send(message)` puts one message on the socket. */
export function createCommands({ send }) {
  function sendCommand(action, seatId) {
    if (requests.isBusy(seatId)) return; // one request per seat at a time
    if (connectionState() !== 'connected') {
      showError(`Not connected right now, so ${seatId} was not ${PAST[action]}. Please try again in a moment.`);
      return;
    }
    // No answer in time: stop showing the seat as waiting.
    const reqId = requests.open({ action, seatId, mark: events.mark }, () => {
      renderSeat(seatId);
      renderSideAndCounts();
    });
    send({ type: COMMANDS[action], data: { seat_id: seatId, req_id: reqId } });
    renderSeat(seatId);
    renderSideAndCounts();
  }

  /** After the socket is gone nobody will answer the old requests: stop showing them as waiting. */
  function dropPending() {
    const seats = requests.dropAll();
    seats.forEach(renderSeat);
    if (seats.length) renderSideAndCounts();
  }

  return { sendCommand, dropPending };
}
