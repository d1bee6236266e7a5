/**
 * `fullduplex/redis`: topics across processes and machines through Redis (or Valkey) pub/sub.
 *
 * One channel per topic (`<prefix>:t:<topic>`), subscribed only while this process has local
 * subscribers for it (plus a short linger, so a client that reconnects does not churn the
 * subscription); `<prefix>:b` for broadcasts; `<prefix>:n:<node id>` for this node's health
 * probe. Delivery is at most once, like Redis pub/sub itself — but loss is never silent: messages
 * not forwarded while Redis is down are counted as dropped (there is no offline queue, memory
 * stays bounded), messages lost between nodes are counted as gaps by sequence number, and a
 * periodic self-probe through Redis catches the outage where sockets stay open and nothing
 * arrives.
 *
 * ```ts
 * import { createClient } from 'redis';
 * import { redisBackplane } from 'fullduplex/redis';
 * const publisher = await createClient({ url }).on('error', console.error).connect();
 * const subscriber = await publisher.duplicate().on('error', console.error).connect();
 * const server = await serve(handler, { backplane: redisBackplane({ publisher, subscriber }) });
 * ```
 *
 * Works with node-redis (`redis` / `@redis/client` v4+) and ioredis (v5+), detected by shape;
 * nothing is imported. The clients stay yours: `close()` unsubscribes and leaves them open. Use
 * a reconnect strategy that never gives up (both libraries' defaults do); for ioredis a 500 ms cap
 * (`retryStrategy: (n) => Math.min(n * 50, 500)`) bounds recovery time. Forwards go out through a
 * view of your node-redis publisher without its per-command timeout (a timer per PUBLISH cost ~3x
 * the rest of the hop); publishes in flight are bounded by `maxBacklog` instead, a stuck server
 * is caught by the probe, and your own commands keep your options.
 *
 * @module
 */
import type { Backplane, BackplaneSink } from '../server/backplane.js';
import { NodeCore, type DriverStats } from '../backplane/node.js';
import { adaptClient, type ClientAdapter, type RedisClientLike } from './clients.js';

export type { RedisClientLike } from './clients.js';
export type { DriverStats } from '../backplane/node.js';

/**
 * Options of {@link redisBackplane}.
 * @example
 * ```ts
 * import { redisBackplane, type RedisBackplaneOptions } from 'fullduplex/redis';
 *
 * const options: RedisBackplaneOptions = { publisher, subscriber, prefix: 'chat', sharded: true, linger: 5_000 };
 * const server = await serve(handler, { backplane: redisBackplane(options) });
 * ```
 */
export interface RedisBackplaneOptions {
  /** Client for PUBLISH (a normal connection). */
  publisher: RedisClientLike;
  /** Client for SUBSCRIBE (a dedicated connection: a subscribed connection can do nothing else). */
  subscriber: RedisClientLike;
  /** Channel prefix; every node of a deployment must use the same. Default `'fd'`. */
  prefix?: string;
  /**
   * Use sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis ≥ 7) for topics, for Redis Cluster. Sharded
   * and classic channels are separate namespaces: every node must agree. Default false.
   */
  sharded?: boolean;
  /** ms a topic channel stays subscribed after its last local subscriber left. Default 1500. */
  linger?: number;
  /** Largest payload forwarded (larger ones stay local, counted as dropped `'size'`) or accepted. Default 16 MiB. */
  maxMessageSize?: number;
  /** Publishes in flight to Redis above which new ones are dropped (counted, `'backlog'`). Default 10,000. */
  maxBacklog?: number;
  /** ms between self-probes through Redis; 0 disables the probe. Default 5000. */
  healthInterval?: number;
  /** ms a probe may take before the node is reported down and resubscribes everything. Default 2000. */
  healthTimeout?: number;
}

/** Channels per SUBSCRIBE command when (re)subscribing many topics at once. */
const BATCH = 512;

/**
 * Creates a Redis backplane for `serve(handler, { backplane })` from your own two clients.
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { serve } from 'fullduplex';
 * import { redisBackplane } from 'fullduplex/redis';
 *
 * const publisher = await createClient({ url: 'redis://127.0.0.1:6379' }).on('error', console.error).connect();
 * const subscriber = await publisher.duplicate().on('error', console.error).connect();
 * const server = await serve((ws) => void ws.subscribe('news'), { port: 8080, backplane: redisBackplane({ publisher, subscriber }) });
 * server.publish('news', 'reaches subscribers on every node');
 * ```
 */
export function redisBackplane(options: RedisBackplaneOptions): RedisBackplane {
  return new RedisBackplane(options);
}

