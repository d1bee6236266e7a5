/**
 * Topics across processes end to end: real fullduplex servers with `backplane: redisBackplane(…)`,
 * a real redis-server, real WebSocket clients (the `ws` package) on 127.0.0.1 — one node in a
 * child process where the brief asks for two processes (test/fixtures/backplane-node.ts), the
 * others in this process. What the server wiring must guarantee: local delivery first and
 * whatever Redis does, each remote message delivered once and never forwarded again, echoes
 * dropped, interest routing, broadcasts across nodes, `{ local: true }` staying home, loss
 * reported exactly, bad input never reaching a client, `close()` unsubscribing and leaving the
 * user's clients open. Events are awaited and counts asserted; nothing measures time.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocketServer } from '../src/index.js';
import { supportsReusePort } from '../src/server/server.js';
import { cleanupAfterEach, sleep } from './helpers/async.js';
import { until } from './helpers/backplane.js';
import { describeWithPeer } from './helpers/peers.js';
import { Child } from './helpers/process.js';
import { connectRedis, RedisServer, type RedisConn, type RedisLib } from './helpers/redis.js';
import { scaleUrl, startScaleNode, type ScaleNode, type ScaleNodeOptions } from './helpers/scale-node.js';
import { WsWebSocket } from './helpers/ws.js';

const LIBS: RedisLib[] = ['node-redis', 'ioredis'];

/** A `ws` client that keeps every message it receives, and whether it closed. */
interface Receiver {
  ws: WsWebSocket;
  got: Array<{ data: Buffer; binary: boolean }>;
  closed: boolean;
  texts(): string[];
}

/** The backplane stats a child node reports, plus its driver's map sizes and memory. */
interface ChildStats {
  published: number;
  received: number;
  gaps: number;
  dropped: number;
  malformed: number;
  duplicates: number;
  echoes: number;
  up: boolean;
  memory: { heap: number; rss: number };
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

/** The i-th of `sizes`-sized payloads first (0 B to 1 MiB), then short numbered ones. */
const SIZES = [0, 1, 125, 126, 65_535, 65_536, 1 << 20];
function textMessage(i: number): string {
  if (i >= SIZES.length) return `${i}: grüße aus dem Zimmer 😀`;
  // Multi-byte filler cut to a valid string of at most SIZES[i] bytes.
  return Buffer.alloc(SIZES[i]!, 'é😀').toString('utf8').replace(/\uFFFD+$/u, '');
}
function binaryMessage(i: number): Buffer {
  return i < SIZES.length ? Buffer.alloc(SIZES[i]!, i + 1) : Buffer.from(Uint32Array.of(i, i * 7).buffer);
}

describeWithPeer('redis-server', 'backplane through real servers and WebSocket clients', () => {
  let redis: RedisServer;
  let admin: RedisConn;
  const cleanup = cleanupAfterEach();

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = await connectRedis('node-redis', redis.port);
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await admin?.quit();
    await redis?.stop();
  });

  async function node(lib: RedisLib, options: ScaleNodeOptions = {}, server = redis): Promise<ScaleNode> {
    const n = await startScaleNode(lib, server.port, options);
    cleanup(() => n.close());
    return n;
  }

