/**
 * Example 6's synced counter, for several processes: the same JSON messages, but the value and
 * the number of users live in a store every process shares (Redis keys in server.ts, the cluster
 * primary in cluster.ts), and `server.publish()` reaches the subscribers of every process through
 * the server's backplane.
 */
import type { WebSocketConnection, WebSocketServer } from '../../src/index.js';

/** The topic every counter tab subscribes to (Redis channel `fd:t:counter`). */
export const TOPIC = 'counter';

/** Shared counters; changes are atomic across processes. */
export interface CounterStore {
  /** Adds `by` to `key` and returns the new value. */
  change(key: 'value' | 'users', by: number): Promise<number>;
  /** The current value of `key`. */
  get(key: 'value' | 'users'): Promise<number>;
}

/** `{"type":"state","value":n}` */
export const stateEvent = (value: number): string => JSON.stringify({ type: 'state', value });
/** `{"type":"users","count":n}` */
export const usersEvent = (count: number): string => JSON.stringify({ type: 'users', count });

/**
 * Runs one tab's connection: subscribe, announce the new user count, send the current value, then
 * turn each `{"action":"plus"|"minus"}` into a change of the shared value published to every tab
 * of every process. `server` is a function because the handler exists before the server does.
 */
export async function handleCounter(ws: WebSocketConnection, server: () => WebSocketServer, store: CounterStore): Promise<void> {
  ws.subscribe(TOPIC);
  server().publish(TOPIC, usersEvent(await store.change('users', 1)));
  try {
    await ws.send(stateEvent(await store.get('value')));
    for await (const message of ws) {
      let action: unknown;
      try {
        action = (JSON.parse(String(message)) as { action?: unknown }).action;
      } catch {
        action = undefined;
      }
      if (action === 'plus') server().publish(TOPIC, stateEvent(await store.change('value', 1)));
      else if (action === 'minus') server().publish(TOPIC, stateEvent(await store.change('value', -1)));
      else console.error('unsupported event:', String(message));
    }
  } finally {
    ws.unsubscribe(TOPIC);
    server().publish(TOPIC, usersEvent(await store.change('users', -1)));
  }
}
