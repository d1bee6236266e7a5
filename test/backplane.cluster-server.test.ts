/**
 * node:cluster end to end: a primary forks two workers that each run a fullduplex server on the
 * same port (test/fixtures/backplane-cluster-server.ts), with `clusterPrimary()` +
 * `clusterBackplane()` and with the Redis driver. WebSocket clients connect to the one port; the
 * primary spreads them over both workers (checked from each connection's `hello <worker>`), and a
 * message published on either worker reaches every client, once, in order.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cleanupAfterEach, sleep } from './helpers/async.js';
import { until } from './helpers/backplane.js';
import { describeWithPeer } from './helpers/peers.js';
import { Child } from './helpers/process.js';
import { RedisServer } from './helpers/redis.js';
import { WsWebSocket } from './helpers/ws.js';

interface Client {
  ws: WsWebSocket;
  worker: string;
  texts: string[];
}

const CLIENTS = 20;
const N = 100;

function suite(args: () => string[]): void {
  const cleanup = cleanupAfterEach();

  async function open(url: string): Promise<Client> {
    const ws = new WsWebSocket(url);
    const texts: string[] = [];
    const hello = new Promise<string>((resolve) => {
      ws.on('message', (data) => {
        const text = String(data);
        if (text.startsWith('hello ')) resolve(text.slice(6));
        else texts.push(text);
      });
    });
    ws.on('error', () => {});
    cleanup(() => ws.terminate());
    return { ws, worker: await hello, texts };
  }

  test(`${CLIENTS} clients on one port spread over two workers; publishes from a client of each worker reach all of them once, in order`, async () => {
    const child = new Child(process.execPath, ['--import', 'tsx', 'test/fixtures/backplane-cluster-server.ts', ...args()]);
    cleanup(() => child.stop());
    const [, port] = await child.waitFor(/^PORT (\d+)$/m, 20_000);
    const base = `ws://127.0.0.1:${port}/`;
    const receivers: Client[] = [];
    for (let i = 0; i < CLIENTS; i++) receivers.push(await open(`${base}?sub=room`));
    const workers = new Set(receivers.map((r) => r.worker));
    expect(workers.size).toBe(2); // round-robin gave each worker some clients
    // One sender on each worker (connect until both are covered; round-robin makes this quick).
    const senders = new Map<string, Client>();
    for (let i = 0; i < 20 && senders.size < 2; i++) {
      const s = await open(`${base}?pub=room`);
      if (!senders.has(s.worker)) senders.set(s.worker, s);
    }
    expect(senders.size).toBe(2);
    // Interest reaches the other worker's backplane asynchronously (IPC or Redis SUBSCRIBE):
    // probe until a message from each side reaches every client, then send the numbered run.
    for (const [worker, sender] of senders) {
      await until(() => {
        sender.ws.send(`probe ${worker}`);
        return receivers.every((r) => r.texts.includes(`probe ${worker}`));
      }, 10_000, `a probe from worker ${worker} at every client`);
    }
    for (const r of receivers) r.texts.length = 0;
    await sleep(50);
    for (const r of receivers) r.texts.length = 0;
    for (let i = 0; i < N; i++) for (const [worker, sender] of senders) sender.ws.send(`${worker}:${i}`);
    await until(() => receivers.every((r) => r.texts.filter((t) => !t.startsWith('probe')).length >= 2 * N), 10_000, `${2 * N} messages at every client`);
    await sleep(50);
    for (const r of receivers) {
      const got = r.texts.filter((t) => !t.startsWith('probe'));
      expect(got.length).toBe(2 * N);
      for (const worker of senders.keys()) {
        expect(got.filter((t) => t.startsWith(`${worker}:`))).toEqual(Array.from({ length: N }, (_, i) => `${worker}:${i}`));
      }
    }
  }, 40_000);
}

describe('node:cluster, two workers on one port, fullduplex/cluster', () => {
  suite(() => ['cluster']);
});

describeWithPeer('redis-server', 'node:cluster, two workers on one port, fullduplex/redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  describe.each(['node-redis', 'ioredis'])('%s', (lib) => {
    suite(() => ['redis', lib, String(redis.port)]);
  });
});
