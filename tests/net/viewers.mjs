// Many idle viewers for the network fault scenarios: opens COUNT WebSockets to an edge (at most
// 100 opening at a time), prints "<unix ms> READY <n>" once each has its first VENUE_STATE, and
// then only keeps them open (the ws library answers the edge's pings), printing
// "<unix ms> CLOSED <n>" whenever sockets close. Runs until killed.
// Usage: node tests/net/viewers.mjs ws://HOST:PORT/ws COUNT
import WebSocket from '../browser/node_modules/ws/wrapper.mjs';

const [url, countText] = process.argv.slice(2);
const count = Number(countText);
if (!url || !(count > 0)) {
  console.error('usage: node tests/net/viewers.mjs ws://HOST:PORT/ws COUNT');
  process.exit(2);
}
const say = (line) => process.stdout.write(`${Date.now()} ${line}\n`);
let opened = 0;
let ready = 0;
let closed = 0;

function open(done) {
  const socket = new WebSocket(url);
  let seen = false;
  socket.on('message', (data) => {
    if (seen) return;
    let frame;
    try { frame = JSON.parse(String(data)); } catch { return; }
    if (frame.type !== 'VENUE_STATE') return;
    seen = true;
    ready++;
    done();
    if (ready === count) say(`READY ${ready}`);
  });
  socket.on('close', () => {
    closed++;
    say(`CLOSED ${closed}`);
    if (!seen) done();
  });
  socket.on('error', (error) => console.error(`viewers: ${error.message}`));
}

// A window of 100 sockets opening at once: a new one starts as each gets its state.
function more() {
  if (opened >= count) return;
  opened++;
  open(more);
}
for (let i = 0; i < Math.min(100, count); i++) more();
setInterval(() => {}, 1 << 30);
