/**
 * Small async helpers for the end-to-end tests: bounded waits, one-shot events, a free port, and
 * a per-test cleanup list.
 */
import type { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { afterEach } from 'vitest';

/** Resolves with `promise`, or rejects after `ms` with a message naming what was awaited. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` on `emitter`, within `ms`. */
export function nextEvent<A extends unknown[] = unknown[]>(
  emitter: Pick<EventEmitter, 'once'>,
  event: string,
  ms = 5000,
): Promise<A> {
  return withTimeout(
    new Promise<A>((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as A))),
    ms,
    `'${event}'`,
  );
}

/** Resolves after `ms`. Used to let a quiet period pass, never to assert how long something took. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

/**
 * Registers an `afterEach` that runs, in reverse order, every callback passed to the returned
 * function during the test: register a server first and its clients after, and the clients go
 * first. Every callback runs even if one throws; the first error is rethrown.
 */
export function cleanupAfterEach(): (fn: () => unknown) => void {
  const pending: Array<() => unknown> = [];
  afterEach(async () => {
    let first: unknown;
    for (const fn of pending.splice(0).reverse()) {
      try {
        await withTimeout(Promise.resolve().then(fn), 15_000, 'a cleanup step');
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  });
  return (fn) => void pending.push(fn);
}
