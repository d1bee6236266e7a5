/**
 * Incremental UTF-8 validation (RFC 3629 as required by RFC 6455 §8.1): the streaming validator
 * must agree with a strict one-shot decoder at every split point, and fail fast — the push that
 * contains the first byte no valid sequence can continue with returns false.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Utf8Validator, isValidUtf8 } from '../src/frame/index.js';
import { hex } from './frame.helpers.js';

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

function reference(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** push(a[0..i]) then push(a[i..]) then end(), stopping at the first false. */
function validateSplit(bytes: Uint8Array, i: number): boolean {
  const v = new Utf8Validator();
  return v.push(bytes.subarray(0, i)) && v.push(bytes.subarray(i)) && v.end();
}

function validatePieces(pieces: readonly Uint8Array[]): boolean {
  const v = new Utf8Validator();
  for (const piece of pieces) if (!v.push(piece)) return false;
  return v.end();
}

/** Index of the byte at which pushing one byte at a time first returns false, or -1. */
function firstRejectedByte(bytes: Uint8Array): number {
  const v = new Utf8Validator();
  for (let i = 0; i < bytes.length; i++) {
    if (!v.push(bytes.subarray(i, i + 1))) return i;
  }
  return -1;
}

/** Valid UTF-8 from random strings including astral characters. */
const validUtf8 = fc
  .string({ unit: 'binary', maxLength: 40, size: 'max' })
  .map((s) => new Uint8Array(Buffer.from(s, 'utf8')));

/** Edits that break (or sometimes keep) validity: overwrite, insert or delete bytes. */
type Edit = { kind: 'set' | 'insert' | 'delete'; at: number; byte: number };
const editArb: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom<Edit['kind']>('set', 'insert', 'delete'),
  at: fc.nat(),
  byte: fc.oneof(fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0, max: 0xff })),
});

function applyEdits(input: Uint8Array, edits: readonly Edit[]): Uint8Array {
  const out = Array.from(input);
  for (const e of edits) {
    const at = e.at % (out.length + 1);
    if (e.kind === 'insert') out.splice(at, 0, e.byte);
    else if (out.length > 0) {
      const idx = e.at % out.length;
      if (e.kind === 'set') out[idx] = e.byte;
      else out.splice(idx, 1);
    }
  }
  return Uint8Array.from(out);
}

const mutatedUtf8 = fc
  .tuple(validUtf8, fc.array(editArb, { minLength: 1, maxLength: 4 }))
  .map(([bytes, edits]) => applyEdits(bytes, edits));

/** Bytes biased toward the interesting lead/continuation ranges. */
const utf8ishByte = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0xbf }),
  fc.constantFrom(0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
  fc.integer({ min: 0, max: 0xff }),
);
const randomBytes = fc.array(utf8ishByte, { maxLength: 24, size: 'max' }).map((a) => Uint8Array.from(a));

function agreesAtEverySplit(bytes: Uint8Array): void {
  const expected = reference(bytes);
  expect(isValidUtf8(bytes)).toBe(expected);
  for (let i = 0; i <= bytes.length; i++) {
    expect(validateSplit(bytes, i), `split at ${i} of ${Buffer.from(bytes).toString('hex')}`).toBe(expected);
  }
}

