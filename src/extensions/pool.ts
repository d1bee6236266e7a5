import { SyncZlib } from './zlib-sync.js';

/**
 * Process-wide pools of zlib contexts for directions without context takeover (the idea of
 * uWebSockets' SHARED_COMPRESSOR): such a direction needs a context only while one message is
 * being processed, so a connection borrows one for the message and gives it back, reset, at its
 * end. Calls are synchronous, so a message that arrives (or is sent) in one piece borrows and
 * returns within one call and a single pooled context serves every connection; only messages
 * spread over several calls hold one across calls. Idle connections without context takeover
 * therefore hold no zlib state at all.
 */

/** Idle contexts kept per parameter set; more are closed on release. */
const MAX_IDLE = 4;

const idle = new Map<string, SyncZlib[]>();
const keys = new WeakMap<SyncZlib, string>();

function take(key: string, make: () => SyncZlib): SyncZlib {
  const list = idle.get(key);
  const z = list !== undefined && list.length > 0 ? list.pop()! : make();
  keys.set(z, key);
  return z;
}

/** Borrows a raw inflater with `windowBits` (already adjusted for zlib). */
export function borrowInflater(windowBits: number): SyncZlib {
  return take(`i${windowBits}`, () => SyncZlib.inflate(windowBits));
}

/** Borrows a raw deflater with these zlib parameters. */
export function borrowDeflater(windowBits: number, level: number, memLevel: number): SyncZlib {
  return take(`d${windowBits}:${level}:${memLevel}`, () => SyncZlib.deflate(windowBits, level, memLevel));
}

/** Returns a borrowed context: reset (whatever state it was left in, errors included) and kept, or closed if the pool is full. */
export function giveBack(z: SyncZlib): void {
  const key = keys.get(z);
  if (key === undefined || z.closed) {
    z.close();
    return;
  }
  z.reset();
  let list = idle.get(key);
  if (list === undefined) idle.set(key, (list = []));
  if (list.length < MAX_IDLE) list.push(z);
  else z.close();
}

/** Number of idle pooled contexts (for tests and metrics). */
export function pooledZlibHandles(): number {
  let n = 0;
  for (const list of idle.values()) n += list.length;
  return n;
}

/** Closes every idle pooled context, e.g. at server shutdown or in tests; the pools refill on demand. */
export function releaseSharedZlib(): void {
  for (const list of idle.values()) for (const z of list) z.close();
  idle.clear();
}
