import type { WebSocketConnection } from '../io/connection.js';
import { SharedFrameBatch } from './broadcast.js';

/** A topic's subscribers and the shared buffer its messages are encoded into. */
export interface TopicEntry {
  readonly subscribers: Set<WebSocketConnection>;
  readonly batch: SharedFrameBatch;
}

/**
 * Publish/subscribe bookkeeping for one server: topic → subscribers, and connection → topics so a
 * closing connection leaves every topic in one pass.
 */
export class TopicRegistry {
  private readonly entries = new Map<string, TopicEntry>();
  private readonly topicsOf = new WeakMap<WebSocketConnection, Set<string>>();

  /** Adds `ws` to `topic`. Returns false if it was already subscribed. */
  subscribe(ws: WebSocketConnection, topic: string): boolean {
    let entry = this.entries.get(topic);
    if (!entry) this.entries.set(topic, (entry = { subscribers: new Set(), batch: new SharedFrameBatch() }));
    const set = entry.subscribers;
    if (set.has(ws)) return false;
    set.add(ws);
    let topics = this.topicsOf.get(ws);
    if (!topics) this.topicsOf.set(ws, (topics = new Set()));
    topics.add(topic);
    return true;
  }

  /** Removes `ws` from `topic`. Returns false if it was not subscribed. */
  unsubscribe(ws: WebSocketConnection, topic: string): boolean {
    const set = this.entries.get(topic)?.subscribers;
    if (!set?.delete(ws)) return false;
    if (set.size === 0) this.entries.delete(topic);
    this.topicsOf.get(ws)?.delete(topic);
    return true;
  }

  /** Removes `ws` from every topic (on close). */
  unsubscribeAll(ws: WebSocketConnection): void {
    const topics = this.topicsOf.get(ws);
    if (!topics) return;
    for (const topic of topics) this.unsubscribe(ws, topic);
    this.topicsOf.delete(ws);
  }

  /** Topics `ws` is subscribed to. */
  topics(ws: WebSocketConnection): string[] {
    return [...(this.topicsOf.get(ws) ?? [])];
  }

  /** Subscribers of `topic` (empty when none). */
  get(topic: string): ReadonlySet<WebSocketConnection> {
    return this.entries.get(topic)?.subscribers ?? EMPTY;
  }

  /** The topic's entry, or undefined when it has no subscribers. */
  entry(topic: string): TopicEntry | undefined {
    return this.entries.get(topic);
  }
}

const EMPTY: ReadonlySet<WebSocketConnection> = new Set();
