/**
 * The seam between a server's topics and other processes or machines (issue 13).
 *
 * The server publishes to its local subscribers synchronously, then hands the message to the
 * backplane, which forwards it to the other nodes. A node subscribes upstream only to the topics
 * it has local subscribers for: the server calls {@link Backplane.subscribe} when a topic gets its
 * first local subscriber and {@link Backplane.unsubscribe} when it loses its last one. Messages
 * from other nodes come back through the {@link BackplaneSink} given to {@link Backplane.start},
 * and the server delivers them to its local subscribers only (never forwarding them again).
 *
 * The core imports no backplane implementation; `fullduplex/redis` and `fullduplex/cluster` are
 * implementations that live outside it.
 * @example
 * ```ts
 * import { serve, type Backplane, type BackplaneSink } from 'fullduplex';
 *
 * // A backplane that only logs: every publish stays on this node.
 * class LoggingBackplane implements Backplane {
 *   private published = 0;
 *   start(_sink: BackplaneSink): void {}
 *   publish(topic: string | null, payload: Buffer): void {
 *     this.published++;
 *     console.log('would forward', topic ?? '(broadcast)', payload.length, 'bytes');
 *   }
 *   subscribe(topic: string): void {}
 *   unsubscribe(topic: string): void {}
 *   stats() {
 *     return { published: this.published, received: 0, gaps: 0, dropped: 0, malformed: 0, duplicates: 0, up: true };
 *   }
 *   async close(): Promise<void> {}
 * }
 * await serve(handler, { backplane: new LoggingBackplane() });
 * ```
 */
export interface Backplane {
  /**
   * Called once by the server when it starts using the backplane. The backplane keeps `sink` and
   * calls it for every message from another node and for every health event.
   */
  start(sink: BackplaneSink): void;
  /**
   * Forwards a message published on this node. Must not throw and must not block: when the
   * backplane is down the message is dropped and counted (no offline queue).
   * `topic === null` means a broadcast to every connection of the deployment.
   */
  publish(topic: string | null, payload: Buffer, binary: boolean): void;
  /** The node has its first local subscriber for `topic`. */
  subscribe(topic: string): void;
  /** The node has no local subscriber left for `topic`. */
  unsubscribe(topic: string): void;
  /** Counters since start (see {@link BackplaneStats}). */
  stats(): BackplaneStats;
  /** Stops: unsubscribes, clears timers; leaves the user's own clients open. */
  close(): Promise<void>;
}

/**
 * What a backplane calls back on the server.
 * @example
 * ```ts
 * import type { Backplane, BackplaneSink } from 'fullduplex';
 *
 * // Inside a driver: hand messages from other nodes to the server, report health.
 * let sink: BackplaneSink;
 * const start: Backplane['start'] = (s) => (sink = s);
 * onRemoteMessage((topic, payload, binary) => sink.deliver(topic, payload, binary));
 * onDisconnect((error) => sink.event({ type: 'down', error }));
 * ```
 */
export interface BackplaneSink {
  /** A message published on another node; deliver it to local subscribers (or everyone when `topic` is null). */
  deliver(topic: string | null, payload: Buffer, binary: boolean): void;
  /** A health or loss event, re-emitted by the server as `'backplane'`. */
  event(event: BackplaneEvent): void;
}

/**
 * Health and loss events a backplane reports.
 * @example
 * ```ts
 * import { serve, type BackplaneEvent } from 'fullduplex';
 *
 * const server = await serve(handler, { backplane });
 * server.on('backplane', (event: BackplaneEvent) => {
 *   if (event.type === 'gap') console.warn(`${event.missed} messages from ${event.origin} lost`);
 *   if (event.type === 'down') console.error('backplane down', event.error);
 * });
 * ```
 */
export type BackplaneEvent =
  | { type: 'down'; error?: Error }
  | { type: 'up' }
  | { type: 'gap'; origin: string; topic: string | null; missed: number }
  | { type: 'dropped'; reason: 'down' | 'error' | 'backlog' | 'size'; count: number }
  | { type: 'malformed'; reason: string };

/**
 * Counters of a backplane, since it started. Reported loss equals actual loss.
 * @example
 * ```ts
 * import { serve } from 'fullduplex';
 *
 * const server = await serve(handler, { backplane });
 * setInterval(() => {
 *   const stats = server.backplaneStats(); // null without a backplane
 *   if (stats && !stats.up) console.warn('backplane down; dropped so far:', stats.dropped);
 * }, 10_000);
 * ```
 */
export interface BackplaneStats {
  /** Messages forwarded to other nodes. */
  published: number;
  /** Messages received from other nodes and delivered locally. */
  received: number;
  /** Messages from other nodes detected missing by sequence number. */
  gaps: number;
  /** Messages this node could not forward (backplane down or erroring). */
  dropped: number;
  /** Malformed messages received and dropped. */
  malformed: number;
  /** Duplicates suppressed. */
  duplicates: number;
  /** Whether the backplane is currently connected. */
  up: boolean;
}
