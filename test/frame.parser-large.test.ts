/**
 * Large frames that span chunks: the parser gathers them into one buffer allocated at the
 * announced size (unmasking each piece on the way, with WebAssembly SIMD for large pieces), and
 * frames over 1 MiB collect pieces instead. Both must give the same bytes for any chunking.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { makeParser, rawFrame, splitAt } from './frame.helpers.js';

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 131 + seed) & 0x7f; // ASCII, so valid as text too
  return out;
}

describe('frames spanning chunks', () => {
  for (const length of [600, 16 * 1024 + 3, 65536, 65536 + 7, 1024 * 1024, 1024 * 1024 + 5]) {
    test(`${length} B, masked, text and binary, random chunkings`, () => {
      const binary = pattern(length, 1);
      const text = pattern(length, 2);
      const stream = Buffer.concat([
        rawFrame({ opcode: 0x2, payload: binary, key: KEY }),
        rawFrame({ opcode: 0x1, payload: text, key: KEY }),
        rawFrame({ opcode: 0x9, payload: Buffer.from('p'), key: KEY }),
      ]);
      fc.assert(
        fc.property(fc.array(fc.nat({ max: stream.length }), { minLength: 1, maxLength: 12 }), (cuts) => {
          const { parser, sink } = makeParser({ role: 'server' });
          for (const chunk of splitAt(stream, cuts)) parser.push(chunk);
          expect(sink.errors).toEqual([]);
          expect(sink.events.length).toBe(3);
          const [first, second, third] = sink.events;
          expect(first!.type === 'binary' && Buffer.compare(first.data, binary)).toBe(0);
          expect(second!.type === 'text' && second.text === text.toString('latin1')).toBe(true);
          expect(third).toEqual({ type: 'ping', data: Buffer.from('p') });
        }),
        { numRuns: 20 },
      );
    });
  }

  test('invalid UTF-8 in a gathered text frame fails at the piece that carries it', () => {
    const text = pattern(70_000, 3);
    text[40_000] = 0xff;
    const stream = rawFrame({ opcode: 0x1, payload: text, key: KEY });
    const { parser, sink } = makeParser({ role: 'server' });
    parser.push(stream.subarray(0, 30_000));
    expect(sink.errors).toEqual([]);
    parser.push(stream.subarray(30_000, 50_000));
    expect(sink.errors.map((e) => e.code)).toEqual(['FD_ERR_INVALID_UTF8']);
  });

  test('a client gathers unmasked frames the same way', () => {
    const binary = pattern(200_000, 4);
    const stream = rawFrame({ opcode: 0x2, payload: binary });
    const { parser, sink } = makeParser({ role: 'client' });
    for (const chunk of splitAt(stream, [1, 5, 65_000, 130_000])) parser.push(chunk);
    expect(sink.events.length).toBe(1);
    expect(Buffer.compare((sink.events[0] as { data: Buffer }).data, binary)).toBe(0);
  });
});
