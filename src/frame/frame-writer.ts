import { COPY_THRESHOLD, headerSize, writeHeader, type FrameHeaderFields } from './encoder.js';
import { applyMask, maskRange, type MaskSource } from './mask.js';

/**
 * Initial size of the scratch slab small frames are written into. Small enough to come from
 * Node's shared buffer pool, so a short-lived connection (handshake, a few frames, close) does not
 * allocate 8 KiB of its own; busy connections grow it.
 */
const SLAB_SIZE = 2048;
/**
 * The slab doubles up to this size when one batch outgrows it, so a busy connection (a broadcast
 * receiver getting ~32 KiB per turn) settles on one reused slab and one write per turn.
 */
const MAX_SLAB_SIZE = 64 * 1024;
/**
 * Unmasked payloads larger than this go out by reference (their header in the slab, the payload
 * as its own buffer of a vectored write) instead of being copied into the slab. Profiled on the
 * 16 KiB echo: copying each payload into the batch, and allocating a fresh 64 KiB slab per batch
 * while the socket still held the last one, cost ~25% of the server's time (copy, allocation,
 * GC); an extra entry in a writev costs less than copying 4 KiB.
 */
const REFERENCE_THRESHOLD = 4 * 1024;
/** Strings this short encode to at most 3 × 41 = 123 bytes, so their header length is known up front. */
const SHORT_STRING = 41;
/** Strings up to this many characters (at most 3 bytes each: 24 KiB) are encoded into the slab. */
const INLINE_STRING = 8 * 1024;

const NO_CHUNKS = Object.freeze([]) as unknown as Buffer[];

const frameFields: FrameHeaderFields = { fin: true, rsv: 0, opcode: 0 };

/**
 * Collects outgoing frames until the I/O layer takes them in one batch — the "data to send" side of
 * the sans-I/O core.
 *
 * Small frames are written straight into a scratch slab (header and payload side by side, strings
 * encoded in place), so a burst of small messages becomes one contiguous buffer and one socket
 * write. Regions of the slab that were handed out are never written again: the slab is a bump
 * allocator, and a new one is taken when it runs out. Large payloads are kept by reference and
 * go out as their own buffer (vectored write), never copied to add a header.
 *
 * @example
 * ```ts
 * import { FrameWriter, Opcode } from 'fullduplex/frame';
 *
 * const writer = new FrameWriter(null); // server side: frames are not masked
 * writer.writeFrame(Opcode.TEXT, true, 0, 'first');
 * writer.writeFrame(Opcode.TEXT, true, 0, 'second');
 * console.log(writer.pendingBytes); // 7 + 8 = 15
 * for (const chunk of writer.take()) socket.write(chunk); // usually one buffer: one write
 * if (socket.writableLength === 0) writer.recycle(); // the slab can be reused
 * ```
 */
export class FrameWriter {
  private slab: Buffer | null = null;
  /** Start of the region of `slab` not yet handed out. */
  private start = 0;
  /** Write position in `slab`. */
  private position = 0;
  /** Buffers of the batch so far; the shared empty list until the first one (idle connections hold none). */
  private chunks: Buffer[] = NO_CHUNKS;
  private pending = 0;
  /** Open region of a shared buffer (see {@link writeShared}); null when none is open. */
  private shared: Buffer | null = null;
  private sharedStart = 0;
  private sharedEnd = 0;

  /**
   * @param maskSource masking keys for a client's frames (RFC 6455 §5.3); `null` for a server,
   *   whose frames must not be masked.
   */
  constructor(private readonly maskSource: MaskSource | null) {}

