import { randomFillSync } from 'node:crypto';
import { maskSimd } from './mask-simd.js';

/**
 * Below this size a byte loop (unrolled, key in locals) beats setting up a word view. Measured
 * here: masking 125 B went from ~150 ns to ~50 ns when the threshold dropped from 128 to 32.
 */
const WORD_LOOP_THRESHOLD = 32;

/**
 * From this size on, the WebAssembly SIMD routine (copy in, XOR 64 bytes per step, copy out) beats
 * the JS word loop: measured by bench/profile/mask-simd.ts, even at 512 B and 2-3x from 1 KiB up
 * (16 KiB: ~1.7 µs against ~4.5 µs; 64 KiB: ~5 µs against ~15 µs).
 */
const SIMD_THRESHOLD = 512;

/** Int32Array words use the platform's byte order; the mask word must be built to match. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XOR `data[start, end)` in place with the key bytes `k0 k1 k2 k3` (already rotated so `k0`
 * applies to `data[start]`). The workhorse behind {@link applyMask}: takes no views, so callers
 * can mask a region of a larger buffer without allocating.
 *
 * @example
 * ```ts
 * import { maskRange } from './mask.js';
 *
 * // Unmask bytes 10..20 of a larger buffer in place, key already rotated for byte 10.
 * maskRange(buffer, 10, 20, 0x37, 0xfa, 0x21, 0x3d);
 * ```
 */
export function maskRange(data: Uint8Array, start: number, end: number, k0: number, k1: number, k2: number, k3: number): void {
  if (end - start >= SIMD_THRESHOLD && maskSimd(data, start, end, data, start, k0, k1, k2, k3)) return;
  let i = start;
  if (end - start >= WORD_LOOP_THRESHOLD) {
    // Bytes before the first 4-byte aligned address, so an Int32Array can view the rest.
    const head = (4 - ((data.byteOffset + i) & 3)) & 3;
    for (let h = 0; h < head; h++) {
      data[i++] ^= k0;
      const t = k0;
      k0 = k1;
      k1 = k2;
      k2 = k3;
      k3 = t;
    }
    const words = (end - i) >>> 2;
    const word = LITTLE_ENDIAN ? k0 | (k1 << 8) | (k2 << 16) | (k3 << 24) : (k0 << 24) | (k1 << 16) | (k2 << 8) | k3;
    const view = new Int32Array(data.buffer, data.byteOffset + i, words);
    const unrolled = words - (words & 7);
    let w = 0;
    for (; w < unrolled; w += 8) {
      view[w] ^= word;
      view[w + 1] ^= word;
      view[w + 2] ^= word;
      view[w + 3] ^= word;
      view[w + 4] ^= word;
      view[w + 5] ^= word;
      view[w + 6] ^= word;
      view[w + 7] ^= word;
    }
    for (; w < words; w++) view[w] ^= word;
    i += words * 4;
  }
  const quads = end - ((end - i) & 3);
  for (; i < quads; i += 4) {
    data[i] ^= k0;
    data[i + 1] ^= k1;
    data[i + 2] ^= k2;
    data[i + 3] ^= k3;
  }
  if (i < end) data[i++] ^= k0;
  if (i < end) data[i++] ^= k1;
  if (i < end) data[i] ^= k2;
}

/**
 * Writes `source[start, end)` XORed with the key `k0 k1 k2 k3` (rotated so `k0` applies to
 * `source[start]`) into `target` at `targetOffset`: unmasking straight into a message buffer, so
 * a payload that spans chunks costs one pass instead of unmask-in-place plus a concatenation.
 * `source` is left as it was.
 *
 * @example
 * ```ts
 * import { maskInto } from './mask.js';
 *
 * // Gather a masked payload arriving in two chunks into one buffer, unmasked.
 * const message = Buffer.allocUnsafe(a.length + b.length);
 * maskInto(a, 0, a.length, message, 0, k0, k1, k2, k3);
 * // b starts a.length bytes into the payload: rotate the key by a.length & 3 (here 0).
 * maskInto(b, 0, b.length, message, a.length, k0, k1, k2, k3);
 * ```
 */
