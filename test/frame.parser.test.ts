/**
 * FrameParser properties: decode(encode(x)) = x for every message shape, chunking independence,
 * robustness against arbitrary input, and zero-copy delivery.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  FrameParser,
  Opcode,
  RandomMaskSource,
  encodeFrame,
  isValidWireCloseCode,
  type FrameParserOptions,
} from '../src/frame/index.js';
import { RFC_KEY, bytes, makeParser, rawFrame, splitAt, type FrameEvent } from './frame.helpers.js';

// Model ------------------------------------------------------------------------------------------

type Control = { opcode: typeof Opcode.PING | typeof Opcode.PONG; data: Uint8Array };
type Message = {
  kind: 'text' | 'binary';
  /** The message payload; for text, valid UTF-8. */
  payload: Uint8Array;
  /** Fragment boundaries (byte offsets into payload, sorted, duplicates allowed = empty fragments). */
  cuts: number[];
  /** Control frames sent before fragment i+1 (one list per gap between fragments). */
  controls: Control[][];
};

/** Events normalized for cheap comparison of large payloads. */
type Normalized =
  | { type: 'text'; text: string }
  | { type: 'binary' | 'ping' | 'pong'; hex: string }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; code: string; closeCode: number };

function normalize(events: readonly FrameEvent[]): Normalized[] {
  return events.map((e) =>
    e.type === 'binary' || e.type === 'ping' || e.type === 'pong' ? { type: e.type, hex: e.data.toString('hex') } : e,
  );
}

const BOUNDARY_LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 65537];

const lengthArb = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...BOUNDARY_LENGTHS) },
  { weight: 3, arbitrary: fc.nat({ max: 400 }) },
);

const binaryPayload = lengthArb.chain((length) =>
  fc.integer({ min: 0, max: 255 }).map((seed) => {
    const b = new Uint8Array(length);
    for (let i = 0; i < length; i++) b[i] = (i * 131 + seed) & 0xff;
    return b;
  }),
);

/** Text payloads: random strings (incl. astral chars), or a repeated string grown to a boundary length. */
const textPayload = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 60, size: 'max' }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }), fc.constantFrom(...BOUNDARY_LENGTHS))
      .map(([unit, target]) => unit.repeat(Math.ceil(target / Buffer.byteLength(unit)))),
  },
).map((s) => new Uint8Array(Buffer.from(s, 'utf8')));

const controlArb: fc.Arbitrary<Control> = fc.record({
  opcode: fc.constantFrom(Opcode.PING, Opcode.PONG),
  data: fc.uint8Array({ maxLength: 125, size: 'max' }),
});

function messageArb(kind: 'text' | 'binary'): fc.Arbitrary<Message> {
  return (kind === 'text' ? textPayload : binaryPayload).chain((payload) =>
    fc.array(fc.nat({ max: payload.length }), { maxLength: 5 }).chain((rawCuts) => {
      const cuts = [...rawCuts].sort((a, b) => a - b);
      return fc
        .array(fc.array(controlArb, { maxLength: 2 }), { minLength: cuts.length, maxLength: cuts.length })
        .map((controls) => ({ kind, payload, cuts, controls }));
    }),
  );
}

const messagesArb = fc.array(fc.oneof(messageArb('text'), messageArb('binary')), { minLength: 1, maxLength: 4 });

/** Encodes messages with the library encoder; masked (client→server) when `masked`. */
function encodeMessages(messages: readonly Message[], masked: boolean): Buffer {
  const mask = masked ? new RandomMaskSource() : null;
  const out: Buffer[] = [];
  for (const m of messages) {
    const bounds = [0, ...m.cuts, m.payload.length];
    for (let f = 0; f + 1 < bounds.length; f++) {
      if (f > 0) {
        for (const c of m.controls[f - 1]!) out.push(...encodeFrame({ fin: true, opcode: c.opcode }, c.data, mask));
      }
      const opcode = f === 0 ? (m.kind === 'text' ? Opcode.TEXT : Opcode.BINARY) : Opcode.CONTINUATION;
      const fin = f + 2 === bounds.length;
      out.push(...encodeFrame({ fin, opcode }, m.payload.subarray(bounds[f], bounds[f + 1]), mask));
    }
  }
  return Buffer.concat(out);
}

function expectedEvents(messages: readonly Message[]): Normalized[] {
  const out: Normalized[] = [];
  for (const m of messages) {
    for (const controls of m.controls) {
      for (const c of controls) out.push({ type: c.opcode === Opcode.PING ? 'ping' : 'pong', hex: Buffer.from(c.data).toString('hex') });
    }
    out.push(
      m.kind === 'text'
        ? { type: 'text', text: Buffer.from(m.payload).toString('utf8') }
        : { type: 'binary', hex: Buffer.from(m.payload).toString('hex') },
    );
  }
  return out;
}

