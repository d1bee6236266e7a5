/**
 * The two Redis client libraries behind one small interface, detected by shape (nothing is
 * imported: the user brings the client, configured with their TLS, ACL, Sentinel…).
 *
 * - node-redis (`redis` / `@redis/client` v4–v6): has `isReady`; subscribe in buffer mode with
 *   `subscribe(channels, listener, true)` (one shared listener, so subscribing again is idempotent
 *   and unsubscribing removes only ours); sharded with `sSubscribe`/`sPublish`.
 * - ioredis (v5–v6): has a `status` string; messages arrive for every subscription of the
 *   connection as `messageBuffer`/`smessageBuffer` events (Buffers); sharded with
 *   `ssubscribe`/`spublish`.
 */

/**
 * A client of either library (checked at runtime: `isReady` for node-redis, `status` for ioredis).
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { redisBackplane } from 'fullduplex/redis';
 *
 * // node-redis and ioredis clients both qualify; the shape is checked at runtime.
 * const publisher = new Redis(process.env.REDIS_URL!);
 * const backplane = redisBackplane({ publisher, subscriber: publisher.duplicate() });
 * ```
 */
export type RedisClientLike = object;

/** Handles inbound messages; `channel` arrives as a Buffer (or a string from some clients). */
export type MessageHandler = (channel: Buffer | string, message: Buffer) => void;

/** One client, seen by the driver. */
export interface ClientAdapter {
  /** `'node-redis'` or `'ioredis'`. */
  readonly kind: 'node-redis' | 'ioredis';
  /** Connected and accepting commands now (commands issued otherwise would sit in an offline queue). */
  ready(): boolean;
  /** Calls `onChange` on every connection-state event; adds an `error` listener; returns a detach. */
  watch(onChange: (error?: Error) => void): () => void;
  /**
   * Publishes; calls `ok` once Redis took it, or `fail`. Callbacks rather than a promise per
   * message: the driver passes the same two functions every time (nothing allocated per call here).
   */
  publish(channel: string, message: Buffer, sharded: boolean, ok: () => void, fail: (error: unknown) => void): void;
  subscribe(channels: string[], sharded: boolean): Promise<unknown>;
  unsubscribe(channels: string[], sharded: boolean): Promise<unknown>;
  /** Routes inbound messages to `handler`; returns a detach. */
  listen(handler: MessageHandler): () => void;
}

// Loose views of the two libraries: only what is called here.
/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyFn = (...args: any[]) => any;
interface Emitter {
  on(event: string, listener: AnyFn): unknown;
  off?(event: string, listener: AnyFn): unknown;
  removeListener?(event: string, listener: AnyFn): unknown;
}

const NODE_REDIS_STATE_EVENTS = ['ready', 'end', 'error', 'reconnecting', 'connect'];
const IOREDIS_STATE_EVENTS = ['ready', 'close', 'end', 'error', 'reconnecting', 'connect'];

/** Wraps a user's client; throws a TypeError naming what is supported when the shape is unknown. */
export function adaptClient(client: RedisClientLike, role: string): ClientAdapter {
  const c = client as Record<string, unknown> & Emitter;
  if (typeof c !== 'object' || c === null || typeof c.on !== 'function') {
    throw new TypeError(`${role}: expected a node-redis or ioredis client`);
  }
  if ('isReady' in c && typeof c.subscribe === 'function') return nodeRedis(c);
  if (typeof c.status === 'string' && typeof c.subscribe === 'function') return ioredis(c);
  throw new TypeError(`${role}: expected a node-redis (v4+) or ioredis (v5+) client`);
}

function detach(c: Emitter, event: string, listener: AnyFn): void {
  if (typeof c.off === 'function') c.off(event, listener);
  else c.removeListener?.(event, listener);
}

function watchEvents(c: Emitter, events: string[], onChange: (error?: Error) => void): () => void {
  const listeners = events.map((event) => {
    // Our own `error` listener also keeps an error without a user listener from crashing the process.
    const listener = event === 'error' ? (error: Error) => onChange(error) : () => onChange();
    c.on(event, listener);
    return [event, listener] as const;
  });
  return () => {
    for (const [event, listener] of listeners) detach(c, event, listener);
  };
}

/** Runs `call`, turning a synchronous throw (closed client) into a rejection. */
function attempt(call: () => unknown): Promise<unknown> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

