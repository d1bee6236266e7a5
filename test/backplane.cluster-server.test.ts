/**
 * node:cluster end to end: a primary forks two workers that each run a fullduplex server on the
 * same port (test/fixtures/backplane-cluster-server.ts), with `clusterPrimary()` +
 * `clusterBackplane()` and with the Redis driver. WebSocket clients connect to the one port; the
 * primary spreads them over both workers (checked from each connection's `hello <worker>`), and a
 * message published on either worker reaches every client, once, in order. With three workers, one
 * is SIGKILLed: the primary forgets its interests and the other two keep delivering.
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
  closed: boolean;
}

const CLIENTS = 20;
const N = 100;

/** Connects a `ws` client and waits for its `hello <worker>`; the client is terminated after the test. */
async function openClient(url: string, cleanup: (fn: () => unknown) => void): Promise<Client> {
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
  const client: Client = { ws, worker: await hello, texts, closed: false };
  ws.on('close', () => (client.closed = true));
  return client;
}

function suite(args: () => string[]): void {
  const cleanup = cleanupAfterEach();
  const open = (url: string): Promise<Client> => openClient(url, cleanup);

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
    await probeUntilRouted(senders, receivers);
    await expectNumberedRun(senders, receivers);
  }, 40_000);
}

/**
 * Interest reaches the other workers' backplanes asynchronously (IPC or Redis SUBSCRIBE): probe
 * until a message from each sender reaches every receiver.
 */
async function probeUntilRouted(senders: Map<string, Client>, receivers: Client[]): Promise<void> {
  for (const [worker, sender] of senders) {
    await until(() => {
      sender.ws.send(`probe ${worker}`);
      return receivers.every((r) => r.texts.includes(`probe ${worker}`));
    }, 10_000, `a probe from worker ${worker} at every client`);
  }
}

/** Each sender sends N numbered messages; every receiver gets all of them, each once, in order per sender. */
async function expectNumberedRun(senders: Map<string, Client>, receivers: Client[]): Promise<void> {
  const notProbe = (r: Client): string[] => r.texts.filter((t) => !t.startsWith('probe'));
  for (const r of receivers) r.texts.length = 0;
  await sleep(50); // late probes
  for (const r of receivers) r.texts.length = 0;
  const total = senders.size * N;
  for (let i = 0; i < N; i++) for (const [worker, sender] of senders) sender.ws.send(`${worker}:${i}`);
  await until(() => receivers.every((r) => notProbe(r).length >= total), 10_000, `${total} messages at every client`);
  await sleep(50); // a duplicate would arrive within this quiet period
  for (const r of receivers) {
    const got = notProbe(r);
    expect(got.length).toBe(total);
    for (const worker of senders.keys()) {
      expect(got.filter((t) => t.startsWith(`${worker}:`))).toEqual(Array.from({ length: N }, (_, i) => `${worker}:${i}`));
    }
  }
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

describe('node:cluster, three workers, fullduplex/cluster: one worker killed', () => {
  const cleanup = cleanupAfterEach();

  test('SIGKILL one worker: its clients are closed, the primary drops its interests, the other two keep delivering every message once, in order', async () => {
    const child = new Child(process.execPath, ['--import', 'tsx', 'test/fixtures/backplane-cluster-server.ts', 'cluster'], {
      env: { ...process.env, FD_WORKERS: '3' },
    });
    cleanup(() => child.stop());
    let commandId = 0;
    const ask = async (command: object, reply: string): Promise<string> => {
      const id = ++commandId;
      child.process.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
      const [, rest] = await child.waitFor(new RegExp(`^${reply} ${id}(.*)$`, 'm'), 10_000);
      return rest!.trim();
    };
    const [, port] = await child.waitFor(/^PORT (\d+)$/m, 20_000);
    const base = `ws://127.0.0.1:${port}/`;
    // Two receivers and one sender on every worker (round-robin spreads them quickly).
    const receivers: Client[] = [];
    const senders = new Map<string, Client>();
    for (let i = 0; i < 60; i++) {
      const perWorker = (w: string): number => receivers.filter((r) => r.worker === w).length;
      const workers = new Set(receivers.map((r) => r.worker));
      if (workers.size === 3 && [...workers].every((w) => perWorker(w) >= 2)) break;
      receivers.push(await openClient(`${base}?sub=room`, cleanup));
    }
    for (let i = 0; i < 60 && senders.size < 3; i++) {
      const s = await openClient(`${base}?pub=room`, cleanup);
      if (!senders.has(s.worker)) senders.set(s.worker, s);
    }
    const workers = [...senders.keys()];
    expect(workers.length).toBe(3);
    for (const w of workers) expect(receivers.filter((r) => r.worker === w).length).toBeGreaterThanOrEqual(2);
    await probeUntilRouted(senders, receivers);
    expect(await ask({ cmd: 'interested', topic: 'room' }, 'INTERESTED')).toBe('3');

    const [victim, ...survivors] = workers as [string, ...string[]];
    await ask({ cmd: 'kill', worker: Number(victim) }, 'KILLED');
    expect(await ask({ cmd: 'interested', topic: 'room' }, 'INTERESTED')).toBe('2');
    const dead = receivers.filter((r) => r.worker === victim);
    const alive = receivers.filter((r) => r.worker !== victim);
    await until(() => dead.every((r) => r.closed), 10_000, "the killed worker's clients to see their connections close");

    await expectNumberedRun(new Map(survivors.map((w) => [w, senders.get(w)!])), alive);
  }, 40_000);
});
