import { constants, deflateRawSync } from 'node:zlib';
import { borrowDeflater, giveBack } from './pool.js';
import { keepWindow } from './inflater.js';
import { SCRATCH, SyncZlib, syncZlibWorks, windowBitsForZlib } from './zlib-sync.js';
import { WindowHistory } from './history.js';

/** zlib parameters of a compressor. `windowBits` is the negotiated value (8–15); 8 compresses with 9. */
export interface DeflateSettings {
  windowBits: number;
  level: number;
  memLevel: number;
}

/** Encoding side of permessage-deflate. */
export interface Deflater {
  /**
   * Compresses one frame's payload of the current message with Z_SYNC_FLUSH (RFC 7692 §7.2.1). At
   * `fin` the trailing `00 00 ff ff` is removed and, without context takeover, the context reset.
   * Intermediate frames keep it: they must stay a valid prefix of the message's DEFLATE stream.
   */
  compress(payload: Uint8Array, fin: boolean): Buffer;
  /**
   * Forgets the history (between messages only): the next message references nothing sent
   * before. Used after the connection sent bytes compressed elsewhere (see `SharedMessage`).
   */
  forget(): void;
  /**
   * Frees a dedicated (takeover) context between messages, keeping the plaintext history needed
   * to rebuild it at the next message. Returns whether anything was freed.
   */
  release(): boolean;
  /** Frees every zlib context held. */
  dispose(): void;
}

/**
 * A new compressor. `releasable`: keep the plaintext history so {@link Deflater.release} can free
 * the context of an idle connection (takeover only; costs one window of memory).
 */
export function createDeflater(settings: DeflateSettings, takeover: boolean, releasable = false): Deflater {
  const s = { ...settings, windowBits: windowBitsForZlib(settings.windowBits) };
  return syncZlibWorks() ? new StreamDeflater(s, takeover, releasable) : new OneShotDeflater(s, takeover);
}

/**
 * Compresses one whole message with a fresh context: the payload of a single RSV1 frame that any
 * receiver whose negotiated window is at least `settings.windowBits` can inflate, whatever its
 * inflater's history (the bytes reference nothing before them). See `SharedMessage` for the rules
 * on sending such bytes through a connection with context takeover.
 */
export function compressStandalone(payload: Uint8Array, settings: DeflateSettings): Buffer {
  const d = createDeflater(settings, false);
  try {
    return d.compress(payload, true);
  } finally {
    d.dispose();
  }
}

/** What a fresh sync flush of nothing leaves after stripping: the 3-bit header of an empty stored block. */
const EMPTY_BLOCK_HEADER = Buffer.from([0x00]);

/**
 * Removes the sync flush's `00 00 ff ff` (RFC 7692 §7.2.1). zlib emits nothing at all for an empty
 * message right after a previous flush (it skips duplicate flushes); a bare tail is not a complete
 * block at a byte boundary (the receiver would read `00 ff` as a stored block's length), so the
 * message becomes `00`, which with the tail is an empty stored block.
 */
function strip(out: Buffer): Buffer {
  if (out.length === 0) return EMPTY_BLOCK_HEADER;
  if (out.length < 4 || out.readUInt32BE(out.length - 4) !== 0x0000ffff) throw new Error('zlib sync flush did not end with 00 00 ff ff');
  return out.subarray(0, out.length - 4);
}

class StreamDeflater implements Deflater {
  private z: SyncZlib | null = null;
  /** What the peer's inflater window holds, when the context may be released (takeover only). */
  private readonly history: WindowHistory | null;
  /** `z` was built with a dictionary: a reset would bring that back, so forget() closes it instead. */
  private primed = false;

  constructor(
    private readonly s: DeflateSettings,
    private readonly takeover: boolean,
    releasable: boolean,
  ) {
    this.history = takeover && releasable ? new WindowHistory(1 << s.windowBits) : null;
  }

  private open(): SyncZlib {
    const s = this.s;
    if (!this.takeover) return borrowDeflater(s.windowBits, s.level, s.memLevel);
    const dictionary = this.history?.contents() ?? null;
    this.primed = dictionary !== null;
    return SyncZlib.deflate(s.windowBits, s.level, s.memLevel, dictionary);
  }

  compress(payload: Uint8Array, fin: boolean): Buffer {
    const z = (this.z ??= this.open());
    const chunks: Buffer[] = [];
    let total = 0;
    let off = 0;
    for (;;) {
      z.write(constants.Z_SYNC_FLUSH, payload, off, payload.length - off, SCRATCH, 0, SCRATCH.length);
      if (z.error !== null) {
        this.dispose();
        throw new Error(`zlib deflate failed: ${z.error}`);
      }
      off = payload.length - z.availIn;
      const have = SCRATCH.length - z.availOut;
      // One copy out of the scratch; at `fin` a single-fill result leaves the tail behind.
      if (have > 0) chunks.push(Buffer.from(SCRATCH.subarray(0, have)));
      total += have;
      if (z.availOut !== 0) break; // Z_SYNC_FLUSH complete: everything consumed and emitted
    }
    this.history?.append(payload);
    if (fin && !this.takeover) {
      giveBack(z);
      this.z = null;
    }
    const out = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
    return fin ? strip(out) : out;
  }

  forget(): void {
    this.history?.clear();
    if (this.primed) this.release();
    else this.z?.reset();
  }

  release(): boolean {
    if (this.z === null || !this.takeover || (this.history === null && !this.primed)) return false;
    this.z.close();
    this.z = null;
    this.primed = false;
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
 * Fallback: one-shot `deflateRawSync` per frame with the history (what the peer's inflater holds)
 * as `dictionary`. Each result ends at a byte boundary after a sync flush with no final block, so
 * consecutive results form one valid stream, and back-references reach only bytes the peer has.
 */
class OneShotDeflater implements Deflater {
  private history: Buffer = Buffer.alloc(0);

  constructor(
    private readonly s: DeflateSettings,
    private readonly takeover: boolean,
  ) {}

  compress(payload: Uint8Array, fin: boolean): Buffer {
    const out = deflateRawSync(payload, {
      windowBits: this.s.windowBits,
      level: this.s.level,
      memLevel: this.s.memLevel,
      finishFlush: constants.Z_SYNC_FLUSH,
      ...(this.history.length > 0 ? { dictionary: this.history } : {}),
    });
    // Within a message the next frame may reference this one; across messages only with takeover.
    this.history = fin && !this.takeover ? Buffer.alloc(0) : keepWindow(this.history, payload, 1 << this.s.windowBits);
    return fin ? strip(out) : out;
  }

  forget(): void {
    this.history = Buffer.alloc(0);
  }

  release(): boolean {
    return false; // holds no zlib context between calls
  }

  dispose(): void {
    this.history = Buffer.alloc(0);
  }
}
