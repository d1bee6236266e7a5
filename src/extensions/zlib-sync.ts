import zlib from 'node:zlib';

/**
 * Synchronous raw-DEFLATE contexts driven through the native handle of a Node zlib stream.
 *
 * Node has no public API for a persistent zlib context used synchronously (nodejs/node#35295).
 * The stream's `_processChunk(chunk, flush)` without a callback is synchronous (what minizlib and
 * fast-zlib use), but it adds an `'error'` listener per call, closes the handle when it returns,
 * concatenates all output with no bound but `_maxOutputLength` (which also closes the handle), and
 * allocates a new `chunkSize` buffer per fill. One level below it, the handle's
 * `writeSync(flush, in, inOff, inLen, out, outOff, outLen)` plus the stream's `_writeState`
 * (`[availOut, availIn]`) is exactly zlib's `inflate()`/`deflate()` call: we choose the output
 * buffer and its length, so output is bounded by construction, nothing is allocated per call, and
 * one process-wide scratch buffer replaces the 16 KiB `_outBuffer` each stream would allocate.
 *
 * Both are undocumented, so {@link syncZlibWorks} self-tests this at first use; when it fails the
 * extension falls back to one-shot `inflateRawSync`/`deflateRawSync` with `dictionary` (public
 * API, see `oneshot.ts`).
 */

/** The native handle methods we use (node/src/node_zlib.cc `CompressionStream`). */
interface NativeHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  close(): void;
  onerror: ((message: string, errno: number, code?: string) => void) | undefined;
}

interface StreamInternals {
  _handle: NativeHandle | null;
  _writeState: Uint32Array;
}

let live = 0;

/** Number of zlib contexts currently open (for tests and leak checks): dedicated and pooled ones alike. */
export function liveZlibHandles(): number {
  return live;
}

/** One synchronous raw inflate or deflate context. Never throws from zlib: errors land in {@link error}. */
export class SyncZlib {
  /** Kept so the handle's owner stays reachable while we use it. */
  private stream: zlib.InflateRaw | zlib.DeflateRaw | null;
  private handle: NativeHandle | null;
  private readonly state: Uint32Array;
  /** zlib's message for the last failed call (e.g. `invalid block type`), `null` if none. */
  error: string | null = null;

  private constructor(stream: zlib.InflateRaw | zlib.DeflateRaw) {
    const internals = stream as unknown as StreamInternals;
    const handle = internals._handle;
    const state = internals._writeState;
    if (handle === null || typeof handle.writeSync !== 'function' || !(state instanceof Uint32Array)) {
      throw new Error('zlib stream internals not available');
    }
    this.stream = stream;
    this.handle = handle;
    this.state = state;
    // Replace Node's handler, which would destroy the stream and emit 'error' on the next tick:
    // we report the error to the caller synchronously and may reset and reuse the context.
    handle.onerror = (message: string) => {
      this.error = message;
    };
    live++;
  }

  /**
   * A raw inflater with the given window (9–15; see `windowBitsForZlib`), primed with `dictionary`
   * (the peer's window when a released context is rebuilt). Note: Node re-applies the dictionary
   * on {@link reset}.
   */
  static inflate(windowBits: number, dictionary?: Buffer | null): SyncZlib {
    return new SyncZlib(zlib.createInflateRaw({ windowBits, chunkSize: zlib.constants.Z_MIN_CHUNK, ...(dictionary ? { dictionary } : {}) }));
  }

  /**
   * A raw deflater. `chunkSize` is the minimum: output goes to the caller's buffer, not the
   * stream's. `dictionary` as for {@link inflate}; {@link reset} re-applies it too.
   */
  static deflate(windowBits: number, level: number, memLevel: number, dictionary?: Buffer | null): SyncZlib {
    return new SyncZlib(zlib.createDeflateRaw({ windowBits, level, memLevel, chunkSize: zlib.constants.Z_MIN_CHUNK, ...(dictionary ? { dictionary } : {}) }));
  }

  /**
   * One zlib call. Afterwards {@link availIn}/{@link availOut} say what is left; check {@link error}.
   */
  write(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void {
    this.handle!.writeSync(flush, input, inOff, inLen, out, outOff, outLen);
  }

  /** Unused output space after the last {@link write}. */
  get availOut(): number {
    return this.state[0]!;
  }

  /** Unconsumed input after the last {@link write}. */
  get availIn(): number {
    return this.state[1]!;
  }

  /** Back to a fresh stream (keeps the allocation), clearing any error. */
  reset(): void {
    this.handle!.reset();
    this.error = null;
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.handle === null;
  }

  /** Frees the native context. Idempotent. */
  close(): void {
    if (this.handle === null) return;
    this.handle.close();
    (this.stream as unknown as StreamInternals)._handle = null;
    this.handle = null;
    this.stream = null;
    live--;
  }
}

/** zlib cannot deflate raw with an 8-bit window (madler/zlib#171); with 9 it never emits a distance over 250, which fits a 256-byte window. We inflate with at least 9 too (costs 256 bytes, tolerates peers that round 8 up). */
export function windowBitsForZlib(bits: number): number {
  return bits < 9 ? 9 : bits;
}

/** Process-wide output scratch: zlib writes here, callers copy out exactly what was produced. */
export const SCRATCH = Buffer.allocUnsafe(64 * 1024);

let selfTest: boolean | undefined;

/**
 * Whether the synchronous handle path works on this Node: a deflate/inflate round trip with
 * context takeover, a bounded output fill, a reset and a corrupt-data error, checked once.
 */
export function syncZlibWorks(): boolean {
  if (selfTest === undefined) selfTest = runSelfTest();
  return selfTest;
}

function runSelfTest(): boolean {
  let d: SyncZlib | undefined;
  let i: SyncZlib | undefined;
  try {
    d = SyncZlib.deflate(9, 6, 2);
    i = SyncZlib.inflate(9);
    const msg = Buffer.from('fullduplex self-test '.repeat(20));
    const out = Buffer.allocUnsafe(4096);
    for (let round = 0; round < 2; round++) {
      d.write(zlib.constants.Z_SYNC_FLUSH, msg, 0, msg.length, out, 0, out.length);
      const n = out.length - d.availOut;
      if (d.error !== null || n < 4 || out.readUInt32BE(n - 4) !== 0x0000ffff) return false;
      const comp = Buffer.from(out.subarray(0, n));
      // Output bounded at 7 bytes per call: must come back in pieces.
      const parts: Buffer[] = [];
      let off = 0;
      for (let guard = 0; guard < 1000; guard++) {
        i.write(zlib.constants.Z_SYNC_FLUSH, comp, off, comp.length - off, out, 0, 7);
        if (i.error !== null) return false;
        off = comp.length - i.availIn;
        parts.push(Buffer.from(out.subarray(0, 7 - i.availOut)));
        if (i.availOut > 0 && off === comp.length) break;
      }
      if (!Buffer.concat(parts).equals(msg)) return false;
    }
    i.reset();
    i.write(zlib.constants.Z_SYNC_FLUSH, Buffer.from([0xff, 0xff]), 0, 2, out, 0, out.length);
    if (i.error === null) return false;
    i.reset();
    return i.error === null;
  } catch {
    return false;
  } finally {
    d?.close();
    i?.close();
  }
}

/** Test hook: force the fallback (`false`) or re-run the self-test (`undefined`). */
export function setSyncZlibForTests(value: boolean | undefined): void {
  selfTest = value;
}
