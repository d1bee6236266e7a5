/**
 * examples/08-scale run as the README says: two `server.ts` processes behind one redis-server, and
 * `cluster.ts` with two workers on one port. A click (`{"action":"plus"}`) from a client of one
 * process reaches a client of the other; both stop cleanly on SIGINT.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WebSocketConnection } from '../src/index.js';
import { killAll, Proc } from './fixtures/seed/processes.js';
import { until } from './helpers/backplane.js';
import { describeWithPeer } from './helpers/peers.js';
import { connectRedis, RedisServer, type RedisConn } from './helpers/redis.js';

afterEach(killAll);

interface Tab {
  ws: WebSocketConnection;
  events: Array<{ type: string; value?: number; count?: number }>;
}

/** A counter client that records every event it gets. */
async function tab(url: string): Promise<Tab> {
  const ws = await connect(url);
  const t: Tab = { ws, events: [] };
  ws.on('message', (data) => t.events.push(JSON.parse(String(data)) as Tab['events'][number]));
  return t;
}

const sawState = (t: Tab, value: number): boolean => t.events.some((e) => e.type === 'state' && e.value === value);

describeWithPeer('redis-server', '08-scale with Redis', () => {
  let redis: RedisServer;
  let admin: RedisConn;
  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = await connectRedis('node-redis', redis.port);
  });
  afterAll(async () => {
    await admin?.quit();
    await redis?.stop();
  });

  const numsub = async (): Promise<number> => Number(((await admin.command(['PUBSUB', 'NUMSUB', 'fd:t:counter'])) as [string, number])[1]);

  it('two server processes behind one Redis: a click on one reaches a tab on the other, both ways', async () => {
    const env = { PORT: '0', REDIS_URL: redis.url };
    const one = Proc.ts('examples/08-scale/server.ts', [], env);
    const two = Proc.ts('examples/08-scale/server.ts', [], env);
    const [pageOne, pageTwo] = await Promise.all([one.url(30_000), two.url(30_000)]);
    expect(pageOne).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect((await fetch(pageTwo)).status).toBe(200);

    const watcher = await tab(`${pageTwo.replace('http:', 'ws:')}ws`);
    await until(async () => (await numsub()) === 1, 10_000, 'process two to subscribe');
    const clicker = await tab(`${pageOne.replace('http:', 'ws:')}ws`);
    await until(async () => (await numsub()) === 2, 10_000, 'process one to subscribe');
    await until(() => sawState(clicker, 0), 10_000, 'the initial state');

    await clicker.ws.send(JSON.stringify({ action: 'plus' }));
    await until(() => sawState(watcher, 1), 10_000, 'the click on process one at a tab of process two');
    await watcher.ws.send(JSON.stringify({ action: 'minus' }));
    await until(() => clicker.events.filter((e) => e.type === 'state').at(-1)?.value === 0, 10_000, 'the click back');
    expect(watcher.events).toContainEqual({ type: 'users', count: 2 });

    await clicker.ws.close();
    await watcher.ws.close();
    one.signal('SIGINT');
    two.signal('SIGINT');
    expect(await one.exit()).toBe(0);
    expect(await two.exit()).toBe(0);
    expect(await numsub()).toBe(0);
  }, 60_000);
});

describe('08-scale cluster.ts', () => {
  it('two workers on one port: a click from any tab reaches every tab', async () => {
    const primary = Proc.ts('examples/08-scale/cluster.ts', [], { PORT: '0', WORKERS: '2' });
    const page = await primary.url(30_000);
    expect(primary.stdout).toContain('2 workers');
    const socket = `${page.replace('http:', 'ws:')}ws`;
    // Round-robin: four tabs land two on each worker.
    const tabs: Tab[] = [];
    for (let i = 0; i < 4; i++) {
      const t = await tab(socket);
      await until(() => sawState(t, 0), 10_000, 'the initial state');
      tabs.push(t);
    }
    // Interest crosses IPC asynchronously: click until every tab saw the first click's result.
    await tabs[0]!.ws.send(JSON.stringify({ action: 'plus' }));
    await until(() => tabs.every((t) => sawState(t, 1)), 10_000, 'the click at every tab');
    await tabs[3]!.ws.send(JSON.stringify({ action: 'plus' }));
    await until(() => tabs.every((t) => sawState(t, 2)), 10_000, 'the second click at every tab');
    expect(tabs[0]!.events).toContainEqual({ type: 'users', count: 4 });
    for (const t of tabs) await t.ws.close();
    primary.signal('SIGINT');
    expect(await primary.exit()).toBe(0);
  }, 60_000);
});
