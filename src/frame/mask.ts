import { randomFillSync } from 'node:crypto';

/** Below this size a byte loop beats setting up a word view (measured: ~128 B, PERFORMANCE-NOTES §4). */
const WORD_LOOP_THRESHOLD = 128;

/**
 * XOR `data` in place with the 4-byte `mask` (RFC 6455 §5.3), starting at byte `maskOffset` of the
 * mask. `maskOffset` lets a payload that arrives in pieces be unmasked piece by piece: pass the
 * number of payload bytes already unmasked.
 *
 * Large buffers are processed a 32-bit word at a time (unrolled), small ones byte by byte.
 */
export function applyMask(data: Uint8Array, mask: Uint8Array, maskOffset = 0): void {
  const length = data.length;
  let m = maskOffset & 3;
  if (length < WORD_LOOP_THRESHOLD) {
    for (let i = 0; i < length; i++) {
      data[i] ^= mask[(m + i) & 3]!;
    }
    return;
  }
  // Bytes before the first 4-byte aligned address, so an Int32Array can view the rest.
  let i = 0;
  const head = (4 - (data.byteOffset & 3)) & 3;
  for (; i < head; i++) data[i] ^= mask[(m + i) & 3]!;
  m = (m + head) & 3;
  // The word whose bytes, read little-endian, are the mask rotated to start at `m`.
  const word =
    mask[m]! | (mask[(m + 1) & 3]! << 8) | (mask[(m + 2) & 3]! << 16) | (mask[(m + 3) & 3]! << 24);
  const words = (length - head) >>> 2;
  const view = new Int32Array(data.buffer, data.byteOffset + head, words);
  let w = 0;
  const unrolled = words - (words & 7);
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
  i = head + words * 4;
  for (let k = 0; i < length; i++, k++) data[i] ^= mask[(m + k) & 3]!;
}

/** Where masking keys come from. Injectable so tests can pin the mask (as ws's `generateMask`). */
export interface MaskSource {
  /** Writes a fresh 4-byte masking key into `target` at `offset`. */
  fill(target: Uint8Array, offset: number): void;
}

const POOL_SIZE = 8192;

/**
 * Masking keys from `node:crypto`, drawn 8 KiB at a time (2,048 keys per `randomFillSync` call)
 * rather than one system call per frame. RFC 6455 §5.3 requires keys an intermediary cannot
 * predict; a CSPRNG pool meets that.
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

/** A source that always yields the same key. For tests and the RFC's worked examples only. */
export class FixedMaskSource implements MaskSource {
  constructor(private readonly key: Uint8Array) {}

  fill(target: Uint8Array, offset: number): void {
    target.set(this.key.subarray(0, 4), offset);
  }
}
