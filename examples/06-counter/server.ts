/**
 * Example 6 of the seed, the synced counter: one port serves the page over HTTP at `/` and the
 * WebSocket at `/ws`. Open the URL in several tabs: + and − in any tab update every tab, and each
 * shows how many users are online.
 *
 *   npx tsx examples/06-counter/server.ts [port]      (default 6789, or PORT)
 */
import { createServer } from 'node:http';
import { WebSocketServer } from '../../src/index.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';
import { Counter, servePage } from './counter.js';

const counter = new Counter();
const http = createServer(servePage);
const wss: WebSocketServer = new WebSocketServer((ws) => counter.handle(ws, wss), {}).attach(http, { path: '/ws' });

await new Promise<void>((resolve) => http.listen(serverPort(6789), serverHost(), resolve));
const address = http.address();
if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
console.log(`counter page at http://${serverHost()}:${address.port}/ (socket at /ws)`);

stopOnSignal(async () => {
  await wss.close();
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
});
