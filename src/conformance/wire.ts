/**
 * Raw frames for the conformance suite: a builder that can produce any frame, valid or not, and a
 * lenient reader that reports every frame a target sends exactly as it came (masked or not,
 * reserved bits, reserved opcodes, oversized control frames), so the suite can judge it. The
 * fullduplex {@link FrameParser} is strict by design and would refuse to show us most of this.
 */
import { randomBytes } from 'node:crypto';
import { applyMask } from '../frame/mask.js';

/** Opcode names for the short form of frames in logs and reports. */
const OPCODE_NAMES: Record<number, string> = { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

/** How to build one frame. Defaults give a valid, final frame. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  /** FIN bit. Default true. */
  fin?: boolean;
  /** RSV1–RSV3 as a 3-bit number (RSV1 = 4), as Autobahn numbers them. Default 0. */
  rsv?: number;
  /** Mask the frame: `true` with a random key, or the 4-byte key itself. Default: by role. */
  mask?: boolean | Buffer;
  /** Payload length to declare in the header instead of the real one (Autobahn's `payload_len`). */
  declaredLength?: number;
}

/** A frame as read from the wire, payload already unmasked. */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** The length was not encoded in the shortest form (RFC 6455 §5.2 requires the minimal one). */
  nonMinimalLength: boolean;
}

/** UTF-8 bytes of a string payload; buffers pass through. */
export function bytesOf(payload: Buffer | string | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0);
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
}

/**
 * Builds the bytes of one frame. With `declaredLength` larger than the payload, the payload is
 * repeated to fill it (as Autobahn does), so a short pattern can make a 16 MiB message.
 */
export function buildFrame(spec: FrameSpec, defaultMask: boolean): Buffer {
  let payload = bytesOf(spec.payload);
  if (spec.declaredLength !== undefined && spec.declaredLength > payload.length) {
    payload = repeatTo(payload.length > 0 ? payload : Buffer.from('*'), spec.declaredLength);
  }
  const length = payload.length;
  const maskOption = spec.mask ?? defaultMask;
  const key = maskOption === false ? null : maskOption === true ? randomBytes(4) : maskOption;
  const headerLength = (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (key ? 4 : 0);
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0xf);
  const maskBit = key ? 0x80 : 0;
  let p = 2;
  if (length < 126) {
    frame[1] = maskBit | length;
  } else if (length < 0x10000) {
    frame[1] = maskBit | 126;
    frame.writeUInt16BE(length, 2);
    p = 4;
  } else {
    frame[1] = maskBit | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
    p = 10;
  }
  if (key) {
    key.copy(frame, p, 0, 4);
    p += 4;
  }
  payload.copy(frame, p);
  if (key && length > 0) applyMask(frame.subarray(p), key);
  return frame;
}

/** `pattern` repeated (and cut) to exactly `length` bytes. */
export function repeatTo(pattern: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  if (length === 0) return out;
  let filled = Math.min(pattern.length, length);
  pattern.copy(out, 0, 0, filled);
  while (filled < length) {
    const n = Math.min(filled, length - filled);
    out.copy(out, filled, 0, n);
    filled += n;
  }
  return out;
}

/** Payload of a close frame: code, then the reason (string or raw bytes). */
export function closePayload(code?: number, reason?: Buffer | string): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return reason === undefined ? head : Buffer.concat([head, bytesOf(reason)]);
}

/**
 * Reads frames out of a byte stream, never refusing one. Feed bytes with {@link push}; complete
 * frames come back in order. Only a declared length beyond `maxFrame` stops it (`overflow`).
 */
export class LenientFrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Set when a frame declared a length beyond the limit; nothing more is read. */
  overflow = false;

  constructor(private readonly maxFrame = 64 * 1024 * 1024) {}

  push(chunk: Buffer): WireFrame[] {
    if (this.overflow) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: WireFrame[] = [];
    for (;;) {
      const frame = this.next();
      if (frame === null) return frames;
      frames.push(frame);
    }
  }

  private next(): WireFrame | null {
    if (this.buffered < 2) return null;
    const head = this.peek(Math.min(this.buffered, 14));
    const b0 = head[0]!;
    const b1 = head[1]!;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let offset = 2;
    let nonMinimalLength = false;
    if (length === 126) {
      if (head.length < 4) return null;
      length = head.readUInt16BE(2);
      offset = 4;
      nonMinimalLength = length < 126;
    } else if (length === 127) {
      if (head.length < 10) return null;
      const big = head.readBigUInt64BE(2);
      if (big > BigInt(this.maxFrame)) {
        this.overflow = true;
        return null;
      }
      length = Number(big);
      offset = 10;
      nonMinimalLength = length < 0x10000;
    }
    if (length > this.maxFrame) {
      this.overflow = true;
      return null;
    }
    const total = offset + (masked ? 4 : 0) + length;
    if (this.buffered < total) return null;
    const bytes = this.take(total);
    const payload = Buffer.from(bytes.subarray(total - length));
    if (masked) applyMask(payload, bytes.subarray(offset, offset + 4));
    return { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0xf, masked, payload, nonMinimalLength };
  }

  /** The first `n` buffered bytes, joining only as many chunks as that takes. */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    let count = 0;
    let size = 0;
    while (size < n && count < this.chunks.length) size += this.chunks[count++]!.length;
    const joined = Buffer.concat(this.chunks.slice(0, count), size);
    this.chunks.splice(0, count, joined);
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    let joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const out = joined.subarray(0, n);
    joined = joined.subarray(n);
    this.chunks = joined.length > 0 ? [joined] : [];
    this.buffered = joined.length;
    return out;
  }
}

/** A short, readable form of a payload: text when it is printable UTF-8, hex otherwise, cut. */
export function shortPayload(payload: Buffer, limit = 48): string {
  if (payload.length === 0) return '';
  const text = payload.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(payload) && !/[\u0000-\u001f\u007f\ufffd]/.test(text);
  if (printable) {
    return text.length > limit ? `${JSON.stringify(text.slice(0, limit))}…` : JSON.stringify(text);
  }
  const hex = payload.subarray(0, limit / 2).toString('hex');
  return `0x${hex}${payload.length > limit / 2 ? '…' : ''}`;
}

/** Short form of a frame, e.g. `text fin rsv=2 masked (13) "Hello, world!"`. */
export function describeFrame(frame: Omit<WireFrame, 'nonMinimalLength'>): string {
  const parts = [OPCODE_NAMES[frame.opcode] ?? `op${frame.opcode}`];
  if (!frame.fin) parts.push('!fin');
  if (frame.rsv !== 0) parts.push(`rsv=${frame.rsv}`);
  if (frame.masked) parts.push('masked');
  parts.push(`(${frame.payload.length})`);
  if (frame.opcode === 8 && frame.payload.length >= 2) {
    parts.push(`code=${frame.payload.readUInt16BE(0)}`);
    if (frame.payload.length > 2) parts.push(shortPayload(frame.payload.subarray(2)));
  } else {
    const payload = shortPayload(frame.payload);
    if (payload) parts.push(payload);
  }
  return parts.join(' ');
}