/**
 * The Redis {@link Backplane}; see the module documentation.
 * @example
 * ```ts
 * import { redisBackplane } from 'fullduplex/redis';
 *
 * const backplane = redisBackplane({ publisher, subscriber });
 * const server = await serve(handler, { backplane });
 * console.log(backplane.nodeId, backplane.stats());
 * await server.close(); // closes the backplane too: it unsubscribes, the two clients stay open
 * ```
 */
export class RedisBackplane implements Backplane {
  /** This node's origin id, hex (as in `gap` events of other nodes). */
  readonly nodeId: string;
  private readonly core: NodeCore;
  private readonly pub: ClientAdapter;
  private readonly sub: ClientAdapter;
  private readonly sharded: boolean;
  private readonly linger: number;
  private readonly maxBacklog: number;
  private readonly healthInterval: number;
  private readonly healthTimeout: number;
  private readonly topicPrefix: string;
  private readonly broadcastChannel: string;
  private readonly nodeChannel: string;

  /** Topics with local subscribers. */
  private readonly local = new Set<string>();
  /** Topics whose last local subscriber left, with the time to unsubscribe (insertion = deadline order). */
  private readonly lingering = new Map<string, number>();
  /** Topics subscribed at Redis (or being subscribed). */
  private readonly upstream = new Set<string>();
  /** Topics whose desired state changed this turn. */
  private readonly dirty = new Set<string>();
  private flushScheduled: NodeJS.Immediate | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;

  private inflight = 0;
  private started = false;
  private closed = false;
  /** Set when the subscriber lost its connection: resubscribe everything once it is ready. */
  private resubscribeOnReady = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private probeDeadline: NodeJS.Timeout | null = null;
  private probeId = 0;
  private probePending = 0;
  /**
   * Our own (broadcast + node) channels are confirmed subscribed. A probe published before that
   * can overtake the SUBSCRIBE (it goes out on the other connection) and be lost: probes wait.
   */
  private ownSubscribed = false;
  private ownPending = false;
  private readonly detachers: Array<() => void> = [];