describe('Utf8Validator agrees with TextDecoder (fatal) at every split point', () => {
  test('valid UTF-8 from random strings (incl. astral characters)', () => {
    fc.assert(fc.property(validUtf8, agreesAtEverySplit), { numRuns: 300 });
  });

  test('mutated UTF-8 (bytes overwritten, inserted, deleted)', () => {
    fc.assert(fc.property(mutatedUtf8, agreesAtEverySplit), { numRuns: 1000 });
  });

  test('random bytes biased toward lead and continuation bytes', () => {
    fc.assert(fc.property(randomBytes, agreesAtEverySplit), { numRuns: 1000 });
  });

  test('byte-at-a-time and random multi-way splits agree too', () => {
    fc.assert(
      fc.property(fc.oneof(validUtf8, mutatedUtf8, randomBytes), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const expected = reference(bytes);
        const singles = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
        expect(validatePieces(singles)).toBe(expected);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const pieces: Uint8Array[] = [];
        let start = 0;
        for (const p of [...points, bytes.length]) {
          pieces.push(bytes.subarray(start, p));
          start = p;
        }
        expect(validatePieces(pieces)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  test('long valid pieces around the native/bytewise boundary (sequence split in the last 4 bytes)', () => {
    const text = 'ab€😀'.repeat(50) + 'Ωz';
    const bytes = new Uint8Array(Buffer.from(text, 'utf8'));
    for (let i = 0; i <= bytes.length; i++) expect(validateSplit(bytes, i), `split ${i}`).toBe(true);
  });
});

describe('classic invalid sequences are rejected', () => {
  const cases: Array<[string, string]> = [
    ['overlong 2-byte NUL C0 80', 'c0 80'],
    ['overlong 2-byte C1 BF', 'c1 bf'],
    ['overlong 3-byte E0 80 80', 'e0 80 80'],
    ['overlong 3-byte E0 9F BF', 'e0 9f bf'],
    ['overlong 4-byte F0 80 80 80', 'f0 80 80 80'],
    ['overlong 4-byte F0 8F BF BF', 'f0 8f bf bf'],
    ['high surrogate U+D800 ED A0 80', 'ed a0 80'],
    ['low surrogate U+DFFF ED BF BF', 'ed bf bf'],
    ['surrogate pair encoded as CESU-8', 'ed a0 bd ed b2 a9'],
    ['above U+10FFFF F4 90 80 80', 'f4 90 80 80'],
    ['lead byte F5', 'f5 80 80 80'],
    ['lead byte F8 (5-byte form)', 'f8 88 80 80 80'],
    ['lead byte FC (6-byte form)', 'fc 84 80 80 80 80'],
    ['byte FE', 'fe'],
    ['byte FF', 'ff'],
    ['lone continuation byte 80', '80'],
    ['continuation after ASCII', '41 bf'],
    ['too many continuation bytes', 'c2 80 80'],
    ['truncated 2-byte sequence at end', '41 c2'],
    ['truncated 3-byte sequence at end', '41 e2 82'],
    ['truncated 4-byte sequence at end', 'f0 9f 98'],
    ['lead byte followed by ASCII', 'e2 41 41'],
  ];

  test.each(cases)('%s', (_name, hexBytes) => {
    const bytes = new Uint8Array(hex(hexBytes));
    expect(reference(bytes)).toBe(false); // sanity: the table is right
    expect(isValidUtf8(bytes)).toBe(false);
    for (let i = 0; i <= bytes.length; i++) expect(validateSplit(bytes, i), `split ${i}`).toBe(false);
  });

  test.each([
    ['U+0000', '00'],
    ['U+007F', '7f'],
    ['U+0080', 'c2 80'],
    ['U+07FF', 'df bf'],
    ['U+0800', 'e0 a0 80'],
    ['U+D7FF', 'ed 9f bf'],
    ['U+E000', 'ee 80 80'],
    ['U+FFFF', 'ef bf bf'],
    ['U+10000', 'f0 90 80 80'],
    ['U+10FFFF', 'f4 8f bf bf'],
  ])('boundary code point %s is accepted', (_name, hexBytes) => {
    const bytes = new Uint8Array(hex(hexBytes));
    for (let i = 0; i <= bytes.length; i++) expect(validateSplit(bytes, i)).toBe(true);
  });
});

describe('fail fast: the push containing the first impossible byte returns false', () => {
  test('Autobahn 6.4.x style: κόσμε + ED A0 80 + "edited" fails at the 0xA0 byte', () => {
    const bytes = new Uint8Array(hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64'));
    expect(firstRejectedByte(bytes)).toBe(12);
  });

  test.each([
    ['F4 90 fails at 0x90', 'f4 90 80 80', 1],
    ['E0 80 fails at the first 0x80', 'e0 80 80', 1],
    ['F0 80 fails at the first 0x80', 'f0 80 80 80', 1],
    ['C0 fails immediately', 'c0 80', 0],
    ['F5 fails immediately', 'f5 80 80 80', 0],
    ['FF fails immediately', 'ff', 0],
    ['lone continuation fails immediately', '41 80', 1],
    ['E2 then ASCII fails at the ASCII byte', 'e2 41', 1],
    ['κόσμε then F4 90 fails at 0x90', 'ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80 65', 12],
  ])('%s', (_name, hexBytes, index) => {
    expect(firstRejectedByte(new Uint8Array(hex(hexBytes)))).toBe(index);
  });

  test('a truncated sequence is not rejected by push, only by end()', () => {
    const v = new Utf8Validator();
    expect(v.push(new Uint8Array(hex('41 f0 9f 98')))).toBe(true);
    expect(v.isComplete).toBe(false);
    expect(v.end()).toBe(false);
  });

  test('for any valid prefix followed by a bad byte, the push carrying the bad byte fails', () => {
    fc.assert(
      fc.property(validUtf8, fc.constantFrom('c0', 'ff', '80', 'ed a0', 'f4 90', 'e0 80'), validUtf8, fc.nat(), (prefix, bad, suffix, cut) => {
        const badBytes = hex(bad);
        const all = new Uint8Array(Buffer.concat([prefix, badBytes, suffix]));
        const badIndex = prefix.length + badBytes.length - 1; // the byte that makes it impossible
        const split = cut % (all.length + 1);
        const v = new Utf8Validator();
        const first = v.push(all.subarray(0, split));
        if (split > badIndex) {
          expect(first).toBe(false);
        } else {
          expect(first).toBe(true);
          expect(v.push(all.subarray(split))).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('reset() makes the validator reusable after a failure and mid-sequence', () => {
    const v = new Utf8Validator();
    expect(v.push(new Uint8Array(hex('ed a0')))).toBe(false);
    v.reset();
    expect(v.push(new Uint8Array(hex('e2 82')))).toBe(true);
    v.reset();
    expect(v.isComplete).toBe(true);
    expect(v.push(new Uint8Array(hex('41')))).toBe(true);
    expect(v.end()).toBe(true);
  });
});
