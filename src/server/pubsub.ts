import type { SendData } from '../io/session.js';
import type { WebSocketConnection } from '../io/connection.js';
import { PerMessageDeflate } from '../extensions/permessage-deflate.js';
import { DeflateSharedFrame, SharedFrameBatch } from './broadcast.js';
import { TopicRegistry } from './topics.js';

/**
 * Per-publish choices.
 * @example
 * ```ts
 * import { serve } from 'fullduplex';
 *
 * const server = await serve((ws) => {
 *   ws.subscribe('chat');
 *   ws.on('message', (data) => server.publish('chat', data, { except: ws }));
 * });
 * server.publish('chat', Buffer.from([1, 2]), { binary: true, local: true }); // this process only
 * ```
 */
export interface PublishOptions {
  /** A connection not to deliver to (the sender, say). */
  except?: WebSocketConnection;
  /** Send as binary (default: strings as text, bytes as binary). */
  binary?: boolean;
  /** Stay in this process: do not forward to the backplane. Default false. */
  local?: boolean;
}

/**
 * Topics: who is subscribed to what, and delivery of a message to a topic's subscribers.
 *
 * Who calls what: connections call `subscribe`/`unsubscribe` (through `ws.subscribe(topic)`), the
 * server calls `unsubscribeAll` when a connection closes and `publish` for `server.publish()`.
 * The implementation reports a topic's first and last subscriber through the callbacks it was
 * built with, so a backplane subscribes upstream only to the topics this process holds.
 * @example
 * ```ts
 * import { LocalPubSub, type PubSub } from 'fullduplex';
 *
 * const topics: PubSub = new LocalPubSub();
 * topics.subscribe(ws, 'prices');
 * const queued = topics.publish('prices', JSON.stringify({ eurusd: 1.08 }));
 * console.log(queued, topics.count('prices'));
 * ```
 */
export interface PubSub {
  /** Adds `ws` to `topic`; false if it already was. */
  subscribe(ws: WebSocketConnection, topic: string): boolean;
  /** Removes `ws` from `topic`; false if it was not subscribed. */
  unsubscribe(ws: WebSocketConnection, topic: string): boolean;
  /** Removes `ws` from every topic. */
  unsubscribeAll(ws: WebSocketConnection): void;
  /** The topics `ws` is subscribed to. */
  topics(ws: WebSocketConnection): string[];
  /** Number of local subscribers of `topic`. */
  count(topic: string): number;
  /** Delivers to the local subscribers of `topic`; returns how many it was queued on. */
  publish(topic: string, data: SendData, options?: PublishOptions): number;
}

/**
 * Callbacks for a topic's first and last local subscriber.
 * @example
 * ```ts
 * import { LocalPubSub, type TopicTransitions } from 'fullduplex';
 *
 * const transitions: TopicTransitions = {
 *   opened: (topic) => upstream.subscribe(topic), // first local subscriber
 *   closed: (topic) => upstream.unsubscribe(topic), // last one left
 * };
 * const topics = new LocalPubSub(transitions);
 * ```
 */
export interface TopicTransitions {
  /** `topic` has its first local subscriber. */
  opened?(topic: string): void;
  /** `topic` lost its last local subscriber. */
  closed?(topic: string): void;
}

/**
 * The in-process {@link PubSub}: a registry of subscribers plus one shared frame batch per topic,
 * so a message is encoded once and queued on every subscriber by reference (cf. uWebSockets'
 * `TopicTree`).
 * @example
 * ```ts
 * import { LocalPubSub } from 'fullduplex';
 *
 * const topics = new LocalPubSub({ opened: (t) => console.log('first subscriber of', t) });
 * topics.subscribe(ws, 'room:1');
 * topics.publish('room:1', 'hello'); // encoded once, queued on every subscriber by reference
 * topics.unsubscribeAll(ws);
 * ```
 */
export class LocalPubSub implements PubSub {
  private readonly registry = new TopicRegistry();

  constructor(private readonly transitions: TopicTransitions = {}) {}

  subscribe(ws: WebSocketConnection, topic: string): boolean {
    if (!this.registry.subscribe(ws, topic)) return false;
    if (this.registry.get(topic).size === 1) this.transitions.opened?.(topic);
    return true;
  }

  unsubscribe(ws: WebSocketConnection, topic: string): boolean {
    if (!this.registry.unsubscribe(ws, topic)) return false;
    if (this.registry.entry(topic) === undefined) this.transitions.closed?.(topic);
    return true;
  }

  unsubscribeAll(ws: WebSocketConnection): void {
    for (const topic of this.registry.topics(ws)) this.unsubscribe(ws, topic);
  }

  topics(ws: WebSocketConnection): string[] {
    return this.registry.topics(ws);
  }

  count(topic: string): number {
    return this.registry.get(topic).size;
  }

  publish(topic: string, data: SendData, options: PublishOptions = {}): number {
    const entry = this.registry.entry(topic);
    return entry === undefined ? 0 : deliver(entry.batch, entry.subscribers, data, options);
  }
}

/**
 * Encodes `data` once into `batch` and queues that region on every receiver but `except`.
 * Receivers that negotiated permessage-deflate get the message compressed once per window class
 * instead ({@link DeflateSharedFrame}, built on the first such receiver; its payload is a view of
 * the batch region, no copy); the others cost no allocation. Returns the number of receivers it
 * was queued on.
 */
export function deliver(
  batch: SharedFrameBatch,
  receivers: Iterable<WebSocketConnection>,
  data: SendData,
  options: { except?: WebSocketConnection | undefined; binary?: boolean | undefined },
): number {
  const binary = options.binary ?? typeof data !== 'string';
  batch.encode(data, binary);
  const { buffer, start, end } = batch;
  let deflated: DeflateSharedFrame | null = null;
  let count = 0;
  for (const ws of receivers) {
    if (ws === options.except) continue;
    const session = ws.session;
    const extension = session.init.extensions[0];
    if (extension instanceof PerMessageDeflate) {
      deflated ??= new DeflateSharedFrame(buffer.subarray(end - batch.payloadLength, end), binary);
      if (session.sendSharedFor(deflated)) count++;
    } else if (ws.sendShared(buffer, start, end)) {
      count++;
    }
  }
  return count;
}
