/**
 * Example 1 of the seed, one-to-one and short-lived: answers every message with
 * `I got your message: …`.
 *
 *   npx tsx examples/01-echo/server.ts [port]      (default 8765, or PORT)
 */
import { serve } from '../../src/index.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';

const server = await serve(
  async (ws) => {
    for await (const message of ws) {
      await ws.send(`I got your message: ${message}`);
    }
  },
  { host: serverHost(), port: serverPort(8765) },
);
console.log(`echo server listening on ${server.url}`);
stopOnSignal(() => server.close());
