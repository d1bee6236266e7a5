/**
 * `fullduplex/cluster`: topics across the workers of one machine through node:cluster IPC, with no
 * external service. Each worker is a backplane node ({@link clusterBackplane}); the primary
 * ({@link clusterPrimary}) routes by interest: workers tell it which topics they have local
 * subscribers for, and it forwards a publish only to the other workers interested in its topic
 * (broadcasts to every other worker).
 *
 * ```ts
 * import cluster from 'node:cluster';
 * import { clusterBackplane, clusterPrimary } from 'fullduplex/cluster';
 * if (cluster.isPrimary) {
 *   clusterPrimary();                 // before the first fork: sets serialization 'advanced'
 *   for (let i = 0; i < 2; i++) cluster.fork();
 * } else {
 *   const server = await serve(handler, { port: 8080, backplane: clusterBackplane() });
 * }
 * ```
 *
 * Payloads cross IPC as Buffers with `serialization: 'advanced'` (set by {@link clusterPrimary}).
 * If the workers were forked with the default JSON serialization, the driver falls back to
 * base64 strings (+33 % on the wire, still correct). Messages use the same wire format as the
 * Redis driver (sequence numbers, validation), so loss and bad input are counted the same way.
 *
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import type { Backplane, BackplaneSink } from '../server/backplane.js';
import { NodeCore, type DriverStats } from '../backplane/node.js';

export type { DriverStats } from '../backplane/node.js';

/** Tag on every IPC message of this module, so the application's own IPC messages are left alone. */
const TAG = 'fullduplex:backplane';
const BROADCAST_CHANNEL = 'b';

/** Worker → primary and primary → worker messages. `data` is a Buffer (advanced) or base64 (json). */
type IpcMessage =
  | { tag: typeof TAG; op: 'interest'; add: string[]; remove: string[] }
  | { tag: typeof TAG; op: 'publish'; topic: string | null; data: Uint8Array | string }
  | { tag: typeof TAG; op: 'deliver'; topic: string | null; data: Uint8Array | string };

function isOurs(message: unknown): message is IpcMessage {
  return typeof message === 'object' && message !== null && (message as { tag?: unknown }).tag === TAG;
}

function toBuffer(data: Uint8Array | string): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'base64');
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Options of {@link clusterBackplane}.
 * @example
 * ```ts
 * import { clusterBackplane, type ClusterBackplaneOptions } from 'fullduplex/cluster';
 *
 * const options: ClusterBackplaneOptions = { maxMessageSize: 1024 * 1024, maxBacklog: 1_000 };
 * const server = await serve(handler, { port: 8080, backplane: clusterBackplane(options) });
 * ```
 */
export interface ClusterBackplaneOptions {
  /** Largest payload forwarded or accepted, bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** IPC sends not yet flushed above which new publishes are dropped (counted, `'backlog'`). Default 10,000. */
  maxBacklog?: number;
}

/**
 * The backplane for a cluster worker (see the module documentation).
 * @example
 * ```ts
 * import cluster from 'node:cluster';
 * import { serve } from 'fullduplex';
 * import { clusterBackplane, clusterPrimary } from 'fullduplex/cluster';
 *
 * if (cluster.isPrimary) {
 *   clusterPrimary();
 *   for (let i = 0; i < 2; i++) cluster.fork();
 * } else {
 *   const server = await serve((ws) => void ws.subscribe('chat'), { port: 8080, backplane: clusterBackplane() });
 *   server.publish('chat', `hello from worker ${process.pid}`); // reaches subscribers in every worker
 * }
 * ```
 */
export function clusterBackplane(options: ClusterBackplaneOptions = {}): ClusterBackplane {
  return new ClusterBackplane(options);
}

/**
 * A worker's {@link Backplane} over IPC to the primary.
 * @example
 * ```ts
 * import { clusterBackplane } from 'fullduplex/cluster';
 *
 * // In a worker:
 * const backplane = clusterBackplane();
 * const server = await serve(handler, { port: 8080, backplane });
 * setInterval(() => console.log(backplane.stats()), 60_000);
 * ```
 */
