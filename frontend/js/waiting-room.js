// The waiting room (when the booking service runs with MAX_SHOPPERS > 0): the QUEUE and
// ADMITTED frames, the banner above the map, and what screen readers hear.
//
// With the waiting room off no QUEUE or ADMITTED ever comes: the banner stays hidden and every
// seat works as before. While waiting the grid stays live, but seats that are not yours are
// aria-disabled (seats.js, view.js) with the banner's reason as their description.
//
// Screen readers: a new position is read out politely at most every POSITION_ANNOUNCE_MS (the
// banner itself updates at once); joining is read out politely at once; admission and the end
// of the pass at once and assertively (they are time-limited).
import { PASS_WARN_SECONDS, POSITION_ANNOUNCE_MS } from './config.js';
import { plural } from './seats.js';
import { clock, dom, me, venue, waitingRoom } from './state.js';
import { renderAll, setAttr, speak } from './view.js';

// ---------------------------------------------------------------------------------------
// Words and numbers
// ---------------------------------------------------------------------------------------

/** A rough wait in words: "about 3 min" (short, for the banner) or "about 3 minutes". */
export function aboutWait(seconds, long = false) {
  if (!(seconds > 0)) return 'any moment now';
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return long ? `about ${plural(minutes, 'minute')}` : `about ${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (!long) return `about ${h} h${m ? ` ${m} min` : ''}`;
  return `about ${plural(h, 'hour')}${m ? ` ${plural(m, 'minute')}` : ''}`;
}

/** "4:07" */
function clockText(seconds) {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/** "4 minutes 7 seconds" */
function durationText(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (!m) return plural(s, 'second');
  return s ? `${plural(m, 'minute')} ${plural(s, 'second')}` : plural(m, 'minute');
}

function aheadText(position) {
  return position <= 1 ? 'No one ahead of you: you are next' : `${position - 1} ahead of you`;
}

function secondsLeft() {
  return Math.max(0, Math.ceil((waitingRoom.untilMs - clock.nowMs()) / 1000));
}

// ---------------------------------------------------------------------------------------
// Where this wait started (kept per tab, so a reload keeps the progress bar)
// ---------------------------------------------------------------------------------------

// Kept in sessionStorage under this name by open tabs: a new name would restart their bars.
const startKey = () => `seatmap.queue_start.${venue.name}`;

function rememberStart() {
  try {
    if (waitingRoom.startPosition) sessionStorage.setItem(startKey(), `${me.userId} ${waitingRoom.startPosition}`);
    else sessionStorage.removeItem(startKey());
  } catch { /* not kept: a reload starts the bar afresh */ }
}

function rememberedStart() {
  try {
    const [user, start] = (sessionStorage.getItem(startKey()) || '').split(' ');
    return user === me.userId ? Number(start) || 0 : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

const count = (value) => (Number.isFinite(Number(value)) && Number(value) > 0 ? Math.floor(Number(value)) : 0);
const forUs = (data) => !data.venue || data.venue === venue.name;

/** QUEUE {venue, position, size, estimated_wait_s}: we wait; sent on joining and on every move. */
export function onQueue(data) {
  const position = count(data.position);
  if (!forUs(data) || !position) return;
  const before = waitingRoom.state;
  waitingRoom.position = position;
  waitingRoom.size = Math.max(position, count(data.size));
  waitingRoom.estimatedWaitS = count(data.estimated_wait_s);
  if (before !== 'waiting') {
    // A new wait: joining, or back at the end after a pass.
    waitingRoom.startPosition = Math.max(position, before === 'open' ? rememberedStart() : 0);
    waitingRoom.state = 'waiting';
    renderAll(); // seats that are not yours can no longer be chosen
  } else if (position > waitingRoom.startPosition) {
    waitingRoom.startPosition = position; // put back further (a place lost while away)
  }
  rememberStart();
  renderWaitingRoom();

  if (before !== 'waiting') {
    const lead = before === 'admitted' || before === 'ended' ? 'Your turn has ended. You are back in the queue' : 'You are in the queue';
    sayPosition(`${lead}: ${positionSentence()}`);
  } else if (position !== waitingRoom.announcedPosition) {
    schedulePosition();
  }
}

/** ADMITTED {venue, until_ms}: we may hold and book until until_ms. */
export function onAdmitted(data) {
  const until = Number(data.until_ms);
  if (!forUs(data) || !Number.isFinite(until)) return;
  const before = waitingRoom.state;
  waitingRoom.untilMs = until;
  if (before === 'admitted') { renderWaitingRoom(); return; } // the same pass again (a reconnect)

  waitingRoom.state = 'admitted';
  waitingRoom.passMs = Math.max(1000, until - clock.nowMs());
  waitingRoom.warned = false;
  waitingRoom.startPosition = 0;
  rememberStart();
  clearTimeout(waitingRoom.announceTimer);
  waitingRoom.announceTimer = 0;
  renderAll();
  renderWaitingRoom();
  speak(dom.waitingRoom.alert, `It's your turn. You have ${durationText(secondsLeft())} to choose and book your seats.`);
}

/** The server refused a seat command with NOT_ADMITTED: if we thought we had a pass, it is over. */
export function onNotAdmitted() {
  if (waitingRoom.state === 'admitted') endPass();
}

/** A new identity (our token was refused): the old one's place or pass is not ours. */
export function resetWaitingRoom() {
  clearTimeout(waitingRoom.announceTimer);
  Object.assign(waitingRoom, { state: 'open', position: 0, size: 0, estimatedWaitS: 0, startPosition: 0, untilMs: 0, announceTimer: 0 });
  renderWaitingRoom();
}