function nodeRedis(c: Record<string, any> & Emitter): ClientAdapter {
  let handler: MessageHandler | null = null;
  // node-redis 5+ arms a 5 s AbortSignal.timeout (a timer plus an abort listener) on every command
  // by default. Per PUBLISH that was ~5x the rest of the call (measured: ~20 µs vs ~3.7 µs of CPU).
  // Forwards go through a view of the same client without it: they are bounded by maxBacklog, a
  // stuck server is caught by the self-probe, and a lost connection still rejects them. The user's
  // client and its own commands keep their options (withCommandOptions returns a view).
  const publisher: Record<string, any> =
    typeof c.withCommandOptions === 'function' ? (c.withCommandOptions({ timeout: 0 }) as Record<string, any>) : c;
  // One function for every channel: node-redis keys listeners by function, so re-subscribing
  // with it after a reconnect adds nothing and unsubscribing removes only ours.
  const listener = (message: Buffer, channel: Buffer): void => handler?.(channel, message);
  return {
    kind: 'node-redis',
    ready: () => c.isReady === true,
    watch: (onChange) => watchEvents(c, NODE_REDIS_STATE_EVENTS, onChange),
    publish: (channel, message, sharded, ok, fail) => {
      // No closure per call (this runs once per forwarded message); a synchronous throw (closed
      // client) is a failure like any other.
      try {
        (sharded ? publisher.sPublish(channel, message) : publisher.publish(channel, message)).then(ok, fail);
      } catch (error) {
        fail(error);
      }
    },
    subscribe: (channels, sharded) =>
      attempt(() => (sharded ? c.sSubscribe(channels, listener, true) : c.subscribe(channels, listener, true))),
    unsubscribe: (channels, sharded) =>
      attempt(() => (sharded ? c.sUnsubscribe(channels, listener, true) : c.unsubscribe(channels, listener, true))),
    listen: (h) => {
      handler = h;
      return () => {
        handler = null;
      };
    },
  };
}

function ioredis(c: Record<string, any> & Emitter): ClientAdapter {
  // ioredis writes each command to its socket at once, inside publish(): one system call per
  // forward, made before this turn's local sockets are flushed — so a server's own subscribers
  // waited for Redis writes (measured: local p50 0.43-0.63 ms against 0.18-0.27 ms with
  // node-redis, which writes at the end of the turn). Forwards made in one turn go instead as one
  // pipeline, one write, after the local flush (both in the check phase, ours queued second). Not
  // on a Cluster client or for sharded channels: a cluster pipeline must stay within one slot.
  const batching = c.isCluster !== true && typeof c.pipeline === 'function';
  /** This turn's forwards: the pipeline and, per command, its two callbacks (no closure per call). */
  let batch: { pipeline: any; oks: Array<() => void>; fails: Array<(error: unknown) => void> } | null = null;
  const send = (): void => {
    const { pipeline, oks, fails } = batch!;
    batch = null;
    if (c.status !== 'ready' || c.stream?.writable === false) {
      // Lost the connection since publish(): ioredis would hold these in its offline queue and send
      // them after a reconnect. No offline queue here: they fail (and are counted) now.
      const error = new Error(`ioredis connection ${String(c.status)}`);
      for (const fail of fails) fail(error);
      return;
    }
    pipeline.exec().then(
      (results: Array<[Error | null, unknown]> | null) => {
        for (let i = 0; i < oks.length; i++) {
          const error = results?.[i]?.[0] ?? (results ? null : new Error('pipeline discarded'));
          if (error) fails[i]!(error);
          else oks[i]!();
        }
      },
      (error: unknown) => {
        for (const fail of fails) fail(error);
      },
    );
  };
  return {
    kind: 'ioredis',
    ready: () => c.status === 'ready',
    watch: (onChange) => watchEvents(c, IOREDIS_STATE_EVENTS, onChange),
    publish: (channel, message, sharded, ok, fail) => {
      try {
        if (sharded || !batching) {
          (sharded ? c.spublish(channel, message) : c.publish(channel, message)).then(ok, fail);
          return;
        }
        if (batch === null) {
          batch = { pipeline: c.pipeline(), oks: [], fails: [] };
          setImmediate(send);
        }
        batch.pipeline.publish(channel, message);
        batch.oks.push(ok);
        batch.fails.push(fail);
      } catch (error) {
        fail(error);
      }
    },
    subscribe: (channels, sharded) => attempt(() => (sharded ? c.ssubscribe(...channels) : c.subscribe(...channels))),
    unsubscribe: (channels, sharded) =>
      attempt(() => (sharded ? c.sunsubscribe(...channels) : c.unsubscribe(...channels))),
    listen: (h) => {
      const onMessage = (channel: Buffer, message: Buffer): void => h(channel, message);
      c.on('messageBuffer', onMessage);
      c.on('smessageBuffer', onMessage);
      return () => {
        detach(c, 'messageBuffer', onMessage);
        detach(c, 'smessageBuffer', onMessage);
      };
    },
  };
}
