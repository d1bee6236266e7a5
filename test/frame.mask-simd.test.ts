import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MASK_WASM, maskSimd, simdMaskAvailable } from '../src/frame/mask-simd.js';
import { maskInto, maskRange } from '../src/frame/mask.js';

function naive(data: Uint8Array, key: number[]): Uint8Array {
  return data.map((b, i) => b ^ key[i & 3]!);
}

describe('WebAssembly SIMD masking', () => {
  test('the hand-assembled module validates (Node 20 has WebAssembly SIMD)', () => {
    expect((globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate(MASK_WASM)).toBe(true);
    expect(simdMaskAvailable).toBe(true);
  });

  test('equals the naive loop around the 64-byte step and the 64 KiB block, any alignment', () => {
    const key = [0x37, 0xfa, 0x21, 0x3d];
    for (const length of [512, 513, 575, 576, 577, 4099, 65535, 65536, 65537, 65536 * 2 + 5]) {
      for (const before of [0, 1, 3]) {
        const whole = Buffer.alloc(before + length + 2, 0x5a);
        for (let i = 0; i < length; i++) whole[before + i] = (i * 31 + 7) & 0xff;
        const expected = naive(whole.subarray(before, before + length), key);
        expect(maskSimd(whole, before, before + length, whole, before, key[0]!, key[1]!, key[2]!, key[3]!)).toBe(true);
        expect(Buffer.compare(whole.subarray(before, before + length), expected), `length ${length} before ${before}`).toBe(0);
        // Bytes around the range are untouched, although the routine works in 64-byte steps.
        expect(whole[before + length]).toBe(0x5a);
        expect(whole[before + length + 1]).toBe(0x5a);
        if (before > 0) expect(whole[before - 1]).toBe(0x5a);
      }
    }
  });

  test('maskInto writes the unmasked bytes to the target and leaves the source as it was', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 5000, size: 'max' }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat({ max: 9 }),
        fc.nat({ max: 9 }),
        (payload, mask, before, at) => {
          const source = Buffer.alloc(before + payload.length);
          source.set(payload, before);
          const copyOfSource = Buffer.from(source);
          const target = Buffer.alloc(at + payload.length + 3, 0xa5);
          const [k0, k1, k2, k3] = mask;
          maskInto(source, before, before + payload.length, target, at, k0!, k1!, k2!, k3!);
          expect(Buffer.compare(target.subarray(at, at + payload.length), naive(payload, [k0!, k1!, k2!, k3!]))).toBe(0);
          expect(Buffer.compare(source, copyOfSource)).toBe(0);
          expect(Array.from(target.subarray(at + payload.length))).toEqual([0xa5, 0xa5, 0xa5]);
          // Masking twice is the identity, through either path.
          maskRange(target, at, at + payload.length, k0!, k1!, k2!, k3!);
          expect(Buffer.compare(target.subarray(at, at + payload.length), Buffer.from(payload))).toBe(0);
        },
      ),
    );
  });
});
