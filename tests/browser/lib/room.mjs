// Helpers for the waiting-room browser tests: what the banner shows, and a WebSocket tap that
// passes every frame through and lets a test add frames of its own.

/** What the waiting-room banner and the seat note show, read from the page. */
export async function queueInfo(page) {
  return page.evaluate(() => {
    const q = document.getElementById('queue');
    const txt = (id) => (document.getElementById(id)?.textContent || '').trim();
    const seen = (id) => {
      const node = document.getElementById(id);
      return !!node && !node.hidden && node.closest('[hidden]') === null;
    };
    return {
      shown: !q.hidden,
      state: q.hidden ? null : q.dataset.state,
      heading: txt('queue-heading'),
      position: seen('queue-position') ? txt('queue-position') : null,
      ahead: seen('queue-ahead') ? txt('queue-ahead') : null,
      wait: seen('queue-wait') ? txt('queue-wait') : null,
      progress: seen('queue-progress') ? Number(document.getElementById('queue-progress').value) : null,
      countdown: seen('queue-countdown') ? txt('queue-countdown') : null,
      message: txt('queue-message'),
      note: seen('queue-seat-note') ? txt('queue-seat-note') : null,
      live: txt('queue-live'),
      alert: txt('queue-alert'),
    };
  });
}

/** Waits until pred(queueInfo) holds; fails with what the banner showed. */
export async function waitQueue(page, pred, what, timeout = 5000) {
  const deadline = Date.now() + timeout;
  let info;
  for (;;) {
    info = await queueInfo(page);
    if (pred(info)) return info;
    if (Date.now() > deadline) throw new Error(`banner: wanted ${what} within ${timeout} ms; it shows ${JSON.stringify(info)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The seats' waiting-room attributes: how many seat buttons are aria-disabled, and one seat's
 * label, aria-disabled and description (the text aria-describedby points at).
 */
export async function seatLock(page, seatId) {
  return page.evaluate((id) => {
    const all = Array.from(document.querySelectorAll('#seat-grid button[data-seat]'));
    const b = document.querySelector(`#seat-grid button[data-seat="${id}"]`);
    const describedBy = b.getAttribute('aria-describedby');
    return {
      seats: all.length,
      disabled: all.filter((s) => s.getAttribute('aria-disabled') === 'true').length,
      label: b.getAttribute('aria-label'),
      ariaDisabled: b.getAttribute('aria-disabled'),
      description: describedBy ? describedBy.split(/\s+/).map((d) => document.getElementById(d)?.textContent.trim()).join(' ') : null,
    };
  }, seatId);
}

/**
 * Routes the context's WebSockets to the real server through a tap: `tap.sent` lists the frames
 * the page sent (parsed), `tap.inject(frame)` sends a frame to the page as if from the server,
 * `tap.frames` lists the frames the server sent (parsed).
 */
export async function tapSockets(context) {
  const tap = { sent: [], frames: [], sockets: [] };
  await context.routeWebSocket(/\/ws$/, (page) => {
    const server = page.connectToServer();
    tap.sockets.push(page);
    page.onMessage((message) => {
      try { tap.sent.push(JSON.parse(String(message))); } catch { /* not JSON */ }
      server.send(message);
    });
    server.onMessage((message) => {
      try { tap.frames.push(JSON.parse(String(message))); } catch { /* not JSON */ }
      page.send(message);
    });
  });
  tap.inject = (frame) => tap.sockets[tap.sockets.length - 1].send(JSON.stringify(frame));
  return tap;
}
