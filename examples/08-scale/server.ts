/**
 * Example 8: the seed's synced counter (example 6) in several processes behind one Redis. Run two
 * of these on different ports with the same `REDIS_URL`: a click in a tab connected to one process
 * updates the tabs connected to the other, through `fullduplex/redis`.
 *
 * The messages are example 6's: the server sends `{"type":"state","value":n}` and
 * `{"type":"users","count":n}`, clients send `{"action":"plus"}` or `{"action":"minus"}`. What
 * changes with several processes: the value and the number of users live in Redis (`INCRBY`,
 * atomic across processes), and `server.publish()` reaches every process's subscribers.
 *
 *   PORT=6789 REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/08-scale/server.ts
 *   PORT=6790 REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/08-scale/server.ts
 */
import { createServer } from 'node:http';
import { createClient } from '@redis/client';
import { WebSocketServer } from '../../src/index.js';
import { redisBackplane } from '../../src/redis/index.js';
import { servePage } from '../06-counter/counter.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';
import { handleCounter, stateEvent, TOPIC, type CounterStore } from './counter.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEYS = { value: 'fd:example:counter:value', users: 'fd:example:counter:users' } as const;

// Your clients, configured your way (TLS, ACL…); the backplane takes them and leaves them open.
// A reconnect strategy that never gives up (node-redis's default does too), capped at 500 ms.
const reconnectStrategy = (retries: number): number => Math.min(retries * 50, 500);
const publisher = createClient({ url, socket: { reconnectStrategy } }).on('error', (error) => console.error('redis:', String(error)));
await publisher.connect();
const subscriber = publisher.duplicate().on('error', () => {});
await subscriber.connect();

const store: CounterStore = {
  change: (key, by) => publisher.incrBy(KEYS[key], by),
  get: async (key) => Number((await publisher.get(KEYS[key])) ?? 0),
};

const http = createServer(servePage);
const wss: WebSocketServer = new WebSocketServer((ws) => handleCounter(ws, () => wss, store), {
  backplane: redisBackplane({ publisher, subscriber }),
}).attach(http, { path: '/ws' });

// Loss is counted, never silent: after an outage, publish the current value so every tab converges.
wss.on('backplane', (event) => {
  if (event.type !== 'up') console.error('backplane:', JSON.stringify({ ...event, error: 'error' in event ? String(event.error) : undefined }));
  else void store.get('value').then((value) => wss.publish(TOPIC, stateEvent(value)), () => {});
});

await new Promise<void>((resolve) => http.listen(serverPort(6789), serverHost(), resolve));
const address = http.address();
if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
console.log(`counter page at http://${serverHost()}:${address.port}/ (socket at /ws, Redis ${url})`);

stopOnSignal(async () => {
  await wss.close(); // closes the backplane: unsubscribes, leaves our clients open
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  await Promise.allSettled([publisher.quit(), subscriber.quit()]);
});
