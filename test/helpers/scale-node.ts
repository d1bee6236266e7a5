/**
 * One fullduplex server with a Redis backplane, as the end-to-end backplane tests use it — in the
 * test process or in a child (test/fixtures/backplane-node.ts). What a connection does is chosen
 * by its URL query, so real WebSocket clients drive everything:
 *
 * - `sub=<topic>` (repeatable): subscribe to the topic;
 * - `pub=<topic>`: every message the client sends is published to that topic (binary stays
 *   binary); with `mode=local` as `{ local: true }`, with `mode=broadcast` as `server.broadcast()`
 *   (except the sender);
 * - `hello=1`: the server first sends `hello <name>` (so a client knows which node it reached).
 */
import { serve, type WebSocketServer } from '../../src/index.js';
import type { BackplaneEvent } from '../../src/server/backplane.js';
import { redisBackplane, type RedisBackplane, type RedisBackplaneOptions } from '../../src/redis/index.js';
import { connectRedis, type RedisConn, type RedisLib } from './redis.js';

/** A server with its backplane and the two Redis connections it was given. */
export interface ScaleNode {
  name: string;
  server: WebSocketServer;
  backplane: RedisBackplane;
  pub: RedisConn;
  sub: RedisConn;
  /** Every `backplane` event the server emitted. */
  events: BackplaneEvent[];
  /** `ws://127.0.0.1:<port>/`. */
  url: string;
  /** Closes the server (and so the backplane), then the Redis connections. */
  close(): Promise<void>;
}

/** What {@link startScaleNode} takes. */
export interface ScaleNodeOptions {
  name?: string;
  /** Await the Redis connections (false: Redis may be absent). Default true. */
  wait?: boolean;
  backplane?: Partial<RedisBackplaneOptions>;
}

/** Starts a server on a free loopback port with `redisBackplane` over two new `lib` connections. */
export async function startScaleNode(lib: RedisLib, redisPort: number, options: ScaleNodeOptions = {}): Promise<ScaleNode> {
  const wait = options.wait ?? true;
  const pub = await connectRedis(lib, redisPort, wait);
  const sub = await connectRedis(lib, redisPort, wait);
  const backplane = redisBackplane({
    publisher: pub.client,
    subscriber: sub.client,
    linger: 50,
    healthInterval: 250,
    healthTimeout: 1000,
    ...options.backplane,
  });
  const name = options.name ?? 'node';
  const events: BackplaneEvent[] = [];
  let server: WebSocketServer;
  server = await serve((ws) => {
    const query = ws.request.query;
    for (const topic of query.getAll('sub')) ws.subscribe(topic);
    const topic = query.get('pub');
    const mode = query.get('mode');
    if (query.get('hello') === '1') void ws.send(`hello ${name}`).catch(() => {});
    ws.on('message', (data, isBinary) => {
      if (mode === 'broadcast') server.broadcast(data, { binary: isBinary, except: ws });
      else if (topic !== null) server.publish(topic, data, { binary: isBinary, local: mode === 'local' });
    });
  }, { port: 0, backplane, pingInterval: 0 });
  server.on('backplane', (event) => events.push(event));
  server.on('error', () => {});
  let closing: Promise<void> | null = null;
  return {
    name,
    server,
    backplane,
    pub,
    sub,
    events,
    url: server.url,
    close: () =>
      (closing ??= (async () => {
        await server.close();
        await pub.quit();
        await sub.quit();
      })()),
  };
}

/** A WebSocket URL for `node` with the query of the module documentation. */
export function scaleUrl(base: string, query: { sub?: string[]; pub?: string; mode?: 'local' | 'broadcast'; hello?: boolean }): string {
  const params = new URLSearchParams();
  for (const topic of query.sub ?? []) params.append('sub', topic);
  if (query.pub !== undefined) params.set('pub', query.pub);
  if (query.mode !== undefined) params.set('mode', query.mode);
  if (query.hello) params.set('hello', '1');
  return `${base}?${params.toString()}`;
}
