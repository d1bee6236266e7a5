/**
 * Section 4 of the seed, heartbeat and reconnection — the server side: it prints every message it
 * receives, and pings each client every `HEARTBEAT_MS` (default 5000), dropping a client whose
 * pong does not come back within as long. Stop it (Ctrl-C) and start it again while the client
 * runs: the client reconnects by itself.
 *
 *   npx tsx examples/07-reconnect/server.ts [port]      (default 8765, or PORT)
 */
import { serve } from '../../src/index.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';

const heartbeat = Number(process.env.HEARTBEAT_MS ?? 5000);
const server = await serve(
  async (ws) => {
    console.log('client connected');
    try {
      for await (const message of ws) console.log(`< ${message}`);
    } finally {
      // Also after an abnormal close (1006: dropped, or no pong in time), where iteration throws.
      console.log(`client gone (${ws.closeCode}${ws.closeReason ? ` ${ws.closeReason}` : ''})`);
    }
  },
  { host: serverHost(), port: serverPort(8765), pingInterval: heartbeat, pongTimeout: heartbeat },
);
console.log(`heartbeat server listening on ${server.url}`);
stopOnSignal(() => server.close());