export class ClusterBackplane implements Backplane {
  private readonly core: NodeCore;
  private readonly maxBacklog: number;
  private readonly advanced = process.env.NODE_CHANNEL_SERIALIZATION_MODE === 'advanced';
  private readonly local = new Set<string>();
  private readonly dirty = new Set<string>();
  private flushScheduled: NodeJS.Immediate | null = null;
  private inflight = 0;
  private started = false;
  private closed = false;

  constructor(options: ClusterBackplaneOptions = {}) {
    if (typeof process.send !== 'function') throw new Error('clusterBackplane() must run in a cluster worker (no IPC channel)');
    this.core = new NodeCore(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize });
    this.maxBacklog = options.maxBacklog ?? 10_000;
  }

  /** {@inheritDoc index!Backplane.start} */
  start(sink: BackplaneSink): void {
    if (this.started) throw new Error('backplane already started');
    this.started = true;
    this.core.start(sink);
    process.on('message', this.onMessage);
    process.on('disconnect', this.onDisconnect);
    this.core.setUp(process.connected);
    if (this.dirty.size > 0) this.scheduleFlush();
  }

  /** {@inheritDoc index!Backplane.publish} */
  publish(topic: string | null, payload: Buffer, binary: boolean): void {
    if (this.closed) return;
    if (payload.length > this.core.maxMessageSize) return this.core.drop('size');
    if (!process.connected) return this.core.drop('down');
    if (this.inflight >= this.maxBacklog) return this.core.drop('backlog');
    const channel = topic === null ? BROADCAST_CHANNEL : `t:${topic}`;
    const wire = this.core.encode(channel, payload, binary, topic === null);
    this.inflight++;
    const message: IpcMessage = { tag: TAG, op: 'publish', topic, data: this.advanced ? wire : wire.toString('base64') };
    try {
      process.send!(message, undefined, {}, this.onSent);
    } catch {
      this.onSent(new Error('IPC send failed'));
    }
  }

  /** {@inheritDoc index!Backplane.subscribe} */
  subscribe(topic: string): void {
    if (this.closed || this.local.has(topic)) return;
    this.local.add(topic);
    this.markDirty(topic);
  }

  /** {@inheritDoc index!Backplane.unsubscribe} */
  unsubscribe(topic: string): void {
    if (this.closed || !this.local.delete(topic)) return;
    this.core.tracker.forgetChannel(`t:${topic}`);
    this.markDirty(topic);
  }

  /** {@inheritDoc index!Backplane.stats} */
  stats(): DriverStats {
    return this.core.stats();
  }

  /** {@inheritDoc index!Backplane.close} */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    if (this.started && process.connected && this.local.size > 0) {
      this.send({ tag: TAG, op: 'interest', add: [], remove: [...this.local] });
    }
    this.local.clear();
    this.dirty.clear();
    process.off('message', this.onMessage);
    process.off('disconnect', this.onDisconnect);
    this.core.setUp(false);
    this.core.close();
  }

  private markDirty(topic: string): void {
    this.dirty.add(topic);
    if (this.started) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.flushScheduled ??= setImmediate(() => {
      this.flushScheduled = null;
      const add: string[] = [];
      const remove: string[] = [];
      for (const topic of this.dirty) (this.local.has(topic) ? add : remove).push(topic);
      this.dirty.clear();
      if (!this.closed && process.connected && add.length + remove.length > 0) this.send({ tag: TAG, op: 'interest', add, remove });
    });
  }

  private send(message: IpcMessage): void {
    try {
      process.send!(message);
    } catch {
      // The channel closed under us: 'disconnect' reports it.
    }
  }

  private readonly onSent = (error: Error | null): void => {
    this.inflight--;
    if (error) this.core.counters.publishErrors++;
  };

  private readonly onMessage = (message: unknown): void => {
    if (this.closed || !isOurs(message) || message.op !== 'deliver') return;
    const channel = message.topic === null ? BROADCAST_CHANNEL : `t:${message.topic}`;
    this.core.inbound(channel, message.topic, toBuffer(message.data));
  };

  private readonly onDisconnect = (): void => {
    this.core.setUp(false, new Error('IPC channel to the primary closed'));
  };
}

