import { applyMask, type MaskSource } from './mask.js';

/**
 * Everything in a frame header except the length, which comes from the payload (RFC 6455 §5.2).
 *
 * @example
 * ```ts
 * import { encodeFrame, Opcode, type FrameHeaderFields } from 'fullduplex/frame';
 *
 * const firstFragment: FrameHeaderFields = { fin: false, opcode: Opcode.TEXT };
 * const [frame] = encodeFrame(firstFragment, Buffer.from('Hel'));
 * console.log(frame!.toString('hex')); // '010348656c' (RFC 6455 §5.7)
 * ```
 */
export interface FrameHeaderFields {
  /** Final fragment of a message. */
  fin: boolean;
  /** RSV1–RSV3 as a 3-bit number (RSV1 = 0b100); nonzero only with a negotiated extension. */
  rsv?: number;
  /** Opcode, see {@link Opcode}. */
  opcode: number;
}

/**
 * Payloads up to this size are copied next to their header; larger ones go out as a second buffer.
 *
 * @example
 * ```ts
 * import { COPY_THRESHOLD, encodeFrame, Opcode } from 'fullduplex/frame';
 *
 * const big = Buffer.alloc(COPY_THRESHOLD + 1);
 * const parts = encodeFrame({ fin: true, opcode: Opcode.BINARY }, big);
 * console.log(parts.length, parts[1] === big); // 2 true: the payload was not copied
 * ```
 */
export const COPY_THRESHOLD = 16 * 1024;

/**
 * Size of the header for a payload of `length` bytes: 2, 4 or 10 bytes, plus 4 with a mask.
 *
 * @example
 * ```ts
 * import { headerSize } from 'fullduplex/frame';
 *
 * headerSize(125, false); // 2
 * headerSize(126, false); // 4: 16-bit extended length
 * headerSize(70_000, true); // 14: 64-bit length + masking key
 * ```
 */
export function headerSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset after it. When
 * `maskSource` is given the header gets the MASK bit and a fresh key (the last 4 header bytes).
 * Lengths use the shortest form, as §5.2 requires ("the minimal number of bytes MUST be used").
 *
 * @example
 * ```ts
 * import { headerSize, Opcode, writeHeader } from 'fullduplex/frame';
 *
 * const payload = Buffer.from('Hello');
 * const frame = Buffer.alloc(headerSize(payload.length, false) + payload.length);
 * const offset = writeHeader(frame, 0, { fin: true, opcode: Opcode.TEXT }, payload.length);
 * payload.copy(frame, offset);
 * console.log(frame.toString('hex')); // '810548656c6c6f'
 * ```
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
 *
 * @example
 * ```ts
 * import { encodeFrame, Opcode } from 'fullduplex/frame';
 *
 * const [frame] = encodeFrame({ fin: true, opcode: Opcode.TEXT }, Buffer.from('Hello'));
 * console.log(frame!.toString('hex')); // '810548656c6c6f' (RFC 6455 §5.7)
 * // socket.write(frame) — or, for the two-part form, cork and write both.
 * ```
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

/**
 * A Buffer view of any byte array, without copying.
 *
 * @example
 * ```ts
 * import { toBuffer } from 'fullduplex/frame';
 *
 * const bytes = new Uint8Array([1, 2, 3]);
 * const view = toBuffer(bytes);
 * view[0] = 9;
 * console.log(bytes[0]); // 9: same memory, no copy
 * ```
 */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
