/**
 * Example 8, one machine without Redis: the synced counter in `WORKERS` (default 2) node:cluster
 * workers sharing one port. `fullduplex/cluster` carries the publishes between workers over IPC
 * (`clusterPrimary()` routes by interest), and the shared value lives in the primary, which
 * answers the workers' changes one at a time — the role Redis plays in server.ts.
 *
 *   PORT=6789 WORKERS=2 npx tsx examples/08-scale/cluster.ts
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { WebSocketServer } from '../../src/index.js';
import { clusterBackplane, clusterPrimary } from '../../src/cluster/index.js';
import { servePage } from '../06-counter/counter.js';
import { serverHost, serverPort, stopOnSignal } from '../common.js';
import { handleCounter, type CounterStore } from './counter.js';

/** Worker ↔ primary messages of the store (the backplane's own IPC messages are tagged apart). */
type StoreMessage =
  | { store: 'change'; id: number; key: 'value' | 'users'; by: number }
  | { store: 'get'; id: number; key: 'value' | 'users' }
  | { store: 'reply'; id: number; result: number };

const isStore = (message: unknown): message is StoreMessage =>
  typeof message === 'object' && message !== null && 'store' in message;

if (cluster.isPrimary) {
  clusterPrimary(); // before forking: IPC with Buffers, and the interest router
  const values = { value: 0, users: 0 };
  cluster.on('message', (worker, message: unknown) => {
    if (!isStore(message) || message.store === 'reply') return;
    if (message.store === 'change') values[message.key] += message.by;
    worker.send({ store: 'reply', id: message.id, result: values[message.key] } satisfies StoreMessage);
  });
  const count = Number(process.env.WORKERS ?? 2);
  const workers = Array.from({ length: count }, () => cluster.fork());
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === count) console.log(`counter page at http://${serverHost()}:${address.port}/ (socket at /ws, ${count} workers)`);
  });
  // Ctrl-C reaches the workers too; a SIGTERM/SIGINT to the primary alone stops them.
  stopOnSignal(() =>
    Promise.all(
      workers.map((worker) => new Promise<void>((resolve) => {
        if (worker.isDead()) return resolve();
        worker.once('exit', () => resolve());
        worker.kill();
      })),
    ),
  );
} else {
  let next = 0;
  const pending = new Map<number, (result: number) => void>();
  process.on('message', (message: unknown) => {
    if (!isStore(message) || message.store !== 'reply') return;
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  });
  const ask = (message: StoreMessage): Promise<number> =>
    new Promise((resolve) => {
      pending.set(message.id, resolve);
      process.send!(message);
    });
  const store: CounterStore = {
    change: (key, by) => ask({ store: 'change', id: ++next, key, by }),
    get: (key) => ask({ store: 'get', id: ++next, key }),
  };

  const http = createServer(servePage);
  const wss: WebSocketServer = new WebSocketServer((ws) => handleCounter(ws, () => wss, store), {
    backplane: clusterBackplane(),
  }).attach(http, { path: '/ws' });
  await new Promise<void>((resolve) => http.listen(serverPort(6789), serverHost(), resolve));

  stopOnSignal(async () => {
    await wss.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
}
