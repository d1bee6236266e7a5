/**
 * One row per RFC 6455 MUST the frame parser enforces, with the exact close code and error code.
 * Rows that do not depend on masking run in both roles (unmasked frames to a client, masked frames
 * to a server). `errorAfter` pins WHEN the error must be reported: after pushing that chunk, and
 * not before — this is how fail-fast (size limit from the header, UTF-8 at the first bad byte) is
 * checked.
 */
import { describe, expect, test } from 'vitest';
import {
  Opcode,
  ProtocolError,
  type FrameParserOptions,
  type ProtocolErrorCode,
  type Extension,
} from '../src/frame/index.js';
import { RFC_KEY, bytes, hex, makeParser, rawFrame, type FrameEvent } from './frame.helpers.js';

type Key = Uint8Array | null;

interface Row {
  name: string;
  /** The byte stream, as chunks, for frames masked with `key` (null = unmasked). */
  chunks: (key: Key) => Buffer[];
  /** Expected error. */
  code: ProtocolErrorCode;
  closeCode: 1002 | 1007 | 1009;
  /** The chunk after which the error must have been reported (default: the last one). */
  errorAfter?: number;
  /** Events expected before the error. */
  before?: FrameEvent[];
  options?: Omit<FrameParserOptions, 'role'>;
  /** Restrict the row to one role (for §5.1 masking rules). */
  only?: 'server' | 'client';
}

const text = (s: string) => Buffer.from(s, 'utf8');

/** 10-byte header claiming a 64-bit payload length (unmasked). */
function header64(first: number, high: number, low: number, key: Key): Buffer {
  const h = Buffer.alloc(10);
  h[0] = first;
  h[1] = (key ? 0x80 : 0) | 127;
  h.writeUInt32BE(high, 2);
  h.writeUInt32BE(low, 6);
  return key ? Buffer.concat([h, key]) : h;
}

/** A frame's bytes split into [header, payload] chunks. */
function headerAndPayload(frame: Buffer, payloadLength: number): Buffer[] {
  return [frame.subarray(0, frame.length - payloadLength), frame.subarray(frame.length - payloadLength)];
}

