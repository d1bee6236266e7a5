/** RFC 6455 §5.3 masking: applyMask against a naive byte loop, and the mask sources. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FixedMaskSource, RandomMaskSource, applyMask } from '../src/frame/index.js';

/** The definition from §5.3: transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4). */
function naive(data: Uint8Array, mask: Uint8Array, maskOffset: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ mask[(maskOffset + i) % 4]!;
  return out;
}

const maskArb = fc.uint8Array({ minLength: 4, maxLength: 4 });

/**
 * A payload placed at a random byteOffset inside a larger buffer, so the word loop sees every
 * alignment, with guard bytes on both sides to catch writes outside the view.
 */
const placedPayload = fc.record({
  payload: fc.uint8Array({ minLength: 0, maxLength: 2000, size: 'max' }),
  before: fc.integer({ min: 0, max: 7 }),
  after: fc.integer({ min: 0, max: 7 }),
});

function place(payload: Uint8Array, before: number, after: number): { whole: Uint8Array; view: Uint8Array } {
  const whole = new Uint8Array(before + payload.length + after).fill(0x5a);
  whole.set(payload, before);
  return { whole, view: whole.subarray(before, before + payload.length) };
}

describe('applyMask (§5.3)', () => {
  test('equals the naive byte loop for any length, alignment and mask offset', () => {
    fc.assert(
      fc.property(placedPayload, maskArb, fc.nat({ max: 1000 }), ({ payload, before, after }, mask, maskOffset) => {
        const { whole, view } = place(payload, before, after);
        applyMask(view, mask, maskOffset);
        expect(Array.from(view)).toEqual(Array.from(naive(payload, mask, maskOffset)));
        // Nothing outside the view was touched.
        expect(Array.from(whole.subarray(0, before))).toEqual(new Array(before).fill(0x5a));
        expect(Array.from(whole.subarray(before + payload.length))).toEqual(new Array(after).fill(0x5a));
      }),
      { numRuns: 500 },
    );
  });

  test('equals the naive loop at the exact sizes around the word-loop threshold', () => {
    const mask = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
    for (const length of [0, 1, 3, 4, 5, 127, 128, 129, 131, 132, 133, 160, 161, 1023, 1024, 1025]) {
      for (let before = 0; before < 4; before++) {
        for (let maskOffset = 0; maskOffset < 4; maskOffset++) {
          const payload = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff);
          const { view } = place(payload, before, 3);
          applyMask(view, mask, maskOffset);
          expect(Array.from(view), `length ${length} before ${before} offset ${maskOffset}`).toEqual(
            Array.from(naive(payload, mask, maskOffset)),
          );
        }
      }
    }
  });

  test('masking twice restores the original (XOR is an involution)', () => {
    fc.assert(
      fc.property(placedPayload, maskArb, fc.nat({ max: 100 }), ({ payload, before, after }, mask, maskOffset) => {
        const { view } = place(payload, before, after);
        applyMask(view, mask, maskOffset);
        applyMask(view, mask, maskOffset);
        expect(Array.from(view)).toEqual(Array.from(payload));
      }),
      { numRuns: 300 },
    );
  });

  test('masking piece by piece with maskOffset = bytes so far equals masking the whole', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 2000, size: 'max' }),
        maskArb,
        fc.array(fc.nat({ max: 2000 }), { maxLength: 12, size: 'max' }),
        (payload, mask, rawCuts) => {
          const whole = Uint8Array.from(payload);
          applyMask(whole, mask, 0);

          const pieces = Uint8Array.from(payload);
          const cuts = [...new Set(rawCuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
          let start = 0;
          for (const end of [...cuts, payload.length]) {
            if (end < start) continue;
            applyMask(pieces.subarray(start, end), mask, start);
            start = end;
          }
          expect(Array.from(pieces)).toEqual(Array.from(whole));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('only the low two bits of maskOffset matter', () => {
    const mask = Uint8Array.of(1, 2, 3, 4);
    const payload = new Uint8Array(300).fill(0);
    for (let offset = 0; offset < 12; offset++) {
      const a = Uint8Array.from(payload);
      const b = Uint8Array.from(payload);
      applyMask(a, mask, offset);
      applyMask(b, mask, offset & 3);
      expect(Array.from(a)).toEqual(Array.from(b));
    }
  });
});

describe('mask sources', () => {
  test('FixedMaskSource writes its 4-byte key at the offset and nothing else', () => {
    const target = new Uint8Array(10).fill(0xee);
    new FixedMaskSource(Uint8Array.of(0x37, 0xfa, 0x21, 0x3d)).fill(target, 3);
    expect(Array.from(target)).toEqual([0xee, 0xee, 0xee, 0x37, 0xfa, 0x21, 0x3d, 0xee, 0xee, 0xee]);
  });

  test('RandomMaskSource writes exactly 4 bytes at the offset', () => {
    const source = new RandomMaskSource();
    const target = new Uint8Array(12).fill(0xee);
    // The key itself may contain 0xee by chance; the bytes around it must not change.
    source.fill(target, 4);
    expect(Array.from(target.subarray(0, 4))).toEqual([0xee, 0xee, 0xee, 0xee]);
    expect(Array.from(target.subarray(8))).toEqual([0xee, 0xee, 0xee, 0xee]);
  });

  test('RandomMaskSource gives varying keys, also across its 8 KiB pool refill', () => {
    const source = new RandomMaskSource();
    const keys = new Set<string>();
    const count = 5000; // > 2048 keys per pool, so the pool is refilled twice
    const key = new Uint8Array(4);
    for (let i = 0; i < count; i++) {
      source.fill(key, 0);
      keys.add(Buffer.from(key).toString('hex'));
    }
    // 5000 draws from 2^32 keys: a handful of collisions at most (expected ≈ 0.003).
    expect(keys.size).toBeGreaterThan(count - 5);
  });

  test('two RandomMaskSources do not produce the same sequence', () => {
    const a = new RandomMaskSource();
    const b = new RandomMaskSource();
    const ka = new Uint8Array(64);
    const kb = new Uint8Array(64);
    for (let i = 0; i < 16; i++) {
      a.fill(ka, i * 4);
      b.fill(kb, i * 4);
    }
    expect(Buffer.from(ka).equals(Buffer.from(kb))).toBe(false);
  });
});
