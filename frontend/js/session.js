// Who we are and the resume handshake on each socket: the client cookie and the socket's
// address, the CONNECT with our token and resume point, the two WELCOMEs, a refused CONNECT,
// and what the page says as the connection comes and goes, or its edge falls behind (STATUS). Sends through the `send` it is given.
import { renderBestCount } from './best.js';
import { CID_COOKIE, CID_MAX_AGE_S, TOKEN_KEY, USER_KEY } from './config.js';
import { clock, conn, identity, me, storage, validToken, venue } from './state.js';
import {
  announce, friendlyError, renderAll, renderConnection, renderIdentity, showError,
} from './view.js';
import { resetWaitingRoom } from './waiting-room.js';

/** A resync (`Session.resync`) is asked at most this often. */
const RESYNC_MIN_MS = 10_000;

function randomId(bytes = 16) {
  const buf = new Uint8Array(bytes);
  if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(buf);
  else for (let i = 0; i < bytes; i++) buf[i] = Math.floor(Math.random() * 256);
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** NGINX hashes this cookie to pick an edge, so each browser profile sticks to one edge. */
function ensureClientCookie() {
  const match = document.cookie.match(/(?:^|;\s*)seatmap_cid=([^;]+)/);
  const id = match ? match[1] : randomId(16);
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  // Re-set even when present: slides the one-year expiry forward.
  document.cookie = `${CID_COOKIE}=${id}; path=/; max-age=${CID_MAX_AGE_S}; SameSite=Lax${secure}`;
}

/** The address of a new socket (same origin); sets the cookie first, so NGINX can hash it. */
export function socketUrl() {
  ensureClientCookie();
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/** Makes a WELCOME's identity ours, and remembers it for the next visit. */
function adoptIdentity(welcome) {
  const token = validToken(welcome.token) || me.token;
  const changed = welcome.user_id && welcome.user_id !== me.userId;
  if (changed && me.userId) resetWaitingRoom(); // a place in the queue belonged to the old identity
  me.token = token;
  if (welcome.user_id) me.userId = welcome.user_id;
  storage.set(TOKEN_KEY, me.token);
  storage.set(USER_KEY, me.userId);
  renderIdentity();
  if (changed) renderAll(); // "held by you" depends on who you are
}

export class Session {
  /**
   * `send(message)` puts one message on the socket; `drop(why)` gives up on the socket (the
   * transport retries); `confirmed()` tells the transport the socket is in use.
   */
  constructor({ send, drop, confirmed }) {
    Object.assign(this, { send, drop, confirmed });
  }

  /**
   * The socket opened: CONNECT with our token (if we have one), asking for compact states, and,
   * when we already show this venue, the last seq we applied and its epoch: the edge then sends
   * just the changes we missed (or a VENUE_STATE).
   */
  opened() {
    // Compact states: one status digit per seat, and MINE for the seats that are ours.
    const data = { venue: venue.name, state: 'compact' };
    if (me.token) data.token = me.token;
    const resume = venue.seqs.resumePoint();
    conn.resumedAfterSeq = resume != null;
    if (resume) Object.assign(data, resume);
    identity.pending = me.token || null;
    identity.fresh = null;
    this.send({ type: 'CONNECT', data });
  }

  /**
   * The view may have missed changes (a SEAT_UPDATE skipped seqs): CONNECT again on this socket.
   * The seq tracker has no resume point until the next VENUE_STATE, so the CONNECT carries no
   * `after_seq` and the edge answers with a fresh VENUE_STATE, which replaces the view. At most
   * one in flight and one per RESYNC_MIN_MS (an edge that kept skipping could not make the page
   * ask in a loop); one asked too soon is asked once allowed, if the hole is still there.
   */
  resync(why) {
    if (!conn.welcomed || identity.pending != null || this.#resyncTimer != null) return;
    const wait = this.#lastResync + RESYNC_MIN_MS - Date.now();
    if (wait > 0) {
      this.#resyncTimer = setTimeout(() => {
        this.#resyncTimer = null;
        if (venue.seqs.gapped) this.resync(why);
      }, wait);
      return;
    }
    this.#lastResync = Date.now();
    console.warn(`seatmap: ${why}: asking the edge for the whole state`);
    this.opened();
  }

  #lastResync = -Infinity;
  #resyncTimer = null;

  /** Whether our CONNECT on this socket is still unanswered. */
  awaitingConnect() {
    return identity.pending != null;
  }

  onWelcome(data) {
    clock.sync(Number(data.server_time_ms));
    if (Number.isFinite(Number(data.hold_seconds)) && data.hold_seconds > 0) me.holdSeconds = Number(data.hold_seconds);
    if (data.edge_id) me.edgeId = String(data.edge_id);
    const maxHolds = Number(data.max_holds_per_user);
    if (Number.isInteger(maxHolds) && maxHolds > 0 && maxHolds !== me.maxHolds) {
      me.maxHolds = maxHolds;
      renderBestCount();
    }

    // The edge greets every new socket with a fresh identity *before* it reads our CONNECT, then
    // greets again with ours. The first greeting is only kept aside: our token is given up for
    // it solely when the server answers our CONNECT with UNAUTHORIZED (see onConnectRefused).
    if (identity.pending && data.token !== identity.pending) {
      identity.fresh = data;
      renderIdentity();
      return;
    }
    identity.pending = null;
    identity.fresh = null;
    adoptIdentity(data);
    conn.welcomed = true;
    // Resuming after a seq, the edge may send only the changes we missed: the view we have
    // is then current once they arrive, with no VENUE_STATE.
    if (conn.resumedAfterSeq) conn.synced = true;
    this.#progress();
  }

  /**
   * An ERROR with no req_id while our CONNECT is unanswered is the answer to it. Only
   * UNAUTHORIZED means our token is no good; anything else (UNAVAILABLE, RATE_LIMITED, …) is
   * about this socket or this moment: keep the identity, drop the socket and retry with backoff.
   */
  onConnectRefused(data) {
    if (data.code !== 'UNAUTHORIZED') {
      if (data.code === 'UNKNOWN_VENUE') showError(friendlyError(data.code, null, data.message));
      this.drop(`CONNECT answered ${data.code}`);
      return;
    }
    const fresh = identity.fresh;
    me.token = null;
    storage.set(TOKEN_KEY, null);
    storage.set(USER_KEY, null);
    identity.pending = null;
    identity.fresh = null;
    showError('Your previous session could not be resumed, so you are continuing as a new visitor.');
    if (fresh && validToken(fresh.token)) {
      // Continue as the identity this socket was greeted with, and confirm it (and the venue).
      adoptIdentity(fresh);
      this.opened();
    } else {
      this.drop('token refused'); // the next socket greets us with a new identity
    }
  }

  /** A VENUE_STATE was applied: this socket's view is current. */
  synced() {
    conn.synced = true;
    this.#progress();
  }

  /**
   * STATUS: whether the edge is current with the venue. Shown in the connection area ("catching
   * up…") and said once per change; a view that was behind is current again at live:true.
   */
  onStatus(data) {
    const live = data.live !== false;
    if (live === conn.live) return;
    conn.live = live;
    if (conn.confirmed) {
      announce(live
        ? 'Live again. The seat map is up to date.'
        : 'The seat map may be a little behind while the server catches up. Your seat commands still work.');
    }
    renderConnection();
  }

  /** The socket is gone (`stopped`: because the page is going away). */
  closed({ stopped }) {
    conn.live = true; // the next socket's edge says so if it is behind
    conn.welcomed = false;
    conn.synced = false;
    conn.confirmed = false;
    conn.everClosed = true;
    // A half-finished resume belongs to the dead socket; the next socket starts it afresh.
    identity.pending = null;
    identity.fresh = null;
    if (stopped) return;
    if (conn.wasConnected) announce('Connection lost. Reconnecting…');
    conn.wasConnected = false;
  }

  /** This socket confirmed our identity or gave us a view: connected once both. */
  #progress() {
    if (!(conn.welcomed && conn.synced) || conn.confirmed) return;
    conn.confirmed = true;
    this.confirmed();
    if (!conn.wasConnected && conn.everClosed) announce('Reconnected. The seat map is up to date.');
    conn.wasConnected = true;
    renderConnection();
  }
}