/**
 * What {@link clusterPrimary} returns.
 * @example
 * ```ts
 * import cluster from 'node:cluster';
 * import { clusterPrimary, type ClusterPrimary } from 'fullduplex/cluster';
 *
 * const router: ClusterPrimary = clusterPrimary();
 * cluster.fork();
 * cluster.fork();
 * setInterval(() => console.log(router.stats(), router.interested('chat')), 60_000);
 * ```
 */
export interface ClusterPrimary {
  /** Workers interested in `topic` (for tests and diagnostics). */
  interested(topic: string): number;
  /** Messages forwarded to workers, and publishes that had no other interested worker. */
  stats(): { forwarded: number; unrouted: number; topics: number };
  /** Stops routing (workers' publishes are then ignored). */
  close(): void;
}

/**
 * The router in the primary. Call before forking: it sets `serialization: 'advanced'` so Buffers
 * cross IPC as Buffers (pass `{ serialization: 'json' }` to keep JSON; workers then use base64).
 * @example
 * ```ts
 * import cluster from 'node:cluster';
 * import { clusterPrimary } from 'fullduplex/cluster';
 *
 * if (cluster.isPrimary) {
 *   const router = clusterPrimary(); // before the first fork
 *   for (let i = 0; i < 4; i++) cluster.fork();
 *   process.on('SIGTERM', () => router.close());
 * }
 * ```
 */
export function clusterPrimary(options: { serialization?: 'advanced' | 'json' } = {}): ClusterPrimary {
  if (!cluster.isPrimary) throw new Error('clusterPrimary() must run in the cluster primary');
  cluster.setupPrimary({ serialization: options.serialization ?? 'advanced' });
  const topics = new Map<string, Set<Worker>>();
  const interests = new Map<Worker, Set<string>>();
  let forwarded = 0;
  let unrouted = 0;

  const forget = (worker: Worker, topic: string): void => {
    const set = topics.get(topic);
    if (set === undefined) return;
    set.delete(worker);
    if (set.size === 0) topics.delete(topic);
  };

  const deliver = (worker: Worker, topic: string | null, data: Uint8Array | string): void => {
    if (!worker.isConnected()) return;
    forwarded++;
    try {
      worker.send({ tag: TAG, op: 'deliver', topic, data } satisfies IpcMessage);
    } catch {
      // The worker is going away; its 'exit' cleans up.
    }
  };

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isOurs(message)) return;
    if (message.op === 'interest') {
      let mine = interests.get(worker);
      if (mine === undefined) interests.set(worker, (mine = new Set()));
      for (const topic of message.add) {
        mine.add(topic);
        let set = topics.get(topic);
        if (set === undefined) topics.set(topic, (set = new Set()));
        set.add(worker);
      }
      for (const topic of message.remove) {
        mine.delete(topic);
        forget(worker, topic);
      }
    } else if (message.op === 'publish') {
      // Forward the bytes as received: the primary never decodes (workers validate).
      let n = 0;
      if (message.topic === null) {
        for (const other of Object.values(cluster.workers ?? {})) {
          if (other !== undefined && other !== worker) {
            deliver(other, null, message.data);
            n++;
          }
        }
      } else {
        for (const other of topics.get(message.topic) ?? []) {
          if (other !== worker) {
            deliver(other, message.topic, message.data);
            n++;
          }
        }
      }
      if (n === 0) unrouted++;
    }
  };

  const onExit = (worker: Worker): void => {
    for (const topic of interests.get(worker) ?? []) forget(worker, topic);
    interests.delete(worker);
  };

  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  return {
    interested: (topic) => topics.get(topic)?.size ?? 0,
    stats: () => ({ forwarded, unrouted, topics: topics.size }),
    close: () => {
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
      topics.clear();
      interests.clear();
    },
  };
}
