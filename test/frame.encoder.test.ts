/** Frame encoding (RFC 6455 §5.2): header layout, minimal lengths, masking, zero-copy for large payloads. */
import { describe, expect, test } from 'vitest';
import {
  COPY_THRESHOLD,
  FixedMaskSource,
  Opcode,
  encodeFrame,
  headerSize,
  toBuffer,
  writeHeader,
} from '../src/frame/index.js';
import { RFC_KEY, hex, naiveMask, parseChunks } from './frame.helpers.js';

const BOUNDARY_LENGTHS: Array<[number, number, string]> = [
  // length, unmasked header size, expected length bytes after the first header byte (mask bit clear)
  [0, 2, '00'],
  [1, 2, '01'],
  [125, 2, '7d'],
  [126, 4, '7e 00 7e'],
  [127, 4, '7e 00 7f'],
  [65535, 4, '7e ff ff'],
  [65536, 10, '7f 00 00 00 00 00 01 00 00'],
  [70000, 10, '7f 00 00 00 00 00 01 11 70'],
];

describe('headerSize and writeHeader (§5.2 minimal length encoding)', () => {
  test.each(BOUNDARY_LENGTHS)('payload of %i bytes: %i-byte header, length bytes %s', (length, size, lengthHex) => {
    expect(headerSize(length, false)).toBe(size);
    expect(headerSize(length, true)).toBe(size + 4);

    const target = Buffer.alloc(20, 0xee);
    const end = writeHeader(target, 3, { fin: true, opcode: Opcode.BINARY }, length);
    expect(end).toBe(3 + size);
    expect(target[3]).toBe(0x82);
    expect(target.subarray(4, end)).toEqual(hex(lengthHex));
    expect(target[2]).toBe(0xee); // nothing before the offset
    expect(target[end]).toBe(0xee); // nothing after the header
  });

  test.each(BOUNDARY_LENGTHS)('masked header for %i bytes sets the MASK bit and appends the key', (length, size) => {
    const target = Buffer.alloc(20);
    const end = writeHeader(target, 0, { fin: true, opcode: Opcode.TEXT }, length, new FixedMaskSource(RFC_KEY));
    expect(end).toBe(size + 4);
    expect(target[1]! & 0x80).toBe(0x80);
    expect(target.subarray(end - 4, end)).toEqual(RFC_KEY);
  });

  test('a length beyond 32 bits is written in full (high word first)', () => {
    const target = Buffer.alloc(10);
    writeHeader(target, 0, { fin: true, opcode: Opcode.BINARY }, 0x1_2345_6789);
    expect(target).toEqual(hex('82 7f 00 00 00 01 23 45 67 89'));
  });

  test('first byte carries FIN, RSV and opcode', () => {
    const target = Buffer.alloc(2);
    writeHeader(target, 0, { fin: false, rsv: 0b100, opcode: Opcode.TEXT }, 0);
    expect(target[0]).toBe(0x41);
    writeHeader(target, 0, { fin: true, rsv: 0b111, opcode: Opcode.CONTINUATION }, 0);
    expect(target[0]).toBe(0xf0);
    writeHeader(target, 0, { fin: true, opcode: Opcode.CLOSE }, 0);
    expect(target[0]).toBe(0x88);
  });
});

describe('encodeFrame', () => {
  test.each([0, 1, 125, 126, 65535, 65536])('unmasked %i-byte payload round-trips through a client parser', (length) => {
    const payload = Buffer.alloc(length);
    for (let i = 0; i < length; i++) payload[i] = (i * 13) & 0xff;
    const parts = encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload);
    const frame = Buffer.concat(parts);
    expect(frame.length).toBe(headerSize(length, false) + length);
    expect(parseChunks({ role: 'client' }, [frame])).toEqual([{ type: 'binary', data: payload }]);
  });

  test.each([0, 1, 125, 126, 65535, 65536])('masked %i-byte payload is one buffer masked per §5.3', (length) => {
    const payload = Buffer.alloc(length);
    for (let i = 0; i < length; i++) payload[i] = (i * 29) & 0xff;
    const original = Buffer.from(payload);
    const parts = encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload, new FixedMaskSource(RFC_KEY));
    expect(parts).toHaveLength(1);
    const frame = parts[0]!;
    const size = headerSize(length, true);
    expect(frame.subarray(size - 4, size)).toEqual(RFC_KEY);
    expect(frame.subarray(size)).toEqual(naiveMask(original, RFC_KEY));
    expect(payload).toEqual(original); // the caller's bytes are not masked in place
    expect(parseChunks({ role: 'server' }, [frame])).toEqual([{ type: 'binary', data: original }]);
  });

  test('small unmasked payload (≤ COPY_THRESHOLD) comes back as one buffer with header and payload', () => {
    for (const length of [0, 10, COPY_THRESHOLD]) {
      const payload = Buffer.alloc(length, 7);
      const parts = encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload);
      expect(parts, `length ${length}`).toHaveLength(1);
      expect(parts[0]!.length).toBe(headerSize(length, false) + length);
    }
  });

  test('large unmasked payload comes back as [header, payload] with the payload not copied', () => {
    const payload = Buffer.alloc(COPY_THRESHOLD + 1, 9);
    const parts = encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload);
    expect(parts).toHaveLength(2);
    expect(parts[0]).toEqual(hex('82 7e 40 01'));
    expect(parts[1]).toBe(payload); // same object
  });

  test('large unmasked Uint8Array payload is wrapped as a Buffer over the same memory', () => {
    const backing = new Uint8Array(COPY_THRESHOLD + 100);
    const payload = backing.subarray(50, 50 + COPY_THRESHOLD + 10);
    const parts = encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload);
    expect(parts).toHaveLength(2);
    const body = parts[1]!;
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(body.buffer).toBe(backing.buffer);
    expect(body.byteOffset).toBe(50);
    expect(body.length).toBe(payload.length);
    payload[0] = 0x42; // shares memory: a later write is visible
    expect(body[0]).toBe(0x42);
  });

  test('large masked payload is still a single masked copy', () => {
    const payload = Buffer.alloc(COPY_THRESHOLD * 2, 0x11);
    const parts = encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload, new FixedMaskSource(RFC_KEY));
    expect(parts).toHaveLength(1);
    expect(parts[0]!.subarray(headerSize(payload.length, true))).toEqual(naiveMask(payload, RFC_KEY));
    expect(payload.every((b) => b === 0x11)).toBe(true);
  });
});

describe('toBuffer', () => {
  test('returns a Buffer unchanged and views a Uint8Array without copying', () => {
    const buf = Buffer.from('abc');
    expect(toBuffer(buf)).toBe(buf);
    const arr = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    const view = toBuffer(arr);
    expect(Buffer.isBuffer(view)).toBe(true);
    expect(view.buffer).toBe(arr.buffer);
    expect(view.byteOffset).toBe(1);
    expect(Array.from(view)).toEqual([2, 3]);
  });
});
