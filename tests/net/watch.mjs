// A viewer for the network fault scenarios: opens a WebSocket to an edge and prints every frame
// it receives as one line, "<unix ms> <frame>", and "<unix ms> CLOSED <code>" when it closes.
// Usage: node tests/net/watch.mjs ws://HOST:PORT/ws
import WebSocket from '../browser/node_modules/ws/wrapper.mjs';

const url = process.argv[2];
if (!url) {
  console.error('usage: node tests/net/watch.mjs ws://HOST:PORT/ws');
  process.exit(2);
}
const socket = new WebSocket(url);
socket.on('message', (data) => process.stdout.write(`${Date.now()} ${data}\n`));
socket.on('close', (code) => {
  process.stdout.write(`${Date.now()} CLOSED ${code}\n`);
  process.exit(0);
});
socket.on('error', (error) => {
  console.error(`watch: ${error.message}`);
  process.exit(1);
});
