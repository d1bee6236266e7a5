import { applyMask, type MaskSource } from './mask.js';

/** Everything in a frame header except the length, which comes from the payload (RFC 6455 §5.2). */
export interface FrameHeaderFields {
  /** Final fragment of a message. */
  fin: boolean;
  /** RSV1–RSV3 as a 3-bit number (RSV1 = 0b100); nonzero only with a negotiated extension. */
  rsv?: number;
  /** Opcode, see {@link Opcode}. */
  opcode: number;
}

/** Payloads up to this size are copied next to their header; larger ones go out as a second buffer. */
export const COPY_THRESHOLD = 16 * 1024;

/** Size of the header for a payload of `length` bytes: 2, 4 or 10 bytes, plus 4 with a mask. */
export function headerSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset after it. When
 * `maskSource` is given the header gets the MASK bit and a fresh key (the last 4 header bytes).
 * Lengths use the shortest form, as §5.2 requires ("the minimal number of bytes MUST be used").
 */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  fields: FrameHeaderFields,
  length: number,
  maskSource?: MaskSource | null,
): number {
  target[offset] = (fields.fin ? 0x80 : 0) | ((fields.rsv ?? 0) << 4) | fields.opcode;
  const maskBit = maskSource ? 0x80 : 0;
  let p = offset + 2;
  if (length < 126) {
    target[offset + 1] = maskBit | length;
  } else if (length < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[p] = length >>> 8;
    target[p + 1] = length & 0xff;
    p += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    // 2^53 is far beyond any buffer Node can hold, so the top 32 bits fit a double exactly.
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    target[p] = high >>> 24;
    target[p + 1] = (high >>> 16) & 0xff;
    target[p + 2] = (high >>> 8) & 0xff;
    target[p + 3] = high & 0xff;
    target[p + 4] = low >>> 24;
    target[p + 5] = (low >>> 16) & 0xff;
    target[p + 6] = (low >>> 8) & 0xff;
    target[p + 7] = low & 0xff;
    p += 8;
  }
  if (maskSource) {
    maskSource.fill(target, p);
    p += 4;
  }
  return p;
}

/**
 * Encodes one frame. Returns one buffer for small or masked frames, and `[header, payload]` for
 * large unmasked ones so the payload is never copied just to put a header in front of it — the
 * caller writes both with a vectored write. A masked frame is always a copy: the caller's bytes
 * are not ours to scramble.
 */
export function encodeFrame(
  fields: FrameHeaderFields,
  payload: Uint8Array,
  maskSource?: MaskSource | null,
): Buffer[] {
  const length = payload.length;
  const size = headerSize(length, !!maskSource);
  if (!maskSource && length > COPY_THRESHOLD) {
    const header = Buffer.allocUnsafe(size);
    writeHeader(header, 0, fields, length, null);
    return [header, toBuffer(payload)];
  }
  const frame = Buffer.allocUnsafe(size + length);
  writeHeader(frame, 0, fields, length, maskSource);
  frame.set(payload, size);
  if (maskSource && length > 0) {
    applyMask(frame.subarray(size), frame.subarray(size - 4, size));
  }
  return [frame];
}

/** A Buffer view of any byte array, without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
