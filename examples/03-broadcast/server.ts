/**
 * Example 3 of the seed, one-to-many: every client subscribes to the `news` topic and each line
 * typed on the server's standard input is published to all of them — encoded once, the same
 * bytes written to every socket. Messages from clients are printed.
 *
 *   npx tsx examples/03-broadcast/server.ts [port]      (default 6789, or PORT)
 */
import { createInterface } from 'node:readline';
import { serve } from '../../src/index.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';

const TOPIC = 'news';

const server = await serve(
  async (ws) => {
    ws.subscribe(TOPIC);
    console.log(`client joined: ${server.subscriberCount(TOPIC)} online`);
    try {
      for await (const message of ws) console.log(message);
    } finally {
      ws.unsubscribe(TOPIC);
      console.log(`client left: ${server.subscriberCount(TOPIC)} online`);
    }
  },
  { host: serverHost(), port: serverPort(6789) },
);
console.log(`broadcast server listening on ${server.url}`);
if (process.stdin.isTTY) console.log('type a line to send it to every client');

const lines = createInterface({ input: process.stdin, terminal: false });
lines.on('line', (line) => {
  const count = server.publish(TOPIC, line);
  console.log(`published to ${count} client${count === 1 ? '' : 's'}`);
});
// server.close() may be called again (Ctrl-D after Ctrl-C): it returns the same shutdown.
const stop = (): Promise<void> => {
  lines.close();
  return server.close(1000, 'bye');
};
lines.on('close', () => void stop().then(() => process.exit(0)));
stopOnSignal(stop);
