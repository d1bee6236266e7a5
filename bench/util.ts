/**
 * Helpers shared by the benchmarks: timing, statistics, table printing and access to `ws`
 * internals (its Receiver and Sender are not in its public typings, and `ws/lib/*` is not in its
 * package exports, so they are reached through `require('ws').Receiver` / `.Sender`).
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const require = createRequire(import.meta.url);

/** Monotonic nanoseconds. */
export function now(): bigint {
  return process.hrtime.bigint();
}

/** Nanoseconds elapsed since `start`, as a number. */
export function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Largest relative deviation of a run from the median, e.g. 0.07 for ±7%. */
export function spread(values: readonly number[]): number {
  const m = median(values);
  let worst = 0;
  for (const v of values) worst = Math.max(worst, Math.abs(v - m) / m);
  return worst;
}

/** Number of runs per measurement (median taken); override with BENCH_RUNS. */
export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5) | 0);

/**
 * A full garbage collection between timed runs, so one run does not pay for the previous run's
 * garbage. Exposed at runtime because `npm run bench` cannot pass `--expose-gc` through tsx.
 */
export const collectGarbage: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return gc as () => void;
  } catch {
    // fall through
  }
  return () => {};
})();

// Formatting ----------------------------------------------------------------------------------

/** Rate with an SI suffix: 12.35M, 456.7k. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`;
  return perSecond.toFixed(1);
}

/** Megabytes (10^6 bytes) per second. */
export function formatMBps(bytesPerSecond: number): string {
  return (bytesPerSecond / 1e6).toFixed(1);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/**
 * Prints rows as an aligned Markdown table (so it can be pasted into notes as is): first column
 * left-aligned, the rest right-aligned.
 */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

// ws internals --------------------------------------------------------------------------------

export interface WsReceiverOptions {
  isServer: boolean;
  maxPayload: number;
  skipUTF8Validation: boolean;
  binaryType: 'nodebuffer';
}

/** ws's `lib/receiver.js`: a Writable fed with socket chunks, emitting 'message'. */
export interface WsReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  write(chunk: Buffer): boolean;
}

export interface WsFrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1?: boolean;
}

export interface WsInternals {
  version: string;
  Receiver: new (options: WsReceiverOptions) => WsReceiver;
  Sender: { frame(data: Buffer | string, options: WsFrameOptions): Buffer[] };
  /** How ws masks/unmasks and validates UTF-8 in this process (it picks at load time). */
  maskImplementation: string;
  utf8Implementation: string;
}

let wsInternals: WsInternals | undefined;

export function loadWs(): WsInternals {
  if (wsInternals) return wsInternals;
  const ws = require('ws') as { Receiver: WsInternals['Receiver']; Sender: WsInternals['Sender'] };
  const { version } = require('ws/package.json') as { version: string };
  // Resolve optional addons the way ws does (from its own directory).
  const wsRequire = createRequire(require.resolve('ws'));
  const has = (name: string): boolean => {
    try {
      wsRequire.resolve(name);
      return true;
    } catch {
      return false;
    }
  };
  const http = require('node:http') as Record<string, unknown>;
  const nodeMask = typeof http.websocketMask === 'function';
  const maskImplementation = nodeMask
    ? 'http.websocketMask (native, >= 24 B)'
    : has('bufferutil') && !process.env.WS_NO_BUFFER_UTIL
      ? 'bufferutil (native addon, >= 32 B)'
      : 'JavaScript byte loop (no bufferutil, no http.websocketMask)';
  const utf8Implementation = 'buffer.isUtf8 (native) for >= 24 B, JavaScript below'; // Node >= 18.14
  wsInternals = {
    version,
    Receiver: ws.Receiver,
    Sender: ws.Sender,
    maskImplementation: `${maskImplementation}; bufferutil ${has('bufferutil') ? 'installed' : 'NOT installed'}`,
    utf8Implementation: `${utf8Implementation}; utf-8-validate ${has('utf-8-validate') ? 'installed' : 'NOT installed'}`,
  };
  return wsInternals;
}