  /** Bytes written and not yet taken. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** Appends one frame carrying `payload` (bytes, or a string encoded as UTF-8). */
  writeFrame(opcode: number, fin: boolean, rsv: number, payload: Uint8Array | string): void {
    frameFields.opcode = opcode;
    frameFields.fin = fin;
    frameFields.rsv = rsv;
    if (typeof payload === 'string') {
      if (payload.length <= SHORT_STRING) {
        this.writeShortString(payload);
        return;
      }
      if (payload.length <= INLINE_STRING) {
        this.writeString(payload);
        return;
      }
      payload = Buffer.from(payload, 'utf8');
    }
    const length = payload.length;
    const masked = this.maskSource !== null;
    const size = headerSize(length, masked);
    if (length > REFERENCE_THRESHOLD && !masked) {
      const slab = this.reserve(size);
      this.position = writeHeader(slab, this.position, frameFields, length, null);
      this.closeRegion();
      this.batch().push(Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, length));
      this.pending += size + length;
      return;
    }
    if (size + length > MAX_SLAB_SIZE >>> 1) {
      // A large masked frame: its own buffer, masked in place after the copy.
      this.closeRegion();
      const frame = Buffer.allocUnsafe(size + length);
      writeHeader(frame, 0, frameFields, length, this.maskSource);
      frame.set(payload, size);
      if (masked && length > 0) applyMask(frame.subarray(size), frame.subarray(size - 4, size));
      this.batch().push(frame);
      this.pending += size + length;
      return;
    }
    const slab = this.reserve(size + length);
    const at = writeHeader(slab, this.position, frameFields, length, this.maskSource);
    slab.set(payload, at);
    if (masked && length > 0) maskRange(slab, at, at + length, slab[at - 4]!, slab[at - 3]!, slab[at - 2]!, slab[at - 1]!);
    this.position = at + length;
    this.pending += size + length;
  }

  /**
   * Appends bytes that are already a complete frame (or several). This is how one encoded
   * broadcast frame reaches many connections: small ones are copied into each receiver's batch
   * so each socket still gets one write; large ones are shared by reference.
   */
  writeRaw(bytes: Buffer): void {
    const length = bytes.length;
    if (length > COPY_THRESHOLD) {
      this.closeRegion();
      this.batch().push(bytes);
    } else {
      const slab = this.reserve(length);
      bytes.copy(slab, this.position);
      this.position += length;
    }
    this.pending += length;
  }

  /**
   * Appends `buffer[start, end)` — complete frames in a buffer shared with other connections — by
   * reference. Consecutive regions of the same buffer merge into one, so a connection that got
   * 32 broadcast frames in a turn writes one view of the shared batch: no copy per receiver, no
   * allocation per frame. The caller never rewrites the region.
   */
  writeShared(buffer: Buffer, start: number, end: number): void {
    if (this.shared === buffer && this.sharedEnd === start) {
      this.sharedEnd = end;
    } else {
      this.closeRegion();
      this.shared = buffer;
      this.sharedStart = start;
      this.sharedEnd = end;
    }
    this.pending += end - start;
  }

  /**
   * Hands over everything written since the last call, in order, as buffers for one vectored
   * write (usually exactly one buffer). Returns an empty array when nothing is pending.
   */
  take(): Buffer[] {
    this.closeRegion();
    const out = this.chunks;
    this.chunks = NO_CHUNKS;
    this.pending = 0;
    return out === NO_CHUNKS ? [] : out;
  }

  /** Like {@link take}, but joins the batch into a single buffer (copying only if it has several parts). */
  takeOne(): Buffer | null {
    const parts = this.take();
    if (parts.length === 0) return null;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Declares every buffer handed out by {@link take} consumed (the socket has written them all), so
   * the slab can be written again from its start instead of allocating a new one. Call only
   * when nothing taken is still referenced — e.g. the socket reports no pending writes.
   */
  recycle(): void {
    const slab = this.slab;
    if (this.pending !== 0 || slab === null) return;
    // A slab grown for a burst is dropped once batches are small again (memory per idle connection).
    if (slab.length > SLAB_SIZE && this.position < slab.length >>> 2) this.slab = null;
    this.start = this.position = 0;
  }

  /** Drops the scratch slab, e.g. when the connection goes idle or closes. */
  release(): void {
    this.closeRegion();
    this.slab = null;
    this.start = this.position = 0;
  }

  /**
   * A string encoded straight into the slab: its UTF-8 length first (a native scan), so the
   * header is known, then one write — no intermediate Buffer to allocate and copy (profiled on
   * the 1 KiB text echo, where every reply is a string).
   */
  private writeString(text: string): void {
    const length = Buffer.byteLength(text, 'utf8');
    const size = headerSize(length, this.maskSource !== null);
    const slab = this.reserve(size + length);
    const at = writeHeader(slab, this.position, frameFields, length, this.maskSource);
    slab.write(text, at, length, 'utf8');
    if (this.maskSource !== null && length > 0) maskRange(slab, at, at + length, slab[at - 4]!, slab[at - 3]!, slab[at - 2]!, slab[at - 1]!);
    this.position = at + length;
    this.pending += size + length;
  }

  private writeShortString(text: string): void {
    const masked = this.maskSource !== null;
    const size = masked ? 6 : 2;
    const slab = this.reserve(size + text.length * 3);
    const at = this.position + size;
    const length = slab.write(text, at, 'utf8');
    writeHeader(slab, this.position, frameFields, length, this.maskSource);
    if (masked && length > 0) maskRange(slab, at, at + length, slab[at - 4]!, slab[at - 3]!, slab[at - 2]!, slab[at - 1]!);
    this.position = at + length;
    this.pending += size + length;
  }

  /**
   * Ensures `bytes` fit in the slab after `position`, starting a new slab when they don't. A new
   * slab is twice as large (up to 64 KiB) and takes over the batch written so far, so a batch
   * stays one contiguous buffer — one plain write — while the slab grows.
   */
  private reserve(bytes: number): Buffer {
    if (this.shared !== null) this.closeRegion();
    const slab = this.slab;
    if (slab !== null && slab.length - this.position >= bytes) return slab;
    let size = slab === null ? SLAB_SIZE : Math.min(slab.length * 2, MAX_SLAB_SIZE);
    const open = this.position - this.start;
    const carry = slab !== null && open > 0 && open + bytes <= size ? open : 0;
    if (carry === 0) this.closeRegion();
    if (size < carry + bytes) size = carry + bytes;
    const fresh = Buffer.allocUnsafe(size);
    if (carry > 0) slab!.copy(fresh, 0, this.start, this.position);
    this.slab = fresh;
    this.start = 0;
    this.position = carry;
    return fresh;
  }

  private batch(): Buffer[] {
    return this.chunks === NO_CHUNKS ? (this.chunks = []) : this.chunks;
  }

  /** Moves the open region (the slab's bytes since `start`, or a shared one) into the output list. */
  private closeRegion(): void {
    // At most one region is open: a shared one, or the slab's.
    if (this.shared !== null) {
      this.batch().push(this.shared.subarray(this.sharedStart, this.sharedEnd));
      this.shared = null;
      return;
    }
    if (this.slab !== null && this.position > this.start) {
      this.batch().push(this.slab.subarray(this.start, this.position));
      this.start = this.position;
    }
  }
}