function run(options: FrameParserOptions, chunks: readonly Buffer[]): Normalized[] {
  const { parser, sink } = makeParser(options);
  for (const chunk of chunks) parser.push(chunk);
  return normalize(sink.events);
}

/** Random chunkings of a stream: random cut points, or every byte on its own for small streams. */
function chunkingArb(length: number): fc.Arbitrary<number[]> {
  return fc.oneof(
    fc.array(fc.nat({ max: length }), { maxLength: 20, size: 'max' }),
    length <= 4096 ? fc.constant(Array.from({ length }, (_, i) => i)) : fc.array(fc.nat({ max: length }), { maxLength: 60, size: 'max' }),
  );
}

const roles = [
  { role: 'server' as const, masked: true, name: 'masked client→server' },
  { role: 'client' as const, masked: false, name: 'unmasked server→client' },
];

// Properties -------------------------------------------------------------------------------------

describe.each(roles)('round trip, $name', ({ role, masked }) => {
  test('decode(encode(messages)) = messages, fragmented with control frames interleaved', () => {
    fc.assert(
      fc.property(messagesArb, (messages) => {
        const stream = encodeMessages(messages, masked);
        expect(run({ role }, [stream])).toEqual(expectedEvents(messages));
      }),
      { numRuns: 150 },
    );
  });

  test('any chunking of the same byte stream gives the same events', () => {
    fc.assert(
      fc.property(
        messagesArb.chain((messages) => {
          const stream = encodeMessages(messages, masked);
          return chunkingArb(stream.length).map((cuts) => ({ messages, stream, cuts }));
        }),
        ({ messages, stream, cuts }) => {
          // Masked payloads are unmasked in place, so every run gets its own copy of the bytes.
          expect(run({ role }, splitAt(stream, cuts))).toEqual(expectedEvents(messages));
        },
      ),
      { numRuns: 150 },
    );
  });

  test('a trailing close frame is reported last with its code and reason', () => {
    fc.assert(
      fc.property(
        messagesArb,
        fc.integer({ min: 1000, max: 4999 }).filter(isValidWireCloseCode),
        // At most 30 code points × 4 bytes: always fits the 123 bytes a close reason may have.
        fc.string({ unit: 'binary', maxLength: 30, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (messages, code, reason, cuts) => {
          const closePayload = Buffer.concat([bytes(code >> 8, code & 0xff), Buffer.from(reason, 'utf8')]);
          const stream = Buffer.concat([
            encodeMessages(messages, masked),
            ...encodeFrame({ fin: true, opcode: Opcode.CLOSE }, closePayload, masked ? new RandomMaskSource() : null),
          ]);
          const events = run({ role }, splitAt(stream, cuts.map((c) => c % (stream.length + 1))));
          expect(events).toEqual([...expectedEvents(messages), { type: 'close', code, reason }]);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('header boundaries', () => {
  test.each([0, 5, 125, 126, 200, 65535, 65536])('a %i-byte frame split at every header offset parses the same', (length) => {
    for (const { role, masked } of roles) {
      const payload = Buffer.alloc(length, 0x61);
      const frame = rawFrame({ opcode: Opcode.BINARY, payload, key: masked ? RFC_KEY : null });
      const headerLength = frame.length - length;
      for (let cut = 0; cut <= headerLength; cut++) {
        expect(run({ role }, splitAt(frame, [cut])), `${role} cut ${cut}`).toEqual([{ type: 'binary', hex: payload.toString('hex') }]);
      }
      // Header delivered one byte at a time, then the payload.
      const cuts = Array.from({ length: headerLength }, (_, i) => i + 1);
      expect(run({ role }, splitAt(frame, cuts))).toEqual([{ type: 'binary', hex: payload.toString('hex') }]);
    }
  });

  test('empty frames (length 0) in the middle of a chunk are delivered immediately', () => {
    const stream = Buffer.concat([
      rawFrame({ opcode: Opcode.TEXT, payload: Buffer.alloc(0) }),
      rawFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(0) }),
      rawFrame({ opcode: Opcode.PING, payload: Buffer.alloc(0) }),
      rawFrame({ opcode: Opcode.TEXT, fin: false, payload: Buffer.alloc(0) }),
      rawFrame({ opcode: Opcode.CONTINUATION, fin: false, payload: Buffer.from('x') }),
      rawFrame({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(0) }),
    ]);
    expect(run({ role: 'client' }, [stream])).toEqual([
      { type: 'text', text: '' },
      { type: 'binary', hex: '' },
      { type: 'ping', hex: '' },
      { type: 'text', text: 'x' },
    ]);
  });
});

describe('size limit', () => {
  test('a message of exactly maxMessageSize is accepted, one byte more is not', () => {
    for (const max of [0, 10, 125, 126, 1000]) {
      expect(run({ role: 'client', maxMessageSize: max }, [rawFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(max) })])).toEqual([
        { type: 'binary', hex: '00'.repeat(max) },
      ]);
      expect(run({ role: 'client', maxMessageSize: max }, [rawFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(max + 1) })])).toEqual([
        { type: 'error', code: 'FD_ERR_MESSAGE_TOO_BIG', closeCode: 1009 },
      ]);
    }
  });

  test('a fragmented message totalling exactly maxMessageSize is accepted; control frames do not count', () => {
    const stream = Buffer.concat([
      rawFrame({ opcode: Opcode.BINARY, fin: false, payload: Buffer.alloc(60) }),
      rawFrame({ opcode: Opcode.PING, payload: Buffer.alloc(100) }),
      rawFrame({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(40) }),
      rawFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(100) }), // the limit is per message
    ]);
    expect(run({ role: 'client', maxMessageSize: 100 }, [stream]).map((e) => e.type)).toEqual(['ping', 'binary', 'binary']);
  });

  test('the default limit is 16 MiB', () => {
    expect(DEFAULT_MAX_MESSAGE_SIZE).toBe(16 * 1024 * 1024);
    const header = (length: number) => {
      const h = Buffer.alloc(10);
      h[0] = 0x82;
      h[1] = 127;
      h.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
      h.writeUInt32BE(length >>> 0, 6);
      return h;
    };
    expect(run({ role: 'client' }, [header(DEFAULT_MAX_MESSAGE_SIZE)])).toEqual([]);
    expect(run({ role: 'client' }, [header(DEFAULT_MAX_MESSAGE_SIZE + 1)])).toEqual([
      { type: 'error', code: 'FD_ERR_MESSAGE_TOO_BIG', closeCode: 1009 },
    ]);
    // Lengths beyond 2^53 (but with the top bit clear) are over any limit, not a crash.
    expect(run({ role: 'client' }, [Buffer.from('827f7fffffffffffffff', 'hex')])).toEqual([
      { type: 'error', code: 'FD_ERR_MESSAGE_TOO_BIG', closeCode: 1009 },
    ]);
  });
});

describe('robustness: arbitrary input never throws', () => {
  const optionsArb = fc.record({
    role: fc.constantFrom<'server' | 'client'>('server', 'client'),
    maxMessageSize: fc.constantFrom(undefined, 0, 50, 1000),
  });

  type Edit = { kind: 'set' | 'insert' | 'delete'; at: number; byte: number };
  const editArb = fc.record({
    kind: fc.constantFrom<Edit['kind']>('set', 'insert', 'delete'),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  });

  function mutate(stream: Buffer, edits: readonly Edit[]): Buffer {
    const out = Array.from(stream);
    for (const e of edits) {
      if (e.kind === 'insert') out.splice(e.at % (out.length + 1), 0, e.byte);
      else if (out.length > 0 && e.kind === 'set') out[e.at % out.length] = e.byte;
      else if (out.length > 0) out.splice(e.at % out.length, 1);
    }
    return Buffer.from(out);
  }

  /** Small messages (with a ping between fragments) so mutations often land in headers. */
  const smallMessages: fc.Arbitrary<Message[]> = fc.array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 20 }).map((s) => ({ kind: 'text' as const, payload: new Uint8Array(Buffer.from(s, 'utf8')) })),
      fc.uint8Array({ maxLength: 300, size: 'max' }).map((payload) => ({ kind: 'binary' as const, payload })),
    ).chain(({ kind, payload }) =>
      fc.array(fc.nat({ max: payload.length }), { maxLength: 3 }).map((raw) => {
        const cuts = raw.sort((a, b) => a - b);
        const controls = cuts.map((): Control[] => [{ opcode: Opcode.PING, data: bytes(1, 2) }]);
        return { kind, payload, cuts, controls };
      }),
    ),
    { minLength: 1, maxLength: 4 },
  );

  const inputArb = fc.oneof(
    fc.uint8Array({ maxLength: 300, size: 'max' }).map((a) => Buffer.from(a)),
    fc
      .tuple(smallMessages, fc.boolean(), fc.array(editArb, { minLength: 1, maxLength: 4 }))
      .map(([messages, masked, edits]) => mutate(encodeMessages(messages, masked), edits)),
  );

  function checkInvariants(events: readonly FrameEvent[], parser: FrameParser): void {
    const terminal = events.findIndex((e) => e.type === 'error' || e.type === 'close');
    if (terminal === -1) {
      expect(parser.isDone).toBe(false);
      return;
    }
    // Exactly one terminal event, and it is the last thing reported.
    expect(terminal).toBe(events.length - 1);
    expect(parser.isDone).toBe(true);
    const last = events[terminal]!;
    if (last.type === 'error') expect([1002, 1007, 1009]).toContain(last.closeCode);
    if (last.type === 'close') expect(last.code === 1005 || isValidWireCloseCode(last.code)).toBe(true);
  }

  test('random and mutated streams, any chunking: no throw, at most one terminal event, nothing after it', () => {
    fc.assert(
      fc.property(optionsArb, inputArb, fc.array(fc.nat(), { maxLength: 10 }), (options, input, cuts) => {
        const { parser, sink } = makeParser(options);
        expect(() => {
          for (const chunk of splitAt(input, cuts.map((c) => c % (input.length + 1)))) parser.push(chunk);
        }).not.toThrow();
        checkInvariants(sink.events, parser);
        // Anything pushed after the end is ignored.
        if (parser.isDone) {
          const count = sink.events.length;
          parser.push(rawFrame({ opcode: Opcode.PING, key: options.role === 'server' ? RFC_KEY : null }));
          parser.push(Buffer.from(input));
          expect(sink.events.length).toBe(count);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('the same mutated stream gives the same events whole or byte by byte', () => {
    fc.assert(
      fc.property(optionsArb, inputArb, (options, input) => {
        const whole = run(options, [Buffer.from(input)]);
        const singles = run(options, Array.from(input, (b) => Buffer.of(b)));
        expect(singles).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });

  test('stop() ends parsing: later input produces no events', () => {
    const { parser, sink } = makeParser({ role: 'client' });
    parser.push(rawFrame({ opcode: Opcode.TEXT, fin: false, payload: Buffer.from('a') }));
    parser.stop();
    expect(parser.isDone).toBe(true);
    parser.push(rawFrame({ opcode: Opcode.CONTINUATION, payload: Buffer.from('b') }));
    parser.push(rawFrame({ opcode: Opcode.PING }));
    expect(sink.events).toEqual([]);
  });
});

describe('zero-copy delivery', () => {
  test('an unmasked binary payload within one chunk is a view of that chunk', () => {
    const payload = Buffer.alloc(1000, 0x33);
    const chunk = Buffer.concat([rawFrame({ opcode: Opcode.TEXT, payload: Buffer.from('hi') }), rawFrame({ opcode: Opcode.BINARY, payload })]);
    const { parser, sink } = makeParser({ role: 'client' });
    parser.push(chunk);
    const data = sink.rawBinary[0]!;
    expect(data.buffer).toBe(chunk.buffer);
    expect(data.byteOffset).toBe(chunk.byteOffset + 4 + 4); // after "hi" frame (4 bytes) and a 4-byte header
    expect(data.equals(payload)).toBe(true);
  });

  test('a masked binary payload within one chunk is unmasked in place, still a view', () => {
    const payload = Buffer.from('zero-copy masked payload');
    const chunk = rawFrame({ opcode: Opcode.BINARY, payload, key: RFC_KEY });
    const { parser, sink } = makeParser({ role: 'server' });
    parser.push(chunk);
    const data = sink.rawBinary[0]!;
    expect(data.buffer).toBe(chunk.buffer);
    expect(data.toString()).toBe('zero-copy masked payload');
  });

  test('a payload spanning two (or more) chunks is reassembled correctly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 3000, size: 'max' }), fc.boolean(), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (raw, masked, rawCuts) => {
        const payload = Buffer.from(raw);
        const frame = rawFrame({ opcode: Opcode.BINARY, payload, key: masked ? RFC_KEY : null });
        const headerLength = frame.length - payload.length;
        // Cut strictly inside the payload.
        const cuts = rawCuts.map((c) => headerLength + 1 + (c % (payload.length - 1)));
        const { parser, sink } = makeParser({ role: masked ? 'server' : 'client' });
        for (const chunk of splitAt(frame, cuts)) parser.push(chunk);
        expect(sink.rawBinary).toHaveLength(1);
        expect(sink.rawBinary[0]!.equals(payload)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test('a delivered view stays intact while the parser goes on with the rest of the chunk', () => {
    const a = Buffer.alloc(300, 0x41);
    const b = Buffer.alloc(300, 0x42);
    const chunk = Buffer.concat([rawFrame({ opcode: Opcode.BINARY, payload: a, key: RFC_KEY }), rawFrame({ opcode: Opcode.BINARY, payload: b, key: RFC_KEY })]);
    const { parser, sink } = makeParser({ role: 'server' });
    parser.push(chunk.subarray(0, 400));
    parser.push(chunk.subarray(400));
    expect(sink.rawBinary.map((d) => d.toString())).toEqual([a.toString(), b.toString()]);
  });
});
