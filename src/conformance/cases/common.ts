/** Expectations shared by many cases, named after what they ask of the target. */
import type { ExpectedClose } from '../types.js';

/** We close with 1000 once the expected events are in; the target completes the handshake. */
export const NORMAL_CLOSE: ExpectedClose = { closedByMe: true, codes: [1000], requireClean: true };

/** The target must fail the connection: close 1002 (or drop TCP) on its own initiative. */
export const FAIL_PROTOCOL: ExpectedClose = { closedByMe: false, codes: [1002], requireClean: false };

/** The target must fail the connection for invalid UTF-8 with 1007 (or drop TCP). */
export const FAIL_UTF8: ExpectedClose = { closedByMe: false, codes: [1007], requireClean: false };

/** Autobahn's usual grace period for the target to react before the suite drops the connection. */
export const KILL_AFTER = 1000;

/** `count` copies of `pattern` (a string or a byte). */
export function repeat(pattern: string, count: number): string {
  return pattern.repeat(count);
}

/** A buffer of `length` bytes, all `byte`. */
export function filled(byte: number, length: number): Buffer {
  return Buffer.alloc(length, byte);
}
