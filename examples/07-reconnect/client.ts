/**
 * Section 4 of the seed — the client side: a {@link ReconnectingWebSocket} that sends each line
 * of standard input. When the server goes away it reconnects with exponential backoff and
 * jitter; lines typed meanwhile are queued and arrive, in order, after the reconnection. Its own
 * heartbeat (a ping every `HEARTBEAT_MS`, default 5000) notices a server that hangs without
 * closing. End the input (Ctrl-D) or press Ctrl-C to stop.
 *
 *   npx tsx examples/07-reconnect/client.ts [ws://127.0.0.1:8765]
 *   (RECONNECT_INITIAL_MS=500 RECONNECT_MAX_MS=10000)
 */
import { createInterface } from 'node:readline';
import { ReconnectingWebSocket } from '../../src/index.js';
import { clientUrl } from '../common.js';

const heartbeat = Number(process.env.HEARTBEAT_MS ?? 5000);
const url = clientUrl(8765);
const rws = new ReconnectingWebSocket(url, {
  pingInterval: heartbeat,
  pongTimeout: heartbeat,
  handshakeTimeout: 5000,
  reconnect: {
    initialDelay: Number(process.env.RECONNECT_INITIAL_MS ?? 500),
    maxDelay: Number(process.env.RECONNECT_MAX_MS ?? 10_000),
  },
});

const lines = createInterface({ input: process.stdin, terminal: false });
lines.on('line', (line) => {
  const waiting = !rws.connected;
  rws.send(line).catch((error: Error) => console.log(`not sent: ${line} (${error.message})`));
  if (waiting) console.log(`queued: ${line} (${rws.queued} waiting)`);
});

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  lines.close();
  void rws.stop().then(() => process.exit(0));
};
lines.on('close', stop);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

// The lifecycle, as the iterator reports it.
try {
  for await (const event of rws) {
    switch (event.type) {
      case 'open':
        console.log(event.reconnected ? `reconnected to ${url}` : `connected to ${url}`);
        break;
      case 'message':
        console.log(`< ${event.data}`);
        break;
      case 'disconnect':
        console.log(`disconnected (${event.code}${event.reason ? ` ${event.reason}` : ''})`);
        break;
      case 'reconnecting':
        console.log(`reconnecting in ${event.delay} ms (attempt ${event.attempt}${event.error ? `: ${event.error.message}` : ''})`);
        break;
    }
  }
} catch (error) {
  console.log(`gave up: ${(error as Error).message}`);
  process.exit(1);
}