function endPass() {
  waitingRoom.state = 'ended';
  renderAll();
  renderWaitingRoom();
  speak(dom.waitingRoom.alert, 'Your time to choose seats is up. Seats you still hold stay yours until their hold runs out, and you can still book them.');
}

/** Once a second: the pass's countdown. */
export function tickWaitingRoom() {
  if (waitingRoom.state !== 'admitted') return;
  const left = secondsLeft();
  if (left <= 0) {
    endPass();
    return;
  }
  if (!waitingRoom.warned && left <= PASS_WARN_SECONDS && waitingRoom.passMs > 2 * PASS_WARN_SECONDS * 1000) {
    waitingRoom.warned = true;
    speak(dom.waitingRoom.live, 'One minute left to choose and book your seats.');
  }
  renderCountdown(left);
}

// ---------------------------------------------------------------------------------------
// Announcements: positions at most every POSITION_ANNOUNCE_MS
// ---------------------------------------------------------------------------------------

function positionSentence() {
  const ahead = waitingRoom.position <= 1 ? 'you are next' : `${waitingRoom.position - 1} ahead of you`;
  return `number ${waitingRoom.position}, ${ahead}. Estimated wait: ${aboutWait(waitingRoom.estimatedWaitS, true)}.`;
}

function sayPosition(message) {
  clearTimeout(waitingRoom.announceTimer);
  waitingRoom.announceTimer = 0;
  waitingRoom.announcedAt = Date.now();
  waitingRoom.announcedPosition = waitingRoom.position;
  speak(dom.waitingRoom.live, message);
}

/** The newest position, read out now if the last one was long enough ago, else when it is. */
function schedulePosition() {
  if (waitingRoom.announceTimer) return; // one is due; it reads whatever the position is by then
  const wait = waitingRoom.announcedAt + POSITION_ANNOUNCE_MS - Date.now();
  const due = () => {
    waitingRoom.announceTimer = 0;
    if (waitingRoom.state === 'waiting' && waitingRoom.position !== waitingRoom.announcedPosition) {
      sayPosition(`You are now ${positionSentence()}`);
    }
  };
  if (wait <= 0) due();
  else waitingRoom.announceTimer = setTimeout(due, wait);
}

// ---------------------------------------------------------------------------------------
// The banner
// ---------------------------------------------------------------------------------------

const HEADINGS = { waiting: 'You are in the queue', admitted: "It's your turn", ended: 'Your time is up' };
const MESSAGES = {
  waiting: 'You can choose seats when it is your turn. The map stays live meanwhile. Keep this page open to keep your place.',
  admitted: 'Choose your seats and book them before the time runs out.',
  ended: 'Seats you still hold stay yours until their hold runs out, and you can still book them. You will get a new place at the end of the queue.',
};

function setText(node, value) {
  if (node.textContent !== value) node.textContent = value;
}

export function renderWaitingRoom() {
  const { state } = waitingRoom;
  const shown = state !== 'open';
  dom.waitingRoom.banner.hidden = !shown;
  dom.waitingRoom.seatNote.hidden = !(state === 'waiting' || state === 'ended');
  if (!shown) return;
  setAttr(dom.waitingRoom.banner, 'data-state', state);
  setText(dom.waitingRoom.heading, HEADINGS[state]);
  setText(dom.waitingRoom.message, MESSAGES[state]);
  dom.waitingRoom.waitPanel.hidden = state !== 'waiting';
  dom.waitingRoom.passPanel.hidden = state !== 'admitted';

  if (state === 'waiting') {
    setText(dom.waitingRoom.position, String(waitingRoom.position));
    setText(dom.waitingRoom.ahead, aheadText(waitingRoom.position));
    setText(dom.waitingRoom.size, `${waitingRoom.size} in the queue`);
    setText(dom.waitingRoom.wait, aboutWait(waitingRoom.estimatedWaitS));
    // From the position this wait began at (nothing done yet) to 0 (your turn).
    const start = Math.max(1, waitingRoom.startPosition);
    const done = (start - waitingRoom.position) / start;
    setAttr(dom.waitingRoom.progress, 'value', done.toFixed(3));
    setAttr(dom.waitingRoom.progress, 'aria-valuetext', `${aheadText(waitingRoom.position)}, of ${start} when you joined`);
  } else if (state === 'admitted') {
    renderCountdown(secondsLeft());
  }
}

function renderCountdown(left) {
  setText(dom.waitingRoom.countdown, clockText(left));
  dom.waitingRoom.countdown.classList.toggle('urgent', left <= PASS_WARN_SECONDS);
  const fraction = Math.min(1, (left * 1000) / Math.max(1000, waitingRoom.passMs));
  setAttr(dom.waitingRoom.timeLeft, 'value', fraction.toFixed(3));
  setAttr(dom.waitingRoom.timeLeft, 'aria-valuetext', `${durationText(left)} left`);
}

/** A click on a seat you cannot choose yet: say why, and point at the banner. */
export function explainLocked() {
  const why = waitingRoom.state === 'waiting'
    ? `You can choose seats when it is your turn. You are number ${waitingRoom.position} in the queue.`
    : 'Your time to choose seats is up. You will get a new place in the queue.';
  speak(dom.announcer, why);
  dom.waitingRoom.banner.classList.remove('nudge');
  void dom.waitingRoom.banner.offsetWidth; // restart the animation
  dom.waitingRoom.banner.classList.add('nudge');
}