  constructor(options: RedisBackplaneOptions) {
    this.pub = adaptClient(options.publisher, 'publisher');
    this.sub = adaptClient(options.subscriber, 'subscriber');
    if (options.publisher === options.subscriber) {
      throw new TypeError('publisher and subscriber must be two connections (a subscribed connection cannot PUBLISH)');
    }
    this.core = new NodeCore(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize });
    this.nodeId = this.core.id.toString('hex');
    const prefix = options.prefix ?? 'fd';
    this.sharded = options.sharded ?? false;
    this.linger = options.linger ?? 1500;
    this.maxBacklog = options.maxBacklog ?? 10_000;
    this.healthInterval = options.healthInterval ?? 5000;
    this.healthTimeout = options.healthTimeout ?? 2000;
    this.topicPrefix = `${prefix}:t:`;
    this.broadcastChannel = `${prefix}:b`;
    this.nodeChannel = `${prefix}:n:${this.nodeId}`;
  }

  /** {@inheritDoc index!Backplane.start} */
  start(sink: BackplaneSink): void {
    if (this.started) throw new Error('backplane already started');
    this.started = true;
    this.core.start(sink);
    this.detachers.push(
      this.sub.listen((channel, message) => this.onMessage(channel, message)),
      this.pub.watch((error) => this.onState(error)),
      this.sub.watch((error) => this.onState(error)),
    );
    // The broadcast and node channels are classic in both modes (node channels must be visible
    // to every node; see the design note on sharded namespaces).
    this.subscribeOwn();
    if (this.dirty.size > 0) this.scheduleFlush();
    if (this.healthInterval > 0) {
      this.probeTimer = setInterval(() => this.probe(), this.healthInterval).unref();
    }
    this.onState();
  }

  /** {@inheritDoc index!Backplane.publish} */
  publish(topic: string | null, payload: Buffer, binary: boolean): void {
    if (this.closed) return;
    if (payload.length > this.core.maxMessageSize) return this.core.drop('size');
    // A client that is not ready would queue the command and resolve it later without delivering
    // anything anyone still waits for: skip and count instead.
    if (!this.pub.ready()) return this.core.drop('down');
    if (this.inflight >= this.maxBacklog) return this.core.drop('backlog');
    const broadcast = topic === null;
    const channel = broadcast ? this.broadcastChannel : this.topicPrefix + topic;
    const message = this.core.encode(channel, payload, binary, broadcast);
    this.inflight++;
    this.pub.publish(channel, message, this.sharded && !broadcast, this.onPublished, this.onPublishError);
  }

  /** {@inheritDoc index!Backplane.subscribe} */
  subscribe(topic: string): void {
    if (this.closed) return;
    this.local.add(topic);
    if (this.lingering.delete(topic)) return; // still subscribed upstream: nothing to do
    this.markDirty(topic);
  }

  /** {@inheritDoc index!Backplane.unsubscribe} */
  unsubscribe(topic: string): void {
    if (this.closed || !this.local.delete(topic)) return;
    if (this.linger <= 0 || !this.upstream.has(topic)) return this.markDirty(topic);
    this.lingering.set(topic, Date.now() + this.linger);
    if (this.lingerTimer === null) this.armLinger();
  }

  /** {@inheritDoc index!Backplane.stats} */
  stats(): DriverStats {
    return this.core.stats();
  }

  /** Sizes of the internal maps (for leak checks and memory measurements). */
  debugSizes(): { local: number; lingering: number; upstream: number; dirty: number; seqs: number; tracked: number } {
    return {
      local: this.local.size,
      lingering: this.lingering.size,
      upstream: this.upstream.size,
      dirty: this.dirty.size,
      seqs: this.core.seqs.size,
      tracked: this.core.tracker.entries,
    };
  }

  /** {@inheritDoc index!Backplane.close} */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    if (this.probeDeadline !== null) clearTimeout(this.probeDeadline);
    this.flushScheduled = this.lingerTimer = this.probeTimer = this.probeDeadline = null;
    const topics = [...this.upstream].map((topic) => this.topicPrefix + topic);
    this.upstream.clear();
    this.local.clear();
    this.lingering.clear();
    this.dirty.clear();
    const pending: Promise<unknown>[] = [];
    if (this.started && this.sub.ready()) {
      for (let i = 0; i < topics.length; i += BATCH) pending.push(this.unsubscribeChannels(topics.slice(i, i + BATCH)));
      pending.push(this.sub.unsubscribe([this.broadcastChannel, this.nodeChannel], false));
    }
    await Promise.allSettled(pending);
    for (const detach of this.detachers.splice(0)) detach();
    this.core.setUp(false);
    this.core.close();
  }

  // --- interest ------------------------------------------------------------------------------

  private markDirty(topic: string): void {
    this.dirty.add(topic);
    if (this.started) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    // setImmediate, not a microtask: every subscribe/unsubscribe of this event-loop turn (e.g. a
    // batch of connections closing) lands in one command.
    this.flushScheduled ??= setImmediate(() => {
      this.flushScheduled = null;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed) return;
    const add: string[] = [];
    const remove: string[] = [];
    for (const topic of this.dirty) {
      const wanted = this.local.has(topic) || this.lingering.has(topic);
      if (wanted && !this.upstream.has(topic)) {
        this.upstream.add(topic);
        add.push(this.topicPrefix + topic);
      } else if (!wanted && this.upstream.delete(topic)) {
        const channel = this.topicPrefix + topic;
        remove.push(channel);
        this.core.tracker.forgetChannel(channel);
      }
    }
    this.dirty.clear();
    this.subscribeChannels(add);
    for (let i = 0; i < remove.length; i += BATCH) {
      this.unsubscribeChannels(remove.slice(i, i + BATCH)).catch(ignore);
    }
  }

  private subscribeChannels(channels: string[]): void {
    if (this.sharded) {
      // One SSUBSCRIBE per channel: a batch spanning hash slots fails with CROSSSLOT on a cluster.
      for (const channel of channels) this.sub.subscribe([channel], true).catch(this.onSubscribeError);
      return;
    }
    for (let i = 0; i < channels.length; i += BATCH) {
      this.sub.subscribe(channels.slice(i, i + BATCH), false).catch(this.onSubscribeError);
    }
  }

  private unsubscribeChannels(channels: string[]): Promise<unknown> {
    if (channels.length === 0) return Promise.resolve(); // an empty UNSUBSCRIBE means "all"
    if (!this.sharded) return this.sub.unsubscribe(channels, false);
    return Promise.all(channels.map((channel) => this.sub.unsubscribe([channel], true)));
  }

  private armLinger(): void {
    const first = this.lingering.values().next();
    if (first.done) {
      this.lingerTimer = null;
      return;
    }
    this.lingerTimer = setTimeout(() => this.expireLinger(), Math.max(0, first.value - Date.now())).unref();
  }

  private expireLinger(): void {
    const now = Date.now();
    for (const [topic, deadline] of this.lingering) {
      if (deadline > now) break;
      this.lingering.delete(topic);
      this.markDirty(topic);
    }
    this.armLinger();
  }

  /** Subscribes every wanted channel again (after a reconnect or a failed probe). */
  private resubscribeAll(force: boolean): void {
    const channels = [...this.upstream].map((topic) => this.topicPrefix + topic);
    const own = [this.broadcastChannel, this.nodeChannel];
    if (force && this.sub.kind === 'node-redis') {
      // node-redis skips SUBSCRIBE for channels it believes it has: drop our listener first so
      // the command really goes out (both are pipelined in order on the one connection).
      this.sub.unsubscribe(own, false).catch(ignore);
      for (let i = 0; i < channels.length; i += BATCH) this.unsubscribeChannels(channels.slice(i, i + BATCH)).catch(ignore);
    }
    this.subscribeOwn();
    this.subscribeChannels(channels);
  }

  /** Subscribes the broadcast and node channels; once confirmed, probes if the node is not up yet. */
  private subscribeOwn(): void {
    this.ownSubscribed = false;
    this.ownPending = true;
    this.sub.subscribe([this.broadcastChannel, this.nodeChannel], false).then(() => {
      this.ownPending = false;
      if (this.closed) return;
      this.ownSubscribed = true;
      if (!this.core.counters.up && this.pub.ready() && this.sub.ready()) {
        if (this.healthInterval > 0) this.probe(true);
        else this.core.setUp(true);
      }
    }, (error: unknown) => {
      this.ownPending = false;
      this.onSubscribeError(error);
    });
  }

  // --- health --------------------------------------------------------------------------------

  /** A client changed state (or erred). Down at once; up only once a probe made the round trip. */
  private onState(error?: Error): void {
    if (this.closed || !this.started) return;
    const pubReady = this.pub.ready();
    const subReady = this.sub.ready();
    if (!subReady) this.resubscribeOnReady = true;
    if (!pubReady || !subReady) {
      this.core.setUp(false, error);
      return;
    }
    if (this.resubscribeOnReady) {
      this.resubscribeOnReady = false;
      this.resubscribeAll(false);
    }
    if (this.core.counters.up || !this.ownSubscribed) return; // else subscribeOwn() takes it from there
    if (this.healthInterval > 0) this.probe(true);
    else this.core.setUp(true);
  }

  /** Publishes a probe to our own node channel; `fresh` abandons one still pending (sent before a reconnect). */
  private probe(fresh = false): void {
    if (this.closed || !this.pub.ready()) return;
    if (!this.ownSubscribed) {
      // A failed SUBSCRIBE on a connection that stayed ready would otherwise stop the probes for good.
      if (!this.ownPending && this.sub.ready()) this.subscribeOwn();
      return;
    }
    if (this.probePending !== 0) {
      if (!fresh) return;
      this.probePending = 0;
      if (this.probeDeadline !== null) clearTimeout(this.probeDeadline);
    }
    this.probeId = (this.probeId % 0xffff_fffe) + 1;
    this.probePending = this.probeId;
    const body = Buffer.allocUnsafe(4);
    body.writeUInt32BE(this.probeId);
    this.pub.publish(this.nodeChannel, body, false, ignore, ignore);
    this.probeDeadline = setTimeout(() => this.probeTimedOut(), this.healthTimeout).unref();
  }

  private probeTimedOut(): void {
    this.probeDeadline = null;
    if (this.closed || this.probePending === 0) return;
    this.probePending = 0;
    this.core.setUp(false, new Error(`health probe not received within ${this.healthTimeout} ms`));
    // The connection may look fine while the subscriptions are gone: make them again.
    if (this.sub.ready()) this.resubscribeAll(true);
    else this.resubscribeOnReady = true;
  }

  private onProbe(message: Buffer): void {
    if (message.length !== 4 || message.readUInt32BE(0) !== this.probePending) return;
    this.probePending = 0;
    if (this.probeDeadline !== null) clearTimeout(this.probeDeadline);
    this.probeDeadline = null;
    if (this.pub.ready() && this.sub.ready()) this.core.setUp(true);
  }

  // --- inbound -------------------------------------------------------------------------------

  private onMessage(channelRaw: Buffer | string, message: Buffer): void {
    if (this.closed) return;
    const channel = typeof channelRaw === 'string' ? channelRaw : channelRaw.toString();
    if (channel === this.nodeChannel) return this.onProbe(message);
    if (channel === this.broadcastChannel) return this.core.inbound(channel, null, message);
    if (channel.startsWith(this.topicPrefix)) {
      this.core.inbound(channel, channel.slice(this.topicPrefix.length), message);
    }
    // Anything else is the user's own subscription on a shared ioredis connection: not ours.
  }

  private readonly onPublished = (): void => {
    this.inflight--;
  };

  private readonly onPublishError = (): void => {
    // The seq was taken: if the message never reached Redis, receivers report it as a gap.
    this.inflight--;
    this.core.counters.publishErrors++;
  };

  private readonly onSubscribeError = (_error?: unknown): void => {
    // The client lost its connection mid-command; it resubscribes when ready (and so do we).
    this.resubscribeOnReady = true;
  };
}

function ignore(): void {}
