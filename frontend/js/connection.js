/*
 * The WebSocket: opening it, the CONNECT that resumes our identity (and our place in the
 * venue's seq), and reconnecting with backoff whenever it closes or fails.
 */
import { dropPendingRequests } from './commands.js';
import {
  BACKOFF_BASE_MS, BACKOFF_CAP_MS, CID_COOKIE, CID_MAX_AGE_S, HANDSHAKE_TIMEOUT_MS, HEALTHY_AFTER_MS,
} from './config.js';
import { onFrame } from './messages.js';
import { conn, identity, me, venue } from './state.js';
import { announce, renderConnection } from './view.js';

function socketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

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

export function send(message) {
  if (conn.ws && conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(message));
}

/**
 * CONNECT with our token (if we have one) and, when we already show this venue, the last seq
 * we applied and its epoch: the edge then sends just the changes we missed (or a VENUE_STATE).
 */
export function sendConnect() {
  const data = { venue: venue.name };
  if (me.token) data.token = me.token;
  conn.resumedAfterSeq = venue.seq >= 0 && venue.epoch != null;
  if (conn.resumedAfterSeq) {
    data.after_seq = venue.seq;
    data.epoch = venue.epoch;
  }
  identity.pending = me.token || null;
  identity.fresh = null;
  send({ type: 'CONNECT', data });
}

export function connect() {
  clearRetry();
  if (conn.stopped || conn.ws) return;
  ensureClientCookie(); // before the upgrade request, so NGINX can hash it

  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (err) {
    console.warn('seatmap: cannot open WebSocket', err);
    scheduleReconnect();
    return;
  }
  conn.ws = ws;
  conn.welcomed = false;
  conn.synced = false;
  conn.connectedAt = 0;
  conn.handshakeTimer = setTimeout(() => dropSocket(ws, 'handshake timeout'), HANDSHAKE_TIMEOUT_MS);

  // Each handler checks it still belongs to the current socket: a late event from an
  // abandoned socket must not disturb the new one.
  ws.addEventListener('open', () => { if (conn.ws === ws) sendConnect(); });
  ws.addEventListener('message', (event) => {
    if (conn.ws === ws && typeof event.data === 'string') onFrame(event.data);
  });
  ws.addEventListener('close', (event) => {
    if (conn.ws === ws) onSocketClosed(event.code);
  });
  renderConnection();
}

/** Called when this socket confirmed our identity or gave us a view: connected once both. */
export function onHandshakeProgress() {
  if (!(conn.welcomed && conn.synced) || conn.connectedAt) return;
  clearTimeout(conn.handshakeTimer);
  conn.connectedAt = Date.now();
  if (!conn.wasConnected && conn.everClosed) announce('Reconnected. The seat map is up to date.');
  conn.wasConnected = true;
  renderConnection();
}

/** Give up on the current socket (it stopped answering, or refused our CONNECT) and retry later. */
export function dropSocket(ws, why) {
  if (!ws || conn.ws !== ws) return;
  console.warn(`seatmap: dropping socket (${why})`);
  try { ws.close(); } catch { /* already closing */ }
  onSocketClosed(1006);
}

function onSocketClosed(code) {
  clearTimeout(conn.handshakeTimer);
  // Only a connection that was up for a while earns a quick retry. One that closed soon after
  // opening (whatever the close code, 1001 included) keeps backing off.
  const healthy = conn.connectedAt > 0 && Date.now() - conn.connectedAt >= HEALTHY_AFTER_MS;
  if (healthy) conn.attempt = 0;
  conn.ws = null;
  conn.welcomed = false;
  conn.synced = false;
  conn.connectedAt = 0;
  conn.everClosed = true;
  // A half-finished resume belongs to the dead socket; the next socket starts it afresh.
  identity.pending = null;
  identity.fresh = null;
  dropPendingRequests();
  if (conn.stopped) return;
  if (conn.wasConnected) announce('Connection lost. Reconnecting…');
  conn.wasConnected = false;
  if (code !== 1000 && code !== 1006) console.info(`seatmap: socket closed with ${code}`);
  scheduleReconnect();
}

/**
 * Exponential backoff with full jitter (a random wait below 250 ms, 500 ms, 1 s, … up to 10 s),
 * so a fleet of browsers does not reconnect in lockstep and a failing server is not hammered.
 */
function scheduleReconnect() {
  clearRetry();
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(conn.attempt, 16));
  const delay = Math.random() * ceiling;
  conn.attempt++;
  conn.retryAt = Date.now() + delay;
  conn.retryTimer = setTimeout(connect, delay);
  conn.countdownTimer = setInterval(renderConnection, 250);
  renderConnection();
}

export function clearRetry() {
  clearTimeout(conn.retryTimer);
  clearInterval(conn.countdownTimer);
  conn.retryTimer = 0;
  conn.countdownTimer = 0;
}

/** The user (or the browser coming back online) asks for a connection now. */
export function reconnectNow() {
  if (conn.ws) return;
  conn.attempt = 0;
  connect();
}