const rows: Row[] = [
  // §5.2 RSV bits
  ...[0b100, 0b010, 0b001, 0b111].map((rsv): Row => ({
    name: `§5.2 RSV bits 0b${rsv.toString(2).padStart(3, '0')} on a text frame without a negotiated extension → 1002`,
    chunks: (key) => [rawFrame({ rsv, opcode: Opcode.TEXT, payload: text('x'), key })],
    code: 'FD_ERR_RSV_BITS',
    closeCode: 1002,
  })),
  {
    name: '§5.2 RSV1 on a ping without a negotiated extension → 1002',
    chunks: (key) => [rawFrame({ rsv: 0b100, opcode: Opcode.PING, key })],
    code: 'FD_ERR_RSV_BITS',
    closeCode: 1002,
  },
  // §5.2 reserved opcodes
  ...[0x3, 0x4, 0x5, 0x6, 0x7].map((opcode): Row => ({
    name: `§5.2 reserved non-control opcode 0x${opcode.toString(16)} → 1002`,
    chunks: (key) => [rawFrame({ opcode, payload: text('x'), key })],
    code: 'FD_ERR_RESERVED_OPCODE',
    closeCode: 1002,
  })),
  ...[0xb, 0xc, 0xd, 0xe, 0xf].map((opcode): Row => ({
    name: `§5.2 reserved control opcode 0x${opcode.toString(16)} → 1002`,
    chunks: (key) => [rawFrame({ opcode, key })],
    code: 'FD_ERR_RESERVED_OPCODE',
    closeCode: 1002,
  })),
  {
    name: '§5.2 reserved opcode after a valid message: the valid message is delivered first',
    chunks: (key) => [rawFrame({ opcode: Opcode.TEXT, payload: text('ok'), key }), rawFrame({ opcode: 0x3, key })],
    code: 'FD_ERR_RESERVED_OPCODE',
    closeCode: 1002,
    before: [{ type: 'text', text: 'ok' }],
  },
  // §5.5 control frames
  ...[Opcode.PING, Opcode.PONG, Opcode.CLOSE].map((opcode): Row => ({
    name: `§5.5 control frame (opcode 0x${opcode.toString(16)}) with a 126-byte payload → 1002, decided from the header`,
    chunks: (key) => headerAndPayload(rawFrame({ opcode, payload: Buffer.alloc(126), key }), 126),
    code: 'FD_ERR_CONTROL_TOO_LONG',
    closeCode: 1002,
    errorAfter: 0,
  })),
  {
    name: '§5.5 fragmented ping (FIN clear) → 1002',
    chunks: (key) => [rawFrame({ fin: false, opcode: Opcode.PING, payload: text('a'), key })],
    code: 'FD_ERR_CONTROL_FRAGMENTED',
    closeCode: 1002,
  },
  {
    name: '§5.5 fragmented close (FIN clear) → 1002',
    chunks: (key) => [rawFrame({ fin: false, opcode: Opcode.CLOSE, key })],
    code: 'FD_ERR_CONTROL_FRAGMENTED',
    closeCode: 1002,
  },
  // §5.4 fragmentation
  {
    name: '§5.4 continuation frame without a started message → 1002',
    chunks: (key) => [rawFrame({ opcode: Opcode.CONTINUATION, payload: text('x'), key })],
    code: 'FD_ERR_UNEXPECTED_CONTINUATION',
    closeCode: 1002,
  },
  {
    name: '§5.4 continuation frame after a completed message → 1002',
    chunks: (key) => [
      rawFrame({ opcode: Opcode.TEXT, payload: text('done'), key }),
      rawFrame({ opcode: Opcode.CONTINUATION, payload: text('x'), key }),
    ],
    code: 'FD_ERR_UNEXPECTED_CONTINUATION',
    closeCode: 1002,
    before: [{ type: 'text', text: 'done' }],
  },
  {
    name: '§5.4 new TEXT frame while a fragmented message is unfinished → 1002',
    chunks: (key) => [
      rawFrame({ fin: false, opcode: Opcode.TEXT, payload: text('Hel'), key }),
      rawFrame({ opcode: Opcode.TEXT, payload: text('lo'), key }),
    ],
    code: 'FD_ERR_EXPECTED_CONTINUATION',
    closeCode: 1002,
  },
  {
    name: '§5.4 new BINARY frame while a fragmented message is unfinished (after an interleaved ping) → 1002',
    chunks: (key) => [
      rawFrame({ fin: false, opcode: Opcode.BINARY, payload: bytes(1), key }),
      rawFrame({ opcode: Opcode.PING, payload: bytes(9), key }),
      rawFrame({ opcode: Opcode.BINARY, payload: bytes(2), key }),
    ],
    code: 'FD_ERR_EXPECTED_CONTINUATION',
    closeCode: 1002,
    before: [{ type: 'ping', data: bytes(9) }],
  },
  // §5.1 masking
  {
    name: '§5.1 unmasked frame to a server → 1002',
    only: 'server',
    chunks: () => [rawFrame({ opcode: Opcode.TEXT, payload: text('x'), key: null })],
    code: 'FD_ERR_MASK_REQUIRED',
    closeCode: 1002,
  },
  {
    name: '§5.1 unmasked control frame to a server → 1002',
    only: 'server',
    chunks: () => [rawFrame({ opcode: Opcode.PING, key: null })],
    code: 'FD_ERR_MASK_REQUIRED',
    closeCode: 1002,
  },
  {
    name: '§5.1 masked frame to a client → 1002',
    only: 'client',
    chunks: () => [rawFrame({ opcode: Opcode.TEXT, payload: text('x'), key: RFC_KEY })],
    code: 'FD_ERR_MASK_FORBIDDEN',
    closeCode: 1002,
  },
  // §5.2 payload length
  {
    name: '§5.2 64-bit payload length with the most significant bit set → 1002, from the header alone',
    chunks: (key) => [header64(0x82, 0x80000000, 0, key)],
    code: 'FD_ERR_LENGTH_TOO_BIG',
    closeCode: 1002,
    errorAfter: 0,
  },
  {
    name: '§5.2 64-bit payload length 0xFFFFFFFFFFFFFFFF → 1002',
    chunks: (key) => [header64(0x82, 0xffffffff, 0xffffffff, key)],
    code: 'FD_ERR_LENGTH_TOO_BIG',
    closeCode: 1002,
  },
  // Size limit (§10.4: implementations SHOULD impose a limit)
  {
    name: '§10.4 message over maxMessageSize → 1009 decided from the header alone (no payload sent)',
    options: { maxMessageSize: 1000 },
    chunks: (key) => [rawFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(1001), key }).subarray(0, key ? 8 : 4)],
    code: 'FD_ERR_MESSAGE_TOO_BIG',
    closeCode: 1009,
    errorAfter: 0,
  },
  {
    name: '§10.4 64-bit length over the default 16 MiB limit → 1009 from the header alone',
    chunks: (key) => [header64(0x82, 0, 16 * 1024 * 1024 + 1, key)],
    code: 'FD_ERR_MESSAGE_TOO_BIG',
    closeCode: 1009,
    errorAfter: 0,
  },
  {
    name: '§10.4 fragmented message whose total exceeds the max → 1009 at the header of the fragment that crosses it',
    options: { maxMessageSize: 100 },
    chunks: (key) => {
      const third = rawFrame({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(11), key });
      return [
        rawFrame({ fin: false, opcode: Opcode.BINARY, payload: Buffer.alloc(60), key }),
        rawFrame({ fin: false, opcode: Opcode.CONTINUATION, payload: Buffer.alloc(30), key }),
        ...headerAndPayload(third, 11),
      ];
    },
    code: 'FD_ERR_MESSAGE_TOO_BIG',
    closeCode: 1009,
    errorAfter: 2,
  },
  // §8.1 UTF-8
  {
    name: '§8.1 invalid UTF-8 in a single text frame → 1007',
    chunks: (key) => [rawFrame({ opcode: Opcode.TEXT, payload: hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64'), key })],
    code: 'FD_ERR_INVALID_UTF8',
    closeCode: 1007,
  },
  {
    name: '§8.1 text message ending mid-character → 1007',
    chunks: (key) => [rawFrame({ opcode: Opcode.TEXT, payload: hex('41 e2 82'), key })],
    code: 'FD_ERR_INVALID_UTF8',
    closeCode: 1007,
  },
  {
    name: '§8.1 fragmented text ending mid-character (character split across fragments never completed) → 1007',
    chunks: (key) => [
      rawFrame({ fin: false, opcode: Opcode.TEXT, payload: hex('41 f0 9f'), key }),
      rawFrame({ opcode: Opcode.CONTINUATION, payload: hex('98'), key }),
    ],
    code: 'FD_ERR_INVALID_UTF8',
    closeCode: 1007,
  },
  {
    name: '§8.1 invalid UTF-8 in a fragment → 1007 reported before the final fragment arrives',
    chunks: (key) => [
      rawFrame({ fin: false, opcode: Opcode.TEXT, payload: text('good'), key }),
      rawFrame({ fin: false, opcode: Opcode.CONTINUATION, payload: hex('41 c0 80 41'), key }),
      rawFrame({ opcode: Opcode.CONTINUATION, payload: text('never read'), key }),
    ],
    code: 'FD_ERR_INVALID_UTF8',
    closeCode: 1007,
    errorAfter: 1,
  },
  {
    name: '§8.1 invalid UTF-8 mid-frame in a frame split across chunks → 1007 on the chunk with the bad byte',
    chunks: (key) => {
      const payload = Buffer.concat([text('hello'), hex('ed a0 80'), text('world')]);
      const frame = rawFrame({ opcode: Opcode.TEXT, payload, key });
      const start = frame.length - payload.length;
      // chunk 0: header + "hel"; chunk 1: "lo" ED A0 (A0 is the first impossible byte); chunk 2: the rest.
      return [frame.subarray(0, start + 3), frame.subarray(start + 3, start + 7), frame.subarray(start + 7)];
    },
    code: 'FD_ERR_INVALID_UTF8',
    closeCode: 1007,
    errorAfter: 1,
  },
  {
    name: '§8.1 a character split between fragments is fine, but a bad continuation in the next fragment → 1007 at once',
    chunks: (key) => [
      rawFrame({ fin: false, opcode: Opcode.TEXT, payload: hex('41 e2 82'), key }),
      rawFrame({ fin: false, opcode: Opcode.CONTINUATION, payload: hex('41'), key }),
      rawFrame({ opcode: Opcode.CONTINUATION, payload: text('x'), key }),
    ],
    code: 'FD_ERR_INVALID_UTF8',
    closeCode: 1007,
    errorAfter: 1,
  },
  // §5.5.1 close frames
  {
    name: '§5.5.1 close frame with a 1-byte payload → 1002',
    chunks: (key) => [rawFrame({ opcode: Opcode.CLOSE, payload: bytes(0x03), key })],
    code: 'FD_ERR_CLOSE_PAYLOAD_LENGTH',
    closeCode: 1002,
  },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((code): Row => ({
    name: `§7.4 close frame with invalid code ${code} → 1002`,
    chunks: (key) => [rawFrame({ opcode: Opcode.CLOSE, payload: bytes(code >> 8, code & 0xff), key })],
    code: 'FD_ERR_INVALID_CLOSE_CODE',
    closeCode: 1002,
  })),
  {
    name: '§5.5.1 close reason that is not valid UTF-8 → 1007',
    chunks: (key) => [rawFrame({ opcode: Opcode.CLOSE, payload: Buffer.concat([bytes(0x03, 0xe8), hex('ce ba ed a0 80')]), key })],
    code: 'FD_ERR_INVALID_CLOSE_REASON',
    closeCode: 1007,
  },
];

/** Pushes chunks one at a time; returns the number of events after each push. */
function pushAll(options: FrameParserOptions, chunks: readonly Buffer[]) {
  const { parser, sink } = makeParser(options);
  const errorCountAfter: number[] = [];
  for (const chunk of chunks) {
    parser.push(Buffer.from(chunk));
    errorCountAfter.push(sink.errors.length);
  }
  return { parser, sink, errorCountAfter };
}

const roles = [
  { role: 'client' as const, key: null },
  { role: 'server' as const, key: RFC_KEY },
];

describe.each(roles)('protocol violations, role $role', ({ role, key }) => {
  const applicable = rows.filter((r) => r.only === undefined || r.only === role);

  for (const row of applicable) {
    test(row.name, () => {
      const chunks = row.chunks(key);
      const { parser, sink, errorCountAfter } = pushAll({ role, ...row.options }, chunks);
      expect(sink.events).toEqual([...(row.before ?? []), { type: 'error', code: row.code, closeCode: row.closeCode }]);
      expect(sink.errors[0]).toBeInstanceOf(ProtocolError);
      expect(parser.isDone).toBe(true);
      const errorAfter = row.errorAfter ?? chunks.length - 1;
      // Reported exactly on the chunk that proves the violation: not earlier, and not later.
      expect(errorCountAfter.slice(0, errorAfter).every((n) => n === 0)).toBe(true);
      expect(errorCountAfter[errorAfter]).toBe(1);
    });
  }
});

describe('close frames that end the stream normally', () => {
  test.each(roles)('§5.5.1 empty close frame → onClose(1005, ""), role $role', ({ role, key }) => {
    const { sink, parser } = pushAll({ role }, [rawFrame({ opcode: Opcode.CLOSE, key })]);
    expect(sink.events).toEqual([{ type: 'close', code: 1005, reason: '' }]);
    expect(parser.isDone).toBe(true);
  });

  test.each(roles)('§5.5.1 close with code and UTF-8 reason → onClose(code, reason), role $role', ({ role, key }) => {
    const payload = Buffer.concat([bytes(0x0f, 0xa0), text('bye κόσμε')]);
    const { sink } = pushAll({ role }, [rawFrame({ opcode: Opcode.CLOSE, payload, key })]);
    expect(sink.events).toEqual([{ type: 'close', code: 4000, reason: 'bye κόσμε' }]);
  });

  test.each(roles)('§5.5.1 data after a close frame is ignored (same chunk and later chunks), role $role', ({ role, key }) => {
    const close = rawFrame({ opcode: Opcode.CLOSE, payload: bytes(0x03, 0xe8), key });
    const after = rawFrame({ opcode: Opcode.TEXT, payload: text('late'), key });
    const garbage = hex('ff ff ff ff');
    const { sink } = pushAll({ role }, [Buffer.concat([close, after]), after, garbage]);
    expect(sink.events).toEqual([{ type: 'close', code: 1000, reason: '' }]);
  });

  test('§5.5.1 close frame inside a fragmented message is allowed and ends parsing', () => {
    const { sink } = pushAll({ role: 'client' }, [
      rawFrame({ fin: false, opcode: Opcode.TEXT, payload: text('part') }),
      rawFrame({ opcode: Opcode.CLOSE, payload: bytes(0x03, 0xe9) }),
      rawFrame({ opcode: Opcode.CONTINUATION, payload: text('rest') }),
    ]);
    expect(sink.events).toEqual([{ type: 'close', code: 1001, reason: '' }]);
  });
});

describe('§9 / §5.2 RSV bits with a negotiated extension (rsvBits 0b100)', () => {
  function fakeExtension(transform: (payload: Buffer) => Buffer = (p) => Buffer.from(p.toString('latin1').toUpperCase(), 'latin1')) {
    const calls: Array<{ payload: string; rsv: number }> = [];
    // Decodes per piece as the interface requires, but transforms the whole message at its end:
    // the pieces are collected, and the last call returns the transformed message.
    let pieces: Buffer[] = [];
    const extension: Extension = {
      name: 'x-test',
      rsvBits: 0b100,
      decode(piece, fin) {
        pieces.push(Buffer.from(piece));
        if (!fin) return Buffer.alloc(0);
        const payload = Buffer.concat(pieces);
        pieces = [];
        calls.push({ payload: payload.toString('hex'), rsv: 0b100 });
        return transform(payload);
      },
      encode: (payload) => ({ payload, rsv: 0 }),
      dispose: () => {},
    };
    return { extension, calls };
  }

  test.each(roles)('§5.2 RSV1 is allowed: decode gets the payload and its result is delivered, role $role', ({ role, key }) => {
    const { extension, calls } = fakeExtension();
    const { sink } = pushAll({ role, extensions: [extension] }, [
      rawFrame({ rsv: 0b100, opcode: Opcode.TEXT, payload: text('hello'), key }),
      rawFrame({ rsv: 0b100, opcode: Opcode.BINARY, payload: text('bin'), key }),
      rawFrame({ opcode: Opcode.TEXT, payload: text('plain'), key }),
    ]);
    expect(calls).toEqual([
      { payload: text('hello').toString('hex'), rsv: 0b100 },
      { payload: text('bin').toString('hex'), rsv: 0b100 },
    ]);
    expect(sink.events).toEqual([
      { type: 'text', text: 'HELLO' },
      { type: 'binary', data: text('BIN') },
      { type: 'text', text: 'plain' }, // RSV clear: not passed to the extension
    ]);
  });

  test('§5.2 RSV1 on the first fragment only: the whole reassembled message is decoded once', () => {
    const { extension, calls } = fakeExtension();
    const { sink } = pushAll({ role: 'client', extensions: [extension] }, [
      rawFrame({ fin: false, rsv: 0b100, opcode: Opcode.TEXT, payload: text('ab') }),
      rawFrame({ opcode: Opcode.PING, payload: text('p') }),
      rawFrame({ opcode: Opcode.CONTINUATION, payload: text('cd') }),
    ]);
    expect(calls).toEqual([{ payload: text('abcd').toString('hex'), rsv: 0b100 }]);
    expect(sink.events).toEqual([
      { type: 'ping', data: text('p') },
      { type: 'text', text: 'ABCD' },
    ]);
  });

  test('§5.2 an RSV1 text message may carry non-UTF-8 bytes on the wire; the decoded text is validated instead', () => {
    const { extension } = fakeExtension(() => text('fine'));
    const ok = pushAll({ role: 'client', extensions: [extension] }, [rawFrame({ rsv: 0b100, opcode: Opcode.TEXT, payload: hex('ff fe') })]);
    expect(ok.sink.events).toEqual([{ type: 'text', text: 'fine' }]);

    const { extension: bad } = fakeExtension(() => hex('ed a0 80'));
    const ko = pushAll({ role: 'client', extensions: [bad] }, [rawFrame({ rsv: 0b100, opcode: Opcode.TEXT, payload: text('x') })]);
    expect(ko.sink.events).toEqual([{ type: 'error', code: 'FD_ERR_INVALID_UTF8', closeCode: 1007 }]);
  });

  test('§9 an extension failure fails the connection: ProtocolError passes through, anything else is 1007', () => {
    const throwsProtocol = fakeExtension(() => {
      throw new ProtocolError('FD_ERR_MESSAGE_TOO_BIG', 1009, 'inflated too big');
    });
    expect(pushAll({ role: 'client', extensions: [throwsProtocol.extension] }, [rawFrame({ rsv: 0b100, opcode: Opcode.BINARY, payload: bytes(1) })]).sink.events).toEqual([
      { type: 'error', code: 'FD_ERR_MESSAGE_TOO_BIG', closeCode: 1009 },
    ]);
    const throwsOther = fakeExtension(() => {
      throw new Error('corrupt stream');
    });
    expect(pushAll({ role: 'client', extensions: [throwsOther.extension] }, [rawFrame({ rsv: 0b100, opcode: Opcode.BINARY, payload: bytes(1) })]).sink.events).toEqual([
      { type: 'error', code: 'FD_ERR_EXTENSION', closeCode: 1007 },
    ]);
  });

  test.each(roles)('§5.2 RSV1 on a control frame is still 1002 with the extension, role $role', ({ role, key }) => {
    const { extension, calls } = fakeExtension();
    for (const opcode of [Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
      const { sink } = pushAll({ role, extensions: [extension] }, [rawFrame({ rsv: 0b100, opcode, key })]);
      expect(sink.events, `opcode ${opcode}`).toEqual([{ type: 'error', code: 'FD_ERR_RSV_BITS', closeCode: 1002 }]);
    }
    expect(calls).toEqual([]);
  });

  test.each(roles)('§5.2 RSV1 on a continuation frame is still 1002 with the extension, role $role', ({ role, key }) => {
    const { extension, calls } = fakeExtension();
    const { sink } = pushAll({ role, extensions: [extension] }, [
      rawFrame({ fin: false, rsv: 0b100, opcode: Opcode.TEXT, payload: text('a'), key }),
      rawFrame({ rsv: 0b100, opcode: Opcode.CONTINUATION, payload: text('b'), key }),
    ]);
    expect(sink.events).toEqual([{ type: 'error', code: 'FD_ERR_RSV_BITS', closeCode: 1002 }]);
    expect(calls).toEqual([]);
  });

  test.each([
    ['0b010', 0b010],
    ['0b001', 0b001],
    ['0b110', 0b110],
  ])('§5.2 RSV bits %s not owned by the extension are still 1002', (_label, rsv) => {
    const { extension } = fakeExtension();
    const { sink } = pushAll({ role: 'client', extensions: [extension] }, [rawFrame({ rsv, opcode: Opcode.TEXT, payload: text('a') })]);
    expect(sink.events).toEqual([{ type: 'error', code: 'FD_ERR_RSV_BITS', closeCode: 1002 }]);
  });
});
