/**
 * `fullduplex/redis` against a real redis-server, with both client libraries: two (or three)
 * backplane nodes in this process, each with its own two connections, driven directly with
 * recording sinks. Exactly-once delivery, echo suppression, interest routing, Redis killed and
 * restarted mid-stream (reported loss = actual loss), Redis absent at start, malformed input,
 * the silent outage caught by the probe, close().
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { redisBackplane, type RedisBackplane, type RedisBackplaneOptions } from '../src/redis/index.js';
import { cleanupAfterEach, sleep } from './helpers/async.js';
import { RecordingSink, until } from './helpers/backplane.js';
import { describeWithPeer } from './helpers/peers.js';
import { connectRedis, RedisServer, type RedisConn, type RedisLib } from './helpers/redis.js';

type Lib = RedisLib;
type Conn = RedisConn;
const connectTo = connectRedis;

interface TestNode {
  bp: RedisBackplane;
  sink: RecordingSink;
  pub: Conn;
  sub: Conn;
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

describeWithPeer('redis-server', 'fullduplex/redis', () => {
  let redis: RedisServer;
  let admin: Conn;
  const cleanup = cleanupAfterEach();

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = await connectTo('node-redis', redis.port);
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await admin?.quit();
    await redis?.stop();
  });

  async function node(lib: Lib, options: Partial<RedisBackplaneOptions> = {}, server = redis, wait = true): Promise<TestNode> {
    const pub = await connectTo(lib, server.port, wait);
    const sub = await connectTo(lib, server.port, wait);
    const bp = redisBackplane({ publisher: pub.client, subscriber: sub.client, linger: 50, healthInterval: 200, healthTimeout: 1000, ...options });
    const sink = new RecordingSink();
    bp.start(sink);
    cleanup(async () => {
      await bp.close();
      await pub.quit();
      await sub.quit();
    });
    return { bp, sink, pub, sub };
  }

  async function numsub(channel: string, sharded = false): Promise<number> {
    const reply = (await admin.command(sharded ? ['PUBSUB', 'SHARDNUMSUB', channel] : ['PUBSUB', 'NUMSUB', channel])) as [string, number];
    return Number(reply[1]);
  }

  const up = (n: TestNode): Promise<void> => until(() => n.bp.stats().up, 10_000, 'the node to be up');

  describe.each<Lib>(['node-redis', 'ioredis'])('%s', (lib) => {
    test('exactly once across two nodes, both ways, text and binary, 0 B to 1 MiB, multi-byte topic; echoes dropped', async () => {
      const a = await node(lib);
      const b = await node(lib);
      const topic = 'zimmer-ü-😀';
      a.bp.subscribe(topic);
      b.bp.subscribe(topic);
      await Promise.all([up(a), up(b), until(async () => (await numsub(`fd:t:${topic}`)) === 2, 5000, 'NUMSUB 2')]);

      const sizes = [0, 1, 125, 126, 65_535, 65_536, 1 << 20];
      const text = (i: number): Buffer => {
        if (i < sizes.length) return Buffer.alloc(sizes[i]!, 'é😀'); // fill keeps a valid prefix? no: checked below
        return Buffer.from(`${i}: grüße 😀`);
      };
      const textMessages = Array.from({ length: 1000 }, (_, i) => {
        const t = text(i);
        // Buffer.alloc with a multi-byte fill may cut the last character: trim to valid UTF-8.
        return Buffer.from(t.toString('utf8').replace(/\uFFFD+$/u, ''));
      });
      const binaryMessages = Array.from({ length: 1000 }, (_, i) =>
        i < sizes.length ? Buffer.alloc(sizes[i]!, i) : Buffer.from(Uint32Array.of(i, i * 7).buffer),
      );
      for (let i = 0; i < 1000; i++) {
        a.bp.publish(topic, textMessages[i]!, false);
        b.bp.publish(topic, binaryMessages[i]!, true);
        if (i % 100 === 0) await sleep(1); // let the reader keep up with the 1 MiB ones
      }
      await until(() => a.sink.got.length >= 1000 && b.sink.got.length >= 1000, 15_000, '1,000 messages each way');
      await sleep(50); // a duplicate would arrive within this quiet period
      expect(b.sink.got.length).toBe(1000);
      expect(a.sink.got.length).toBe(1000);
      b.sink.got.forEach((d, i) => {
        expect(d.topic).toBe(topic);
        expect(d.binary).toBe(false);
        expect(d.payload.equals(textMessages[i]!)).toBe(true);
      });
      a.sink.got.forEach((d, i) => {
        expect(d.binary).toBe(true);
        expect(d.payload.equals(binaryMessages[i]!)).toBe(true);
      });
      for (const n of [a, b]) {
        expect(n.bp.stats()).toMatchObject({ published: 1000, received: 1000, echoes: 1000, duplicates: 0, gaps: 0, dropped: 0, malformed: 0 });
      }
      // Broadcast: every node gets it, none twice, the sender not at all.
      a.bp.publish(null, Buffer.from('to everyone'), false);
      await until(() => b.sink.on(null).length === 1, 5000, 'the broadcast');
      expect(a.sink.on(null)).toEqual([]);
    }, 20_000);

    test('interest routing: a node without subscribers gets nothing; unsubscribed channels go away; 10,000 cycles leave nothing behind', async () => {
      const a = await node(lib);
      const b = await node(lib);
      const c = await node(lib);
      a.bp.subscribe('room');
      b.bp.subscribe('room');
      await Promise.all([up(a), up(b), up(c), until(async () => (await numsub('fd:t:room')) === 2, 5000, 'NUMSUB 2')]);
      for (let i = 0; i < 200; i++) a.bp.publish('room', Buffer.from(String(i)), false);
      await until(() => b.sink.got.length === 200, 5000, '200 messages at b');
      const cs = c.bp.stats();
      expect(cs.received + cs.echoes + cs.duplicates + cs.malformed).toBe(0);
      expect(c.sink.got).toEqual([]);

      b.bp.unsubscribe('room');
      await until(async () => (await numsub('fd:t:room')) === 1, 5000, 'NUMSUB 1 after the linger');

      // Churn: subscribe and unsubscribe 10,000 times over 100 topics, across many turns.
      for (let i = 0; i < 10_000; i++) {
        const t = `churn:${i % 100}`;
        c.bp.subscribe(t);
        if (i % 3 !== 0) c.bp.unsubscribe(t);
        else if (i % 7 === 0) await new Promise((r) => setImmediate(r));
        if (i % 3 === 0) c.bp.unsubscribe(t);
      }
      await until(async () => ((await admin.command(['PUBSUB', 'CHANNELS', 'fd:t:churn:*'])) as string[]).length === 0, 5000, 'no churn channel left');
      await until(() => c.bp.debugSizes().upstream === 0, 5000, 'empty maps');
      expect(c.bp.debugSizes()).toEqual({ local: 0, lingering: 0, upstream: 0, dirty: 0, seqs: 0, tracked: 0 });
    }, 20_000);

    test('malformed input published raw is dropped and counted, never delivered, and the node keeps working', async () => {
      const a = await node(lib);
      const b = await node(lib, { maxMessageSize: 1000 });
      a.bp.subscribe('m');
      b.bp.subscribe('m');
      await Promise.all([up(a), up(b), until(async () => (await numsub('fd:t:m')) === 2, 5000, 'NUMSUB 2')]);
      const header = (version: number, flags: number): Buffer => Buffer.from([version, flags, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1]);
      const bad = [
        Buffer.alloc(0),
        Buffer.alloc(13, 1),
        header(2, 0),
        header(1, 0x80),
        Buffer.concat([header(1, 0), Buffer.from([0xc3, 0x28])]),
        Buffer.concat([header(1, 1), Buffer.alloc(1001)]),
        header(1, 2), // broadcast flag on a topic channel
      ];
      for (const raw of bad) await admin.command(['PUBLISH', 'fd:t:m', raw]);
      a.bp.publish('m', Buffer.from('fine'), false);
      await until(() => b.sink.got.length === 1, 5000, 'the valid message');
      expect(b.sink.got[0]!.payload.toString()).toBe('fine');
      expect(b.bp.stats().malformed).toBe(bad.length);
      expect(b.sink.count('malformed')).toBeGreaterThan(0);
      expect(a.bp.stats().malformed).toBe(bad.length - 1); // a accepts 1001 bytes
      // ...and delivered that binary one (a foreign origin) to its sink like any remote message.
      await until(() => a.sink.got.length === 1 && a.bp.stats().echoes === 1, 5000, 'a to see its echo');
    }, 20_000);

    test('CLIENT KILL TYPE pubsub and subscriptions removed behind its back: down, then up, delivery restored', async () => {
      const a = await node(lib);
      const b = await node(lib);
      a.bp.subscribe('k');
      b.bp.subscribe('k');
      await Promise.all([up(a), up(b), until(async () => (await numsub('fd:t:k')) === 2, 5000, 'NUMSUB 2')]);
      await admin.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await until(() => b.sink.count('down') >= 1 && b.bp.stats().up, 10_000, 'down then up at b');
      await until(async () => (await numsub('fd:t:k')) === 2, 5000, 'resubscribed');
      a.bp.publish('k', Buffer.from('after kill'), false);
      await until(() => b.sink.got.some((d) => d.payload.toString() === 'after kill'), 5000, 'delivery after the kill');

      // The silent case: the connection stays up, the subscriptions vanish (someone unsubscribed all).
      const downs = b.sink.count('down');
      const client = b.sub.client as { unsubscribe(): Promise<unknown> };
      await client.unsubscribe();
      await until(() => b.sink.count('down') > downs && b.bp.stats().up, 10_000, 'the probe to catch it and recover');
      await until(async () => (await numsub('fd:t:k')) === 2, 5000, 'resubscribed after the probe');
      a.bp.publish('k', Buffer.from('after probe'), false);
      await until(() => b.sink.got.some((d) => d.payload.toString() === 'after probe'), 5000, 'delivery after the probe');
    }, 20_000);

    test('close() unsubscribes everything and leaves the clients open', async () => {
      const a = await node(lib);
      a.bp.subscribe('c1');
      a.bp.subscribe('c2');
      await until(async () => (await numsub('fd:t:c2')) === 1, 5000, 'subscribed');
      await a.bp.close();
      expect(await numsub('fd:t:c1')).toBe(0);
      expect(await numsub('fd:t:c2')).toBe(0);
      expect(await numsub('fd:b')).toBe(0);
      expect(String(await a.pub.command(['PING']))).toBe('PONG');
      a.bp.publish('c1', Buffer.from('x'), false); // after close: ignored, no throw
    }, 20_000);

    test('sharded pub/sub: SSUBSCRIBE per topic, exactly once', async () => {
      const a = await node(lib, { sharded: true });
      const b = await node(lib, { sharded: true });
      a.bp.subscribe('s');
      b.bp.subscribe('s');
      await Promise.all([up(a), up(b), until(async () => (await numsub('fd:t:s', true)) === 2, 5000, 'SHARDNUMSUB 2')]);
      expect(await numsub('fd:t:s')).toBe(0);
      for (let i = 0; i < 300; i++) a.bp.publish('s', Buffer.from(String(i)), false);
      await until(() => b.sink.got.length === 300, 5000, '300 messages');
      expect(b.sink.got.map((d) => d.payload.toString())).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
      b.bp.unsubscribe('s');
      await until(async () => (await numsub('fd:t:s', true)) === 1, 5000, 'SHARDNUMSUB 1');
    }, 20_000);
  });

  test('ioredis: the forwards of one turn leave as one pipeline write, after publish() has returned', async () => {
    const a = await node('ioredis', { healthInterval: 0 }); // no probe publishing in between
    const b = await node('ioredis');
    b.bp.subscribe('w');
    await Promise.all([up(a), up(b), until(async () => (await numsub('fd:t:w')) === 1, 5000, 'NUMSUB 1')]);
    const stream = (a.pub.client as { stream: { write(...args: unknown[]): boolean } }).stream;
    const original = stream.write;
    let writes = 0;
    stream.write = function (this: unknown, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
    cleanup(() => void (stream.write = original));
    for (let i = 0; i < 100; i++) a.bp.publish('w', Buffer.from(String(i)), false);
    expect(writes).toBe(0); // nothing written inside publish(): the local sockets are flushed first
    await until(() => b.sink.got.length === 100, 5000, '100 messages at b');
    expect(writes).toBe(1);
    expect(b.sink.got.map((d) => d.payload.toString())).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    expect(a.bp.stats()).toMatchObject({ published: 100, dropped: 0 });
  }, 20_000);

  test('ioredis: a turn\'s forwards whose connection drops before they are written fail and are counted, never sent after the reconnect', async () => {
    const a = await node('ioredis', { healthInterval: 0 });
    const b = await node('ioredis');
    b.bp.subscribe('x');
    await Promise.all([up(a), up(b), until(async () => (await numsub('fd:t:x')) === 1, 5000, 'NUMSUB 1')]);
    a.bp.publish('x', Buffer.from('before'), false);
    await until(() => b.sink.got.length === 1, 5000, 'the first message');
    for (let i = 0; i < 10; i++) a.bp.publish('x', Buffer.from(`lost ${i}`), false);
    (a.pub.client as { disconnect(reconnect: boolean): void }).disconnect(true); // same turn: before the batch is written
    await until(() => a.bp.stats().publishErrors === 10, 5000, '10 publish errors');
    await until(() => (a.pub.client as { status: string }).status === 'ready', 10_000, 'the publisher to reconnect');
    await until(() => a.bp.stats().up, 10_000, 'a up again');
    a.bp.publish('x', Buffer.from('after'), false);
    await until(() => b.sink.got.some((d) => d.payload.toString() === 'after'), 5000, 'the message after the reconnect');
    await sleep(100); // anything sent late from an offline queue would arrive within this
    expect(b.sink.got.map((d) => d.payload.toString())).toEqual(['before', 'after']);
    expect(b.bp.stats().gaps).toBe(10); // reported loss = actual loss
  }, 30_000);

  describe.each<Lib>(['node-redis', 'ioredis'])('%s with its own redis-server', (lib) => {
    test('Redis killed and restarted mid-stream: delivery resumes, reported loss = actual loss, 0 duplicates', async () => {
      unhandled = [];
      const own = await RedisServer.start();
      cleanup(() => own.stop());
      const a = await node(lib, {}, own);
      const b = await node(lib, {}, own);
      a.bp.subscribe('r');
      b.bp.subscribe('r');
      await Promise.all([up(a), up(b)]);
      await until(() => b.bp.debugSizes().upstream === 1, 5000, 'subscribed');
      await sleep(100);
      let sent = 0;
      const send = (): void => {
        a.bp.publish('r', Buffer.from(String(sent++)), false);
      };
      for (let i = 0; i < 200; i++, await sleep(1)) send();
      await own.kill();
      for (let i = 0; i < 100; i++, await sleep(2)) send();
      await own.restart();
      await until(() => a.bp.stats().up && b.bp.stats().up, 10_000, 'both nodes up again');
      // Keep publishing until something published after the restart arrives, then 100 more.
      const mark = sent;
      await until(() => {
        send();
        return b.sink.got.some((d) => Number(d.payload.toString()) >= mark);
      }, 10_000, 'cross-node delivery to resume');
      for (let i = 0; i < 100; i++, await sleep(1)) send();
      const last = String(sent - 1);
      await until(() => b.sink.got.at(-1)?.payload.toString() === last, 5000, 'the last message');

      const ids = b.sink.got.map((d) => Number(d.payload.toString()));
      expect(new Set(ids).size).toBe(ids.length); // no duplicate delivered
      expect(ids).toEqual([...ids].sort((x, y) => x - y)); // FIFO
      const as = a.bp.stats();
      const bs = b.bp.stats();
      expect(sent - ids.length).toBe(as.dropped + bs.gaps); // reported loss = actual loss
      expect(sent - ids.length).toBeGreaterThan(0);
      if (process.env.FD_DEBUG) console.log(lib, { sent, got: ids.length, dropped: as.dropped, gaps: bs.gaps, dup: bs.duplicates, errs: as.publishErrors });
      expect(a.sink.count('down')).toBeGreaterThanOrEqual(1);
      expect(b.sink.count('up')).toBeGreaterThanOrEqual(2);
      expect(unhandled).toEqual([]);
    }, 20_000);

    test('Redis absent at start: publishes are dropped and counted, subscriptions made while down are there once it starts', async () => {
      const later = await RedisServer.reserve();
      cleanup(() => later.stop());
      const a = await node(lib, {}, later, false);
      const b = await node(lib, {}, later, false);
      a.bp.subscribe('x');
      b.bp.subscribe('x');
      for (let i = 0; i < 10; i++) a.bp.publish('x', Buffer.from('lost'), false);
      expect(a.bp.stats()).toMatchObject({ dropped: 10, published: 0, up: false });
      await sleep(300);
      await later.restart();
      await Promise.all([up(a), up(b)]);
      await until(() => {
        a.bp.publish('x', Buffer.from('hello'), false);
        return b.sink.got.length > 0;
      }, 10_000, 'cross-node delivery');
      expect(b.sink.got[0]!.payload.toString()).toBe('hello');
      expect(a.sink.events[0]).toMatchObject({ type: 'dropped', reason: 'down' });
    }, 20_000);
  });
});
