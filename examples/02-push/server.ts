/**
 * Example 2 of the seed, one-to-one and long-lived: the server pushes each line typed on its
 * standard input to the connected client. End the input (Ctrl-D) or press Ctrl-C to stop.
 *
 *   npx tsx examples/02-push/server.ts [port]      (default 8765, or PORT)
 */
import { createInterface } from 'node:readline';
import { serve } from '../../src/index.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';

const server = await serve(
  async (ws) => {
    console.log(`client connected from ${ws.remoteAddress}:${ws.remotePort}`);
    prompt();
    try {
      // The client only listens; reading keeps the connection's close handshake flowing.
      for await (const message of ws) console.log(`client says: ${message}`);
    } finally {
      console.log(`client disconnected (${ws.closeCode})`);
    }
  },
  { host: serverHost(), port: serverPort(8765) },
);
console.log(`push server listening on ${server.url}`);

function prompt(): void {
  if (process.stdin.isTTY) process.stdout.write('please input: ');
}

const lines = createInterface({ input: process.stdin, terminal: false });
lines.on('line', (line) => {
  const count = server.broadcast(line);
  console.log(`pushed to ${count} client${count === 1 ? '' : 's'}`);
  prompt();
});
// server.close() may be called again (Ctrl-D after Ctrl-C): it returns the same shutdown.
const stop = (): Promise<void> => {
  lines.close();
  return server.close(1000, 'bye');
};
// The end of the input (Ctrl-D) ends the show.
lines.on('close', () => void stop().then(() => process.exit(0)));
stopOnSignal(stop);
