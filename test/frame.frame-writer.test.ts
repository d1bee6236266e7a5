/** FrameWriter: batching small frames into one buffer, strings, masking, raw frames, large payloads by reference. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { COPY_THRESHOLD, FixedMaskSource, FrameWriter, Opcode, RandomMaskSource, encodeFrame } from '../src/frame/index.js';
import { RFC_KEY, naiveMask, parseChunks, type FrameEvent } from './frame.helpers.js';

function patterned(length: number, seed = 1): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const STRINGS: Array<[string, string]> = [
  ['empty', ''],
  ['short ASCII', 'Hello'],
  ['41-char ASCII (short-string limit)', 'a'.repeat(41)],
  ['42-char ASCII', 'b'.repeat(42)],
  ['long ASCII (126+ bytes)', 'x'.repeat(300)],
  ['short multi-byte', 'κόσμε'],
  ['41 three-byte chars (123 bytes)', '€'.repeat(41)],
  ['42 three-byte chars (126 bytes, 16-bit length)', '€'.repeat(42)],
  ['emoji (astral, surrogate pairs)', '😀👍🏽🇺🇳'],
  ['20 emoji', '😀'.repeat(20)],
  ['long mixed', 'aé€😀'.repeat(5000)],
  ['mixed, encoded into the slab (8 K chars, 16-bit length)', 'aé€😀'.repeat(1638)],
  ['three-byte chars at the slab-encoding limit (24 KiB)', '€'.repeat(8 * 1024)],
  ['64 KiB+ text', 'z'.repeat(70000)],
];

describe('FrameWriter, unmasked (server)', () => {
  test('many small writes come out of take() as a single buffer', () => {
    const writer = new FrameWriter(null);
    const expected: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const payload = patterned(i % 40, i);
      writer.writeFrame(Opcode.BINARY, true, 0, payload);
      expected.push(...encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload));
      writer.writeFrame(Opcode.TEXT, true, 0, `message ${i}`);
      expected.push(...encodeFrame({ fin: true, opcode: Opcode.TEXT }, Buffer.from(`message ${i}`)));
    }
    const total = Buffer.concat(expected);
    expect(writer.pendingBytes).toBe(total.length);
    const parts = writer.take();
    expect(parts).toHaveLength(1);
    expect(parts[0]).toEqual(total);
    expect(writer.pendingBytes).toBe(0);
    expect(writer.take()).toEqual([]);
    expect(writer.takeOne()).toBeNull();
  });

  test('a batch larger than one slab comes out in order and parses back', () => {
    const writer = new FrameWriter(null);
    const payloads = Array.from({ length: 50 }, (_, i) => patterned(1000 + i, i));
    for (const p of payloads) writer.writeFrame(Opcode.BINARY, true, 0, p);
    const bytes = writer.takeOne()!;
    expect(parseChunks({ role: 'client' }, [bytes])).toEqual(payloads.map((data) => ({ type: 'binary', data })));
  });

  test.each(STRINGS)('string payload encodes as UTF-8: %s', (_name, text) => {
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, true, 0, text);
    const frame = writer.takeOne()!;
    expect(frame).toEqual(Buffer.concat(encodeFrame({ fin: true, opcode: Opcode.TEXT }, Buffer.from(text, 'utf8'))));
    expect(parseChunks({ role: 'client' }, [frame])).toEqual([{ type: 'text', text }]);
  });

  test('any string round-trips through a client parser', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 80, size: 'max' }), { minLength: 1, maxLength: 10 }), (texts) => {
        const writer = new FrameWriter(null);
        for (const t of texts) writer.writeFrame(Opcode.TEXT, true, 0, t);
        expect(parseChunks({ role: 'client' }, writer.take())).toEqual(texts.map((text) => ({ type: 'text', text })));
      }),
      { numRuns: 200 },
    );
  });

  test.each([0, 125, 126, 8000, 8185, 8186, 8192, 10000, COPY_THRESHOLD, COPY_THRESHOLD + 1, 65535, 65536])(
    'binary payload of %i bytes round-trips unchanged (slab, own-buffer and by-reference paths)',
    (length) => {
      const payload = patterned(length);
      const writer = new FrameWriter(null);
      writer.writeFrame(Opcode.BINARY, true, 0, payload);
      const frame = writer.takeOne()!;
      expect(frame).toEqual(Buffer.concat(encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload)));
      expect(payload).toEqual(patterned(length)); // the caller's bytes are untouched
    },
  );

  test('a large payload is kept by reference (same memory, not copied)', () => {
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, true, 0, 'before');
    const payload = patterned(COPY_THRESHOLD + 1);
    writer.writeFrame(Opcode.BINARY, true, 0, payload);
    writer.writeFrame(Opcode.TEXT, true, 0, 'after');
    const parts = writer.take();
    expect(parts).toHaveLength(3);
    expect(parts[1]).toBe(payload);
    expect(parseChunks({ role: 'client' }, parts)).toEqual([
      { type: 'text', text: 'before' },
      { type: 'binary', data: payload },
      { type: 'text', text: 'after' },
    ]);
  });

  test('a large Uint8Array payload is viewed, not copied', () => {
    const backing = new Uint8Array(COPY_THRESHOLD + 64);
    const payload = backing.subarray(32, 32 + COPY_THRESHOLD + 1);
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.BINARY, true, 0, payload);
    const parts = writer.take();
    expect(parts).toHaveLength(2);
    expect(parts[1]!.buffer).toBe(backing.buffer);
    expect(parts[1]!.byteOffset).toBe(32);
  });

  test('buffers handed out by take() are never overwritten by later writes', () => {
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, true, 0, 'first');
    const first = writer.takeOne()!;
    const snapshot = Buffer.from(first);
    for (let i = 0; i < 3000; i++) writer.writeFrame(Opcode.TEXT, true, 0, `later ${i}`);
    writer.take();
    expect(first).toEqual(snapshot);
  });

  test('RSV bits and FIN are written into the first byte', () => {
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, false, 0b100, 'abc');
    writer.writeFrame(Opcode.CONTINUATION, true, 0, Buffer.from('def'));
    const out = writer.takeOne()!;
    expect(out[0]).toBe(0x41);
    expect(out[5]).toBe(0x80);
  });

  test('release() drops the slab but keeps pending frames', () => {
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, true, 0, 'kept');
    writer.release();
    writer.writeFrame(Opcode.TEXT, true, 0, 'next');
    expect(parseChunks({ role: 'client' }, writer.take())).toEqual([
      { type: 'text', text: 'kept' },
      { type: 'text', text: 'next' },
    ]);
  });
});

describe('FrameWriter, masked (client)', () => {
  test('every frame carries the mask key and masked payload (§5.3)', () => {
    const writer = new FrameWriter(new FixedMaskSource(RFC_KEY));
    writer.writeFrame(Opcode.BINARY, true, 0, Buffer.from('Hello'));
    const out = writer.takeOne()!;
    expect(out.subarray(0, 6)).toEqual(Buffer.from([0x82, 0x85, ...RFC_KEY]));
    expect(out.subarray(6)).toEqual(naiveMask(Buffer.from('Hello'), RFC_KEY));
  });

  test.each([0, 125, 126, 8185, 8186, 10000, COPY_THRESHOLD + 1, 65536])(
    'binary payload of %i bytes parses back with a server parser, caller bytes untouched',
    (length) => {
      const payload = patterned(length, 3);
      const writer = new FrameWriter(new RandomMaskSource());
      writer.writeFrame(Opcode.BINARY, true, 0, payload);
      const parts = writer.take();
      expect(parseChunks({ role: 'server' }, parts)).toEqual([{ type: 'binary', data: patterned(length, 3) }]);
      expect(payload).toEqual(patterned(length, 3));
    },
  );

  test.each(STRINGS)('string payload parses back with a server parser: %s', (_name, text) => {
    const writer = new FrameWriter(new RandomMaskSource());
    writer.writeFrame(Opcode.TEXT, true, 0, text);
    expect(parseChunks({ role: 'server' }, writer.take())).toEqual([{ type: 'text', text }]);
  });

  test('mixed frames (data, control, fragments) parse back in order with a server parser', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('text' as const), text: fc.string({ unit: 'binary', maxLength: 60, size: 'max' }) }),
            fc.record({ kind: fc.constant('binary' as const), data: fc.uint8Array({ maxLength: 300, size: 'max' }) }),
            fc.record({ kind: fc.constant('ping' as const), data: fc.uint8Array({ maxLength: 125, size: 'max' }) }),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        (items) => {
          const writer = new FrameWriter(new RandomMaskSource());
          const expected: FrameEvent[] = [];
          for (const item of items) {
            if (item.kind === 'text') {
              writer.writeFrame(Opcode.TEXT, true, 0, item.text);
              expected.push({ type: 'text', text: item.text });
            } else if (item.kind === 'binary') {
              writer.writeFrame(Opcode.BINARY, false, 0, item.data.subarray(0, item.data.length >> 1));
              writer.writeFrame(Opcode.CONTINUATION, true, 0, item.data.subarray(item.data.length >> 1));
              expected.push({ type: 'binary', data: Buffer.from(item.data) });
            } else {
              writer.writeFrame(Opcode.PING, true, 0, item.data);
              expected.push({ type: 'ping', data: Buffer.from(item.data) });
            }
          }
          expect(parseChunks({ role: 'server' }, writer.take())).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('each masked frame draws a fresh key from the mask source', () => {
    const keys: number[][] = [];
    const source = { fill: (target: Uint8Array, offset: number) => {
      const key = [keys.length, 0xaa, 0xbb, 0xcc];
      keys.push(key);
      target.set(key, offset);
    } };
    const writer = new FrameWriter(source);
    writer.writeFrame(Opcode.TEXT, true, 0, 'one');
    writer.writeFrame(Opcode.BINARY, true, 0, Buffer.from('two'));
    writer.writeFrame(Opcode.BINARY, true, 0, patterned(20000));
    expect(keys).toHaveLength(3);
  });
});

describe('FrameWriter.writeRaw', () => {
  test('small raw frames are copied into the batch (one buffer, caller may reuse theirs)', () => {
    const raw = Buffer.concat(encodeFrame({ fin: true, opcode: Opcode.TEXT }, Buffer.from('broadcast')));
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, true, 0, 'own');
    writer.writeRaw(raw);
    writer.writeFrame(Opcode.TEXT, true, 0, 'own again');
    expect(writer.pendingBytes).toBe(5 + raw.length + 11);
    const parts = writer.take();
    expect(parts).toHaveLength(1);
    raw.fill(0); // the batch holds a copy
    expect(parseChunks({ role: 'client' }, parts)).toEqual([
      { type: 'text', text: 'own' },
      { type: 'text', text: 'broadcast' },
      { type: 'text', text: 'own again' },
    ]);
  });

  test('large raw frames are shared by reference', () => {
    const raw = Buffer.concat(encodeFrame({ fin: true, opcode: Opcode.BINARY }, patterned(COPY_THRESHOLD + 1)));
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, true, 0, 'a');
    writer.writeRaw(raw);
    const parts = writer.take();
    expect(parts).toHaveLength(2);
    expect(parts[1]).toBe(raw);
    expect(writer.pendingBytes).toBe(0);
  });
});

describe('FrameWriter.recycle', () => {
  test('reuses the slab from its start once everything taken is declared written', () => {
    const writer = new FrameWriter(null);
    writer.writeFrame(0x2, true, 0, Buffer.from([1, 2, 3]));
    const [first] = writer.take();
    writer.recycle();
    writer.writeFrame(0x2, true, 0, Buffer.from([4, 5, 6]));
    const [second] = writer.take();
    expect(second!.buffer).toBe(first!.buffer);
    expect(second!.byteOffset).toBe(first!.byteOffset);
    expect([...second!]).toEqual([0x82, 3, 4, 5, 6]);
  });

  test('does nothing while frames are pending (they would be overwritten)', () => {
    const writer = new FrameWriter(null);
    writer.writeFrame(0x2, true, 0, Buffer.from([1, 2, 3]));
    writer.recycle();
    writer.writeFrame(0x2, true, 0, Buffer.from([4]));
    expect([...writer.take()[0]!]).toEqual([0x82, 3, 1, 2, 3, 0x82, 1, 4]);
  });
});

describe('FrameWriter.writeShared', () => {
  const frame = (byte: number): Buffer => Buffer.from([0x82, 1, byte]);

  test('merges consecutive regions of one shared buffer into one view, without copying', () => {
    const shared = Buffer.concat([frame(1), frame(2), frame(3)]);
    const writer = new FrameWriter(null);
    writer.writeShared(shared, 0, 3);
    writer.writeShared(shared, 3, 6);
    writer.writeShared(shared, 6, 9);
    expect(writer.pendingBytes).toBe(9);
    const out = writer.take();
    expect(out).toHaveLength(1);
    expect(out[0]!.buffer).toBe(shared.buffer);
    expect([...out[0]!]).toEqual([...shared]);
  });

  test('keeps order when shared regions and own frames interleave', () => {
    const shared = Buffer.concat([frame(1), frame(2)]);
    const writer = new FrameWriter(null);
    writer.writeShared(shared, 0, 3);
    writer.writeFrame(Opcode.BINARY, true, 0, Buffer.from([9]));
    writer.writeShared(shared, 3, 6);
    const events = parseChunks({ role: 'client' }, [Buffer.concat(writer.take())]);
    expect(events.map((e) => (e.type === 'binary' ? e.data[0] : -1))).toEqual([1, 9, 2]);
  });

  test('regions of different buffers, or not adjacent, stay separate', () => {
    const a = Buffer.concat([frame(1), frame(2)]);
    const b = frame(3);
    const writer = new FrameWriter(null);
    writer.writeShared(a, 0, 3);
    writer.writeShared(b, 0, 3);
    writer.writeShared(a, 3, 6);
    const out = writer.take();
    expect(out).toHaveLength(3);
    const events = parseChunks({ role: 'client' }, [Buffer.concat(out)]);
    expect(events.map((e) => (e.type === 'binary' ? e.data[0] : -1))).toEqual([1, 3, 2]);
  });
});