  async function receiver(url: string): Promise<Receiver> {
    const ws = new WsWebSocket(url);
    const r: Receiver = {
      ws,
      got: [],
      closed: false,
      texts: () => r.got.map((m) => m.data.toString('utf8')),
    };
    ws.on('message', (data, binary) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      r.got.push({ data: bytes, binary });
    });
    ws.on('close', () => {
      r.closed = true;
    });
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    cleanup(() => ws.terminate());
    return r;
  }

  function spawnNode(lib: RedisLib, server = redis): Child {
    const child = new Child(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/fixtures/backplane-node.ts', lib, String(server.port)]);
    cleanup(() => child.stop());
    return child;
  }

  let commandId = 0;
  async function childStats(child: Child): Promise<ChildStats> {
    const id = ++commandId;
    child.process.stdin!.write(`${JSON.stringify({ cmd: 'stats', id })}\n`);
    const [, json] = await child.waitFor(new RegExp(`^STATS ${id} (.*)$`, 'm'));
    return JSON.parse(json!) as ChildStats;
  }

  async function numsub(channel: string): Promise<number> {
    const reply = (await admin.command(['PUBSUB', 'NUMSUB', channel])) as [string, number];
    return Number(reply[1]);
  }

  async function shardNumsub(channel: string): Promise<number> {
    const reply = (await admin.command(['PUBSUB', 'SHARDNUMSUB', channel])) as [string, number];
    return Number(reply[1]);
  }

  const up = (n: ScaleNode): Promise<void> => until(() => n.backplane.stats().up, 10_000, `${n.name} to be up`);

  describe.each(LIBS)('%s', (lib) => {
    test('exactly once across two processes: 1,000 text + 1,000 binary messages, 0 B to 1 MiB, multi-byte topic, to 3 clients on each side; echoes dropped; a node without subscribers gets nothing; close() in the child unsubscribes, leaves its clients open, and it exits by itself', async () => {
      const topic = 'zimmer-ü-😀';
      const a = await node(lib, { name: 'a' });
      const c = await node(lib, { name: 'c' });
      const child = spawnNode(lib);
      const [, bUrl] = await child.waitFor(/^READY (\S+) /m);
      const ra = await Promise.all([0, 1, 2].map(() => receiver(scaleUrl(a.url, { sub: [topic] }))));
      const rb = await Promise.all([0, 1, 2].map(() => receiver(scaleUrl(bUrl!, { sub: [topic] }))));
      const rc = await receiver(scaleUrl(c.url, { sub: ['elsewhere'] }));
      await Promise.all([up(a), up(c), until(async () => (await childStats(child)).up, 10_000, 'the child to be up')]);
      await until(async () => (await numsub(`fd:t:${topic}`)) === 2, 10_000, 'NUMSUB 2 (a and the child, not c)');

      const senderA = await receiver(scaleUrl(a.url, { pub: topic }));
      const senderB = await receiver(scaleUrl(bUrl!, { pub: topic }));
      const texts = Array.from({ length: 1000 }, (_, i) => textMessage(i));
      const binaries = Array.from({ length: 1000 }, (_, i) => binaryMessage(i));
      for (let i = 0; i < 1000; i++) {
        senderA.ws.send(texts[i]!);
        senderB.ws.send(binaries[i]!);
        if (i % 100 === 0) await sleep(1);
      }
      const all = [...ra, ...rb];
      await until(() => all.every((r) => r.got.length >= 2000), 30_000, '2,000 messages at every client');
      await sleep(100); // a duplicate would arrive within this quiet period

      for (const r of all) {
        expect(r.got.length).toBe(2000);
        // Per origin: every message once, in order, bytes and type intact.
        const fromA = r.got.filter((m) => !m.binary);
        const fromB = r.got.filter((m) => m.binary);
        expect(fromA.length).toBe(1000);
        expect(fromB.length).toBe(1000);
        fromA.forEach((m, i) => expect(m.data.toString('utf8') === texts[i]).toBe(true));
        fromB.forEach((m, i) => expect(m.data.equals(binaries[i]!)).toBe(true));
      }
      expect(senderA.got).toEqual([]);
      expect(senderB.got).toEqual([]);
      expect(a.backplane.stats()).toMatchObject({ published: 1000, received: 1000, echoes: 1000, duplicates: 0, gaps: 0, dropped: 0, malformed: 0 });
      expect(await childStats(child)).toMatchObject({ published: 1000, received: 1000, echoes: 1000, duplicates: 0, gaps: 0, dropped: 0, malformed: 0 });
      // Interest routing: c has no subscriber for the topic, so Redis sent it nothing at all.
      expect(c.backplane.stats()).toMatchObject({ received: 0, echoes: 0, duplicates: 0, malformed: 0 });
      expect(rc.got).toEqual([]);

      // close() in the child: its channel goes, its Redis client still answers, it exits on its own.
      child.process.stdin!.write('{"cmd":"close"}\n');
      await child.waitFor(/^CLOSED PONG$/m);
      expect(await numsub(`fd:t:${topic}`)).toBe(1);
      expect(await child.waitExit(10_000)).toEqual({ code: 0, signal: null });
      await until(() => rb.every((r) => r.closed), 5000, "the child's clients to be closed");
    }, 60_000);

    test('sharded pub/sub through real servers: SSUBSCRIBE per topic, clients on both nodes get every message once and in order, a node without subscribers gets nothing, the classic namespace stays empty, broadcast() still reaches every node', async () => {
      const sharded = { backplane: { sharded: true } };
      const a = await node(lib, { name: 'a', ...sharded });
      const b = await node(lib, { name: 'b', ...sharded });
      const c = await node(lib, { name: 'c', ...sharded });
      const ra = await receiver(scaleUrl(a.url, { sub: ['s'] }));
      const rb = await Promise.all([0, 1].map(() => receiver(scaleUrl(b.url, { sub: ['s'] }))));
      const rc = await receiver(scaleUrl(c.url, { sub: ['elsewhere'] }));
      await Promise.all([up(a), up(b), up(c), until(async () => (await shardNumsub('fd:t:s')) === 2, 10_000, 'SHARDNUMSUB 2 (a and b, not c)')]);
      expect(await numsub('fd:t:s')).toBe(0);

      const senderA = await receiver(scaleUrl(a.url, { pub: 's' }));
      const senderB = await receiver(scaleUrl(b.url, { pub: 's' }));
      for (let i = 0; i < 300; i++) {
        senderA.ws.send(`a${i}: grüße 😀`);
        senderB.ws.send(Buffer.from(Uint32Array.of(i).buffer));
      }
      const all = [ra, ...rb];
      await until(() => all.every((r) => r.got.length >= 600), 10_000, '600 messages at every client');
      await sleep(50); // a duplicate would arrive within this quiet period
      for (const r of all) {
        expect(r.got.length).toBe(600);
        expect(r.got.filter((m) => !m.binary).map((m) => m.data.toString('utf8'))).toEqual(Array.from({ length: 300 }, (_, i) => `a${i}: grüße 😀`));
        expect(r.got.filter((m) => m.binary).map((m) => m.data.readUInt32LE(0))).toEqual(Array.from({ length: 300 }, (_, i) => i));
      }
      expect(c.backplane.stats()).toMatchObject({ received: 0, echoes: 0, malformed: 0 });
      expect(rc.got).toEqual([]);
      for (const n of [a, b]) expect(n.backplane.stats()).toMatchObject({ published: 300, received: 300, echoes: 300, duplicates: 0, gaps: 0, dropped: 0 });

      // broadcast() goes on the classic channel every node reads, sharded or not.
      a.server.broadcast('to everyone');
      await until(() => rc.texts().includes('to everyone') && rb.every((r) => r.texts().includes('to everyone')), 5000, 'the broadcast at b and c');

      // b's last subscribers leave: its shard channel goes after the linger.
      for (const r of rb) r.ws.close();
      senderB.ws.close();
      await until(async () => (await shardNumsub('fd:t:s')) === 1, 10_000, 'SHARDNUMSUB 1');
    }, 30_000);

    test('Redis killed and restarted mid-stream: local clients get 100 %, cross-node delivery resumes, reported loss = actual loss, 0 duplicates, no unhandled rejection', async () => {
      unhandled = [];
      const own = await RedisServer.start();
      cleanup(() => own.stop());
      const a = await node(lib, { name: 'a' }, own);
      const b = await node(lib, { name: 'b' }, own);
      const ra = await receiver(scaleUrl(a.url, { sub: ['r'] }));
      const rb = await receiver(scaleUrl(b.url, { sub: ['r'] }));
      await Promise.all([up(a), up(b)]);
      await until(() => b.backplane.debugSizes().upstream === 1 && a.backplane.debugSizes().upstream === 1, 5000, 'subscribed');
      await sleep(100); // SUBSCRIBE confirmed at Redis (subscribe race, design note §4.4 10)

      let sent = 0;
      const send = (): void => void a.server.publish('r', String(sent++));
      for (let i = 0; i < 200; i++, await sleep(1)) send();
      await own.kill();
      for (let i = 0; i < 100; i++, await sleep(2)) send();
      await own.restart();
      await until(() => a.backplane.stats().up && b.backplane.stats().up, 10_000, 'both nodes up again');
      const mark = sent;
      await until(() => {
        send();
        return rb.texts().some((t) => Number(t) >= mark);
      }, 10_000, 'cross-node delivery to resume');
      for (let i = 0; i < 100; i++, await sleep(1)) send();
      const last = String(sent - 1);
      await until(() => rb.texts().at(-1) === last && ra.got.length === sent, 10_000, 'the last message at both clients');

      // Local: every message, in order, whatever Redis did.
      expect(ra.texts()).toEqual(Array.from({ length: sent }, (_, i) => String(i)));
      const ids = rb.texts().map(Number);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
      const as = a.server.backplaneStats()!;
      const bs = b.server.backplaneStats()!;
      expect(sent - ids.length).toBeGreaterThan(0);
      expect(as.dropped + bs.gaps).toBe(sent - ids.length); // reported loss = actual loss
      expect(bs.duplicates).toBe(0);
      expect(a.events.some((e) => e.type === 'down')).toBe(true);
      expect(b.events.filter((e) => e.type === 'up').length).toBeGreaterThanOrEqual(2);
      expect(a.events.some((e) => e.type === 'dropped' && e.reason === 'down')).toBe(true);
      expect(unhandled).toEqual([]);
      expect(ra.closed || rb.closed).toBe(false);
    }, 40_000);

    test('malformed input published into a topic channel never reaches a WebSocket client; counted; connections stay open', async () => {
      const a = await node(lib, { name: 'a', backplane: { maxMessageSize: 1000 } });
      const b = await node(lib, { name: 'b', backplane: { maxMessageSize: 1000 } });
      const ra = await receiver(scaleUrl(a.url, { sub: ['m'] }));
      const rb = await receiver(scaleUrl(b.url, { sub: ['m'] }));
      await Promise.all([up(a), up(b), until(async () => (await numsub('fd:t:m')) === 2, 5000, 'NUMSUB 2')]);
      const header = (version: number, flags: number): Buffer => Buffer.from([version, flags, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1]);
      const bad = [
        Buffer.alloc(0),
        Buffer.alloc(13, 1),
        header(2, 0),
        header(1, 0x80),
        Buffer.concat([header(1, 0), Buffer.from([0xc3, 0x28])]), // text, not UTF-8: a client would close with 1007
        Buffer.concat([header(1, 1), Buffer.alloc(1001)]),
        header(1, 2), // broadcast flag on a topic channel
        Buffer.concat([header(1, 0), Buffer.from([0, 0, 0, 0])]).fill(0, 10, 14), // seq 0
      ];
      for (const raw of bad) await admin.command(['PUBLISH', 'fd:t:m', raw]);
      await admin.command(['PUBLISH', 'fd:b', Buffer.from('not a message')]);
      a.server.publish('m', 'fine');
      await until(() => rb.got.length === 1, 5000, 'the valid message');
      await sleep(50);
      expect(rb.texts()).toEqual(['fine']);
      expect(ra.texts()).toEqual(['fine']);
      expect(b.backplane.stats().malformed).toBe(bad.length + 1);
      // a reads its subscriber connection on its own schedule (same process, another socket).
      await until(() => a.backplane.stats().malformed === bad.length + 1 && a.backplane.stats().echoes === 1, 5000, 'a to see them all');
      expect(b.events.some((e) => e.type === 'malformed')).toBe(true);
      expect(ra.closed || rb.closed).toBe(false);
      expect(ra.ws.readyState).toBe(WsWebSocket.OPEN);
    }, 20_000);

    test('CLIENT KILL TYPE pubsub and a silent UNSUBSCRIBE are caught by the probe: down, up, delivery to WebSocket clients restored', async () => {
      const a = await node(lib, { name: 'a' });
      const b = await node(lib, { name: 'b' });
      const rb = await receiver(scaleUrl(b.url, { sub: ['k'] }));
      await receiver(scaleUrl(a.url, { sub: ['k'] }));
      await Promise.all([up(a), up(b), until(async () => (await numsub('fd:t:k')) === 2, 5000, 'NUMSUB 2')]);
      await admin.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await until(() => b.events.some((e) => e.type === 'down') && b.backplane.stats().up, 10_000, 'down then up at b');
      await until(async () => (await numsub('fd:t:k')) === 2, 5000, 'resubscribed');
      await until(() => {
        a.server.publish('k', 'after kill');
        return rb.texts().includes('after kill');
      }, 5000, 'delivery after the kill');

      const downs = b.events.filter((e) => e.type === 'down').length;
      await (b.sub.client as { unsubscribe(): Promise<unknown> }).unsubscribe();
      await until(() => b.events.filter((e) => e.type === 'down').length > downs && b.backplane.stats().up, 10_000, 'the probe to catch it');
      await until(async () => (await numsub('fd:t:k')) === 2, 5000, 'resubscribed after the probe');
      await until(() => {
        a.server.publish('k', 'after probe');
        return rb.texts().includes('after probe');
      }, 5000, 'delivery after the probe');
      expect(rb.closed).toBe(false);
    }, 30_000);
  });

  test('broadcast() reaches every client of every node; publish(…, { local: true }) and broadcast(…, { local: true }) stay local', async () => {
    const a = await node('node-redis', { name: 'a' });
    const b = await node('ioredis', { name: 'b' }); // the two libraries interoperate
    const ra = await receiver(scaleUrl(a.url, { sub: ['t'] }));
    const rb = await receiver(scaleUrl(b.url, { sub: ['t'] }));
    const rbIdle = await receiver(scaleUrl(b.url, {}));
    await Promise.all([up(a), up(b), until(async () => (await numsub('fd:t:t')) === 2, 5000, 'NUMSUB 2')]);

    expect(a.server.broadcast('to everyone')).toBe(1);
    await until(() => rb.got.length === 1 && rbIdle.got.length === 1, 5000, 'the broadcast at b');
    expect(ra.texts()).toEqual(['to everyone']);

    expect(a.server.publish('t', 'only here', { local: true })).toBe(1);
    a.server.broadcast('only here too', { local: true });
    a.server.publish('t', Buffer.from('marker'));
    await until(() => rb.got.length === 2, 5000, 'the marker at b');
    await sleep(50);
    expect(rb.texts()).toEqual(['to everyone', 'marker']);
    expect(rb.got[1]!.binary).toBe(true);
    expect(rbIdle.texts()).toEqual(['to everyone']);
    expect(ra.texts()).toEqual(['to everyone', 'only here', 'only here too', 'marker']);
    expect(b.backplane.stats()).toMatchObject({ received: 2, gaps: 0 });
    expect(a.backplane.stats()).toMatchObject({ published: 2 });

    // A client's message turned into a broadcast (except the sender) on b reaches a's clients.
    const sender = await receiver(scaleUrl(b.url, { mode: 'broadcast' }));
    sender.ws.send('from a client of b');
    await until(() => ra.texts().includes('from a client of b') && rbIdle.texts().includes('from a client of b'), 5000, 'the client broadcast');
    expect(sender.got).toEqual([]);
    // A publish on a node with no local subscriber still goes out.
    const c = await node('node-redis', { name: 'c' });
    await up(c);
    expect(c.server.publish('t', 'from c')).toBe(0);
    await until(() => ra.texts().includes('from c') && rb.texts().includes('from c'), 5000, 'c’s publish at a and b');
  }, 30_000);

  test('Redis absent at start: servers serve local topics; once Redis starts, subscriptions made while down are there and cross-node delivery works', async () => {
    const later = await RedisServer.reserve();
    cleanup(() => later.stop());
    const a = await node('ioredis', { name: 'a', wait: false }, later);
    const b = await node('node-redis', { name: 'b', wait: false }, later);
    const ra = await receiver(scaleUrl(a.url, { sub: ['x'] }));
    const rb = await receiver(scaleUrl(b.url, { sub: ['x'] }));
    expect(a.server.publish('x', 'local while down')).toBe(1);
    await until(() => ra.got.length === 1, 5000, 'local delivery while down');
    expect(a.server.backplaneStats()).toMatchObject({ up: false, dropped: 1, published: 0 });
    await sleep(300);
    await later.restart();
    await Promise.all([up(a), up(b)]);
    const check = await connectRedis('node-redis', later.port);
    cleanup(() => check.quit());
    await until(async () => Number(((await check.command(['PUBSUB', 'NUMSUB', 'fd:t:x'])) as [string, number])[1]) === 2, 5000, 'NUMSUB 2');
    await until(() => {
      a.server.publish('x', 'hello');
      return rb.got.length > 0;
    }, 10_000, 'cross-node delivery');
    expect(rb.texts()[0]).toBe('hello');
    expect(a.events[0]).toMatchObject({ type: 'dropped', reason: 'down' });
  }, 30_000);

  test('a long outage keeps memory bounded: 200,000 publishes of 1 KiB while Redis is down are dropped and counted, heap and RSS barely move', async () => {
    const own = await RedisServer.start();
    cleanup(() => own.stop());
    const child = spawnNode('node-redis', own);
    await child.waitFor(/^READY /m);
    await until(async () => (await childStats(child)).up, 10_000, 'the child to be up');
    await own.kill();
    await until(async () => !(await childStats(child)).up, 10_000, 'the child to see Redis down');
    // Warm up the publish path, then measure a second, larger flood.
    child.process.stdin!.write('{"cmd":"flood","id":-1,"topic":"nobody","count":20000,"size":1024}\n');
    await child.waitFor(/^FLOODED -1 /m);
    child.process.stdin!.write('{"cmd":"flood","id":-2,"topic":"nobody","count":200000,"size":1024}\n');
    const [, json] = await child.waitFor(/^FLOODED -2 (.*)$/m, 30_000);
    const result = JSON.parse(json!) as { before: { heap: number; rss: number }; after: { heap: number; rss: number }; stats: ChildStats };
    expect(result.stats.dropped).toBe(220_000);
    expect(result.stats.published).toBe(0);
    expect(result.after.heap - result.before.heap).toBeLessThan(2 * 1024 * 1024);
    expect(result.after.rss - result.before.rss).toBeLessThan(20 * 1024 * 1024);
    // The drop events were coalesced, not one per message.
    const dropEvents = child.lines.filter((line) => line.startsWith('EVENT {"type":"dropped"')).length;
    expect(dropEvents).toBeLessThan(50);
    if (process.env.FD_DEBUG) console.log(result, { dropEvents });
  }, 60_000);

  test('server.close() unsubscribes its channels, stops the driver, and leaves the user’s Redis clients working', async () => {
    for (const lib of LIBS) {
      const a = await startScaleNode(lib, redis.port, { name: 'closing' });
      const ra = await receiver(scaleUrl(a.url, { sub: ['c1', 'c2'] }));
      await up(a);
      await until(async () => (await numsub('fd:t:c2')) === 1 && (await numsub('fd:t:c1')) === 1, 5000, 'subscribed');
      await a.server.close();
      await until(() => ra.closed, 5000, 'the client to be closed');
      for (const channel of ['fd:t:c1', 'fd:t:c2', 'fd:b', `fd:n:${a.backplane.nodeId}`]) expect(await numsub(channel)).toBe(0);
      expect(String(await a.pub.command(['PING']))).toBe('PONG');
      const sizes = a.backplane.debugSizes();
      expect(sizes).toMatchObject({ local: 0, lingering: 0, upstream: 0, dirty: 0 });
      expect(a.server.backplaneStats()!.up).toBe(false);
      a.server.publish('c1', 'after close'); // no throw, nothing forwarded
      expect(a.server.backplaneStats()!.published).toBe(0);
      await a.pub.quit();
      await a.sub.quit();
    }
  }, 20_000);
});