export function maskInto(
  source: Buffer,
  start: number,
  end: number,
  target: Buffer,
  targetOffset: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
): void {
  if (end - start >= SIMD_THRESHOLD && maskSimd(source, start, end, target, targetOffset, k0, k1, k2, k3)) return;
  source.copy(target, targetOffset, start, end);
  maskRange(target, targetOffset, targetOffset + (end - start), k0, k1, k2, k3);
}

/**
 * XOR `data` in place with the 4-byte `mask` (RFC 6455 §5.3), starting at byte `maskOffset` of the
 * mask. `maskOffset` lets a payload that arrives in pieces be unmasked piece by piece: pass the
 * number of payload bytes already unmasked.
 *
 * Large buffers are processed a 32-bit word at a time (unrolled x8), small ones 4 bytes per step.
 *
 * @example
 * ```ts
 * import { applyMask } from 'fullduplex/frame';
 *
 * // RFC 6455 §5.7: "Hello" masked with the key 37 fa 21 3d.
 * const payload = Buffer.from([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * applyMask(payload, Buffer.from([0x37, 0xfa, 0x21, 0x3d]));
 * console.log(payload.toString()); // 'Hello'
 * ```
 */
export function applyMask(data: Uint8Array, mask: Uint8Array, maskOffset = 0): void {
  const m = maskOffset & 3;
  maskRange(data, 0, data.length, mask[m]!, mask[(m + 1) & 3]!, mask[(m + 2) & 3]!, mask[(m + 3) & 3]!);
}

/**
 * Where masking keys come from. Injectable so tests can pin the mask (as ws's `generateMask`).
 *
 * @example
 * ```ts
 * import type { MaskSource } from 'fullduplex/frame';
 *
 * // A counter instead of random keys: reproducible bytes in a test.
 * let n = 0;
 * const counting: MaskSource = {
 *   fill(target, offset) {
 *     target[offset] = target[offset + 1] = target[offset + 2] = 0;
 *     target[offset + 3] = ++n & 0xff;
 *   },
 * };
 * ```
 */
export interface MaskSource {
  /** Writes a fresh 4-byte masking key into `target` at `offset`. */
  fill(target: Uint8Array, offset: number): void;
}

const POOL_SIZE = 8192;

/**
 * Masking keys from `node:crypto`, drawn 8 KiB at a time (2,048 keys per `randomFillSync` call)
 * rather than one system call per frame. RFC 6455 §5.3 requires keys an intermediary cannot
 * predict; a CSPRNG pool meets that.
 *
 * @example
 * ```ts
 * import { encodeFrame, Opcode, RandomMaskSource } from 'fullduplex/frame';
 *
 * const masks = new RandomMaskSource(); // one per client connection is plenty
 * const [frame] = encodeFrame({ fin: true, opcode: Opcode.TEXT }, Buffer.from('hi'), masks);
 * console.log(frame!.length); // 2 header + 4 key + 2 payload = 8
 * ```
 */
export class RandomMaskSource implements MaskSource {
  private readonly pool = Buffer.allocUnsafe(POOL_SIZE);
  private position = POOL_SIZE;

  fill(target: Uint8Array, offset: number): void {
    if (this.position === POOL_SIZE) {
      randomFillSync(this.pool);
      this.position = 0;
    }
    const p = this.position;
    const pool = this.pool;
    target[offset] = pool[p]!;
    target[offset + 1] = pool[p + 1]!;
    target[offset + 2] = pool[p + 2]!;
    target[offset + 3] = pool[p + 3]!;
    this.position = p + 4;
  }
}

/**
 * A source that always yields the same key. For tests and the RFC's worked examples only.
 *
 * @example
 * ```ts
 * import { encodeFrame, FixedMaskSource, Opcode } from 'fullduplex/frame';
 *
 * const mask = new FixedMaskSource(Buffer.from([0x37, 0xfa, 0x21, 0x3d]));
 * const [frame] = encodeFrame({ fin: true, opcode: Opcode.TEXT }, Buffer.from('Hello'), mask);
 * console.log(frame!.toString('hex')); // '818537fa213d7f9f4d5158' (RFC 6455 §5.7)
 * ```
 */
export class FixedMaskSource implements MaskSource {
  constructor(private readonly key: Uint8Array) {}

  fill(target: Uint8Array, offset: number): void {
    target.set(this.key.subarray(0, 4), offset);
  }
}
