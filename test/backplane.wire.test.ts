/**
 * The backplane wire format (src/backplane/wire.ts): round trip for any fields, and any bytes
 * from anyone who can PUBLISH either decode to a valid message or come back malformed with a
 * reason — never a throw, never text that is not UTF-8.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { HEADER_SIZE, MAX_SEQ, decode, encode, nextSeq } from '../src/backplane/wire.js';

const origin = fc.uint8Array({ minLength: 8, maxLength: 8 });
const seq = fc.integer({ min: 1, max: MAX_SEQ });
const fields = fc.oneof(
  fc.record({ binary: fc.constant(true), broadcast: fc.boolean(), origin, seq, payload: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({
    binary: fc.constant(false),
    broadcast: fc.boolean(),
    origin,
    seq,
    payload: fc.string({ unit: 'grapheme', maxLength: 100 }).map((s) => new Uint8Array(Buffer.from(s))),
  }),
);

describe('wire v1', () => {
  test('decode(encode(x)) = x', () => {
    fc.assert(
      fc.property(fields, (x) => {
        const bytes = encode(x);
        expect(bytes.length).toBe(HEADER_SIZE + x.payload.length);
        const m = decode(bytes);
        expect(m.ok).toBe(true);
        if (!m.ok) return;
        expect(m.binary).toBe(x.binary);
        expect(m.broadcast).toBe(x.broadcast);
        expect([...m.origin]).toEqual([...x.origin]);
        expect(m.seq).toBe(x.seq);
        expect(Buffer.compare(m.payload, x.payload)).toBe(0);
      }),
    );
  });

  test('random bytes never throw: valid, or malformed with a reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 64 }), (bytes, max) => {
        const m = decode(bytes, max);
        if (m.ok) {
          expect(m.payload.length).toBeLessThanOrEqual(max);
          if (!m.binary) expect(isUtf8(m.payload)).toBe(true);
          expect(m.seq).toBeGreaterThan(0);
        } else {
          expect(m.reason.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  test('mutated messages never throw', () => {
    fc.assert(
      fc.property(fields, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (x, at, byte, cut) => {
        const bytes = encode(x);
        if (bytes.length > 0) bytes[at % bytes.length] = byte;
        const m = decode(bytes.subarray(0, cut % (bytes.length + 1)));
        if (m.ok && !m.binary) expect(isUtf8(m.payload)).toBe(true);
      }),
    );
  });

  test.each([
    ['empty', Buffer.alloc(0), /truncated/],
    ['13 bytes', Buffer.alloc(13, 1), /truncated/],
    ['version 2', Buffer.from([2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1]), /version 2/],
    ['reserved flags', Buffer.from([1, 4, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1]), /reserved/],
    ['seq 0', Buffer.from([1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0]), /seq 0/],
    ['invalid UTF-8 as text', Buffer.from([1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0xc3, 0x28]), /UTF-8/],
  ])('%s is malformed', (_, bytes, reason) => {
    const m = decode(bytes);
    expect(m.ok).toBe(false);
    if (!m.ok) expect(m.reason).toMatch(reason);
  });

  test('oversized is malformed; the same bytes as binary are fine', () => {
    const payload = Buffer.alloc(100, 0xff);
    const text = encode({ binary: false, broadcast: false, origin: new Uint8Array(8), seq: 1, payload: Buffer.alloc(100, 0x61) });
    expect(decode(text, 99)).toMatchObject({ ok: false, reason: expect.stringMatching(/oversized/) });
    expect(decode(text, 100).ok).toBe(true);
    expect(decode(encode({ binary: true, broadcast: false, origin: new Uint8Array(8), seq: 1, payload })).ok).toBe(true);
  });

  test('the encoder refuses caller bugs; seq wraps to 1', () => {
    const base = { binary: true, broadcast: false, payload: new Uint8Array(0) };
    expect(() => encode({ ...base, origin: new Uint8Array(7), seq: 1 })).toThrow(RangeError);
    expect(() => encode({ ...base, origin: new Uint8Array(8), seq: 0 })).toThrow(RangeError);
    expect(() => encode({ ...base, origin: new Uint8Array(8), seq: MAX_SEQ + 1 })).toThrow(RangeError);
    expect(nextSeq(MAX_SEQ)).toBe(1);
    expect(nextSeq(0)).toBe(1);
  });
});