describe('reusePort', () => {
  test('the runtime check follows Node 22.12 / 23.1', () => {
    expect(supportsReusePort('20.20.2')).toBe(false);
    expect(supportsReusePort('22.11.0')).toBe(false);
    expect(supportsReusePort('22.12.0')).toBe(true);
    expect(supportsReusePort('23.0.0')).toBe(false);
    expect(supportsReusePort('23.1.0')).toBe(true);
    expect(supportsReusePort('24.0.0')).toBe(true);
  });

  // One test whatever the runtime: where Node honours reusePort two servers share a port; where it
  // silently ignores the option (Node 20), listen() refuses with a clear error instead.
  test('on this runtime: two servers share one port, or listen() rejects with a clear error', async () => {
    if (supportsReusePort(process.versions.node) && process.platform === 'linux') {
      const first = await new WebSocketServer(undefined, { port: 0, reusePort: true }).listen();
      const second = await new WebSocketServer(undefined, { port: first.address().port, reusePort: true }).listen();
      expect(second.address().port).toBe(first.address().port);
      await Promise.all([first.close(), second.close()]);
      return;
    }
    const server = new WebSocketServer(undefined, { port: 0, reusePort: true });
    await expect(server.listen()).rejects.toThrow(/reusePort needs Node >= 22\.12 .*node:cluster/);
    await server.close();
  });
});
