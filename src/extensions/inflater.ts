import { constants, inflateRawSync } from 'node:zlib';
import { CloseCode } from '../frame/close-code.js';
import { ProtocolError } from '../frame/errors.js';
import { borrowInflater, giveBack } from './pool.js';
import { SCRATCH, SyncZlib, syncZlibWorks, windowBitsForZlib } from './zlib-sync.js';
import { WindowHistory } from './history.js';

/** RFC 7692 §7.2.2: the receiver appends these four octets to a message's payload before inflating. */
export const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY = Buffer.alloc(0);

/** Decoding side of permessage-deflate: inflates a message piece by piece against a budget. */
export interface Inflater {
  /** See `Extension.decode`. */
  decode(piece: Buffer, fin: boolean, budget: number): Buffer;
  /**
   * Frees a dedicated (takeover) context between messages, keeping the inflated history needed to
   * rebuild it at the next message. Returns whether anything was freed.
   */
  release(): boolean;
  /** Frees every zlib context held. */
  dispose(): void;
}

/**
 * A new inflater for a peer window of `windowBits`, keeping context between messages or not.
 * `releasable`: keep the inflated history so {@link Inflater.release} can free the context of an
 * idle connection (takeover only; costs one peer window of memory).
 */
export function createInflater(windowBits: number, takeover: boolean, releasable = false): Inflater {
  return syncZlibWorks()
    ? new StreamInflater(windowBitsForZlib(windowBits), takeover, releasable)
    : new OneShotInflater(windowBitsForZlib(windowBits), takeover);
}

/** 1009: the message inflates past what it may. */
export function tooBig(budget: number): ProtocolError {
  return new ProtocolError('FD_ERR_MESSAGE_TOO_BIG', CloseCode.MESSAGE_TOO_BIG, `compressed message inflates past the limit (${budget} bytes left)`);
}

/**
 * 1007, as ws and undici use for corrupt DEFLATE data: the payload is not consistent with the
 * message type (RFC 6455 §7.4.1). python-websockets uses 1002; RFC 7692 names no code.
 */
export function corrupt(detail: string): ProtocolError {
  return new ProtocolError('FD_ERR_EXTENSION', CloseCode.INVALID_FRAME_PAYLOAD_DATA, `invalid compressed data: ${detail}`);
}

/*
 * An RSV1 message with no payload bytes at all is taken as the empty message without touching the
 * inflater: the bare tail `00 00 ff ff` at a block boundary is not a complete block (its `00 ff`
 * would be read as a stored block's length), and feeding it would leave the context in the middle
 * of a stored block and corrupt every later message. Our encoder never sends this (it sends `00`).
 */

