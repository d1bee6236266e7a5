/**
 * Shared helpers for the frame-layer tests: a recording sink, hex helpers and a byte-stream
 * splitter. Not a test file itself (no `.test.ts` suffix).
 */
import { FrameParser, type FrameParserOptions, type FrameSink, type ProtocolError } from '../src/frame/index.js';

/** One thing the parser reported, with payloads copied so later mutation cannot change them. */
export type FrameEvent =
  | { type: 'text'; text: string }
  | { type: 'binary'; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; code: string; closeCode: number };

/** A sink that records every call, in order. */
export class RecordingSink implements FrameSink {
  readonly events: FrameEvent[] = [];
  readonly errors: ProtocolError[] = [];
  /** Raw (uncopied) binary payloads, for zero-copy checks. */
  readonly rawBinary: Buffer[] = [];

  onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      this.events.push({ type: 'text', text: data.toString('utf8') });
      return;
    }
    this.rawBinary.push(data);
    this.events.push({ type: 'binary', data: Buffer.from(data) });
  }
  onPing(payload: Buffer): void {
    this.events.push({ type: 'ping', data: Buffer.from(payload) });
  }
  onPong(payload: Buffer): void {
    this.events.push({ type: 'pong', data: Buffer.from(payload) });
  }
  onClose(code: number, reason: string): void {
    this.events.push({ type: 'close', code, reason });
  }
  onError(error: ProtocolError): void {
    this.errors.push(error);
    this.events.push({ type: 'error', code: error.code, closeCode: error.closeCode });
  }
}

/** A parser with a fresh recording sink. */
export function makeParser(options: FrameParserOptions): { parser: FrameParser; sink: RecordingSink } {
  const sink = new RecordingSink();
  return { parser: new FrameParser(sink, options), sink };
}

/** Feeds `chunks` (each copied into its own fresh Buffer) and returns the recorded events. */
export function parseChunks(options: FrameParserOptions, chunks: readonly Uint8Array[]): FrameEvent[] {
  const { parser, sink } = makeParser(options);
  for (const chunk of chunks) parser.push(Buffer.from(chunk));
  return sink.events;
}

/** `hex('81 05 48')` → bytes. Whitespace is ignored. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** Byte array from numbers. */
export function bytes(...values: number[]): Buffer {
  return Buffer.from(values);
}

/** Splits `data` at the given (unsorted, possibly duplicate) cut points into fresh buffers. */
export function splitAt(data: Uint8Array, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(data.length, c))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    if (p > start) out.push(Buffer.from(data.subarray(start, p)));
    start = Math.max(start, p);
  }
  if (start < data.length || out.length === 0) out.push(Buffer.from(data.subarray(start)));
  return out;
}

/** Masks `payload` (copied) with `key` the naive way, for building test frames by hand. */
export function naiveMask(payload: Uint8Array, key: Uint8Array, offset = 0): Buffer {
  const out = Buffer.from(payload);
  for (let i = 0; i < out.length; i++) out[i] ^= key[(offset + i) % 4]!;
  return out;
}

/**
 * Builds one frame by hand, independent of the encoder under test: minimal length encoding,
 * masked with `key` when given.
 */
export function rawFrame(opts: {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Uint8Array;
  key?: Uint8Array | null;
}): Buffer {
  const payload = opts.payload ?? Buffer.alloc(0);
  const fin = opts.fin ?? true;
  const key = opts.key ?? null;
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opts.opcode];
  const maskBit = key ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 0x10000) head.push(maskBit | 126, len >> 8, len & 0xff);
  else {
    head.push(maskBit | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (key) head.push(...key);
  return Buffer.concat([Buffer.from(head), key ? naiveMask(payload, key) : Buffer.from(payload)]);
}

/** The RFC 6455 §5.7 masking key. */
export const RFC_KEY = hex('37 fa 21 3d');
