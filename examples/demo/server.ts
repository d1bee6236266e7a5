/**
 * The demo behind `npm start`: one port on 127.0.0.1 (`PORT`, default 8080) serves
 *
 * - `/`               the synced-counter page (example 6), whose socket is `/ws`;
 * - `/echo`           the echo endpoint (example 1);
 * - `/light/{status}` the light router (example 4).
 *
 * Other WebSocket paths are refused with 404. Ctrl-C closes everything and exits 0.
 */
import { createServer } from 'node:http';
import { Router, WebSocketServer } from '../../src/index.js';
import { Counter, servePage } from '../06-counter/counter.js';
import { addLightRoutes } from '../04-router/light.js';
import { stopOnSignal } from '../common.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8080);

const counter = new Counter();
const router = new Router()
  .route('/ws', (ws) => counter.handle(ws, wss))
  .route('/echo', async (ws) => {
    for await (const message of ws) await ws.send(`I got your message: ${message}`);
  });
addLightRoutes(router);

const http = createServer(servePage);
const wss: WebSocketServer = new WebSocketServer(router).attach(http);
await new Promise<void>((resolve) => http.listen(port, host, resolve));
const address = http.address();
if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
const base = `${host}:${address.port}`;
console.log(`fullduplex demo running at http://${base}/`);
console.log(`  sockets: ws://${base}/ws (counter), ws://${base}/echo, ws://${base}/light/{on|off}`);
console.log('  press Ctrl-C to stop');

stopOnSignal(async () => {
  await wss.close();
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  console.log('demo stopped');
});