function join(chunks: Buffer[], total: number): Buffer {
  if (chunks.length === 0) return EMPTY;
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/**
 * Inflates through a persistent synchronous context. With context takeover the context is the
 * connection's own, created at the first compressed message; without, one is borrowed from the
 * process pool for the duration of one message.
 */
class StreamInflater implements Inflater {
  private z: SyncZlib | null = null;
  /** Compressed bytes seen in the current message. */
  private seen = 0;
  /** What the peer's compressor window holds, when the context may be released (takeover only). */
  private readonly history: WindowHistory | null;

  constructor(
    private readonly windowBits: number,
    private readonly takeover: boolean,
    releasable: boolean,
  ) {
    this.history = takeover && releasable ? new WindowHistory(1 << windowBits) : null;
  }

  decode(piece: Buffer, fin: boolean, budget: number): Buffer {
    this.seen += piece.length;
    if (fin && this.seen === 0) return EMPTY; // see emptyMessage()
    if (fin) this.seen = 0;
    const z = (this.z ??= this.takeover ? SyncZlib.inflate(this.windowBits, this.history?.contents()) : borrowInflater(this.windowBits));
    const chunks: Buffer[] = [];
    let produced: number;
    try {
      produced = run(z, piece, budget, 0, chunks);
      if (fin) produced = run(z, TAIL, budget, produced, chunks);
    } catch (err) {
      // The connection fails now; a borrowed context goes back reset, a dedicated one waits for dispose().
      if (!this.takeover) this.giveBack();
      throw err;
    }
    if (fin && !this.takeover) this.giveBack();
    const out = join(chunks, produced);
    this.history?.append(out);
    return out;
  }

  private giveBack(): void {
    if (this.z !== null) giveBack(this.z);
    this.z = null;
  }

  release(): boolean {
    if (this.z === null || this.history === null || this.seen !== 0) return false;
    this.z.close();
    this.z = null;
    return true;
  }

  dispose(): void {
    this.history?.clear();
    if (this.z === null) return;
    if (this.takeover) this.z.close();
    else giveBack(this.z);
    this.z = null;
  }
}

/**
 * Feeds `input` to `z`, appending copies of the output to `chunks`. Each zlib call gets room for at
 * most one byte more than the budget allows, so output (memory and CPU) stops right past the limit:
 * exactly `budget` bytes is fine, one more throws 1009, and nothing is ever truncated.
 *
 * A stream end (a block with BFINAL set, RFC 7692 §7.2.3.4) shows as a call that makes no progress
 * with input left: the rest is a new stream, so reset and go on.
 */
function run(z: SyncZlib, input: Buffer, budget: number, produced: number, chunks: Buffer[]): number {
  let off = 0;
  const len = input.length;
  let stalled = false;
  for (;;) {
    const room = Math.min(SCRATCH.length, budget - produced + 1);
    z.write(constants.Z_SYNC_FLUSH, input, off, len - off, SCRATCH, 0, room);
    if (z.error !== null) throw corrupt(z.error);
    const have = room - z.availOut;
    const used = len - off - z.availIn;
    off += used;
    if (have > 0) {
      produced += have;
      if (produced > budget) throw tooBig(budget);
      chunks.push(Buffer.from(SCRATCH.subarray(0, have)));
    }
    if (z.availOut === 0) continue; // output space full: zlib may hold more
    if (off === len) return produced;
    if (have === 0 && used === 0) {
      if (stalled) throw corrupt('no progress');
      stalled = true;
      z.reset();
      continue;
    }
    stalled = false;
  }
}

/**
 * Fallback when the synchronous handle path is unavailable: one-shot `inflateRawSync` (public API)
 * per message, the compressed pieces buffered until `fin` (bounded by the parser's wire-size limit),
 * the peer's window carried between messages as a `dictionary`. Output is bounded by
 * `maxOutputLength`. Trailing data after a BFINAL block is ignored on this path.
 */
class OneShotInflater implements Inflater {
  private pieces: Buffer[] = [];
  private history: Buffer = EMPTY;

  constructor(
    private readonly windowBits: number,
    private readonly takeover: boolean,
  ) {}

  decode(piece: Buffer, fin: boolean, budget: number): Buffer {
    if (piece.length > 0) this.pieces.push(Buffer.from(piece));
    if (!fin || this.pieces.length === 0) return EMPTY; // nothing yet, or an empty message
    const input = Buffer.concat([...this.pieces, TAIL]);
    this.pieces = [];
    let out: Buffer;
    try {
      out = inflateRawSync(input, {
        windowBits: this.windowBits,
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: budget + 1,
        ...(this.history.length > 0 ? { dictionary: this.history } : {}),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooBig(budget);
      throw corrupt((err as Error).message);
    }
    if (out.length > budget) throw tooBig(budget);
    if (this.takeover) this.history = keepWindow(this.history, out, 1 << this.windowBits);
    return out;
  }

  release(): boolean {
    return false; // holds no zlib context between calls
  }

  dispose(): void {
    this.pieces = [];
    this.history = EMPTY;
  }
}

/** The last `size` bytes of `history + data`, copied (the result outlives both). */
export function keepWindow(history: Buffer, data: Uint8Array, size: number): Buffer {
  if (data.length >= size) return Buffer.from(data.subarray(data.length - size));
  const keep = Math.min(history.length, size - data.length);
  const out = Buffer.allocUnsafe(keep + data.length);
  history.copy(out, 0, history.length - keep);
  out.set(data, keep);
  return out;
}
