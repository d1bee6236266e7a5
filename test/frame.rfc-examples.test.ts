/**
 * RFC 6455 §5.7 worked examples, both directions: the encoder must produce exactly these bytes
 * (with the RFC's masking key 37 fa 21 3d where masked), and the parser must decode them.
 * Masked examples are client→server frames (parser role 'server'); unmasked ones are
 * server→client frames (parser role 'client').
 */
import { describe, expect, test } from 'vitest';
import { FixedMaskSource, FrameWriter, Opcode, encodeFrame } from '../src/frame/index.js';
import { RFC_KEY, bytes, hex, parseChunks } from './frame.helpers.js';

const HELLO = Buffer.from('Hello');

const SINGLE_UNMASKED_TEXT = bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
const SINGLE_MASKED_TEXT = bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
const FRAGMENT_1 = bytes(0x01, 0x03, 0x48, 0x65, 0x6c);
const FRAGMENT_2 = bytes(0x80, 0x02, 0x6c, 0x6f);
const UNMASKED_PING = bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
const MASKED_PONG = bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);

function concat(parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}

describe('RFC 6455 §5.7 examples — encoding', () => {
  const rfcMask = () => new FixedMaskSource(RFC_KEY);

  test('§5.7 single-frame unmasked text "Hello"', () => {
    expect(concat(encodeFrame({ fin: true, opcode: Opcode.TEXT }, HELLO))).toEqual(SINGLE_UNMASKED_TEXT);
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, true, 0, 'Hello');
    expect(writer.takeOne()).toEqual(SINGLE_UNMASKED_TEXT);
  });

  test('§5.7 single-frame masked text "Hello" with key 37 fa 21 3d', () => {
    expect(concat(encodeFrame({ fin: true, opcode: Opcode.TEXT }, HELLO, rfcMask()))).toEqual(SINGLE_MASKED_TEXT);
    const writer = new FrameWriter(rfcMask());
    writer.writeFrame(Opcode.TEXT, true, 0, 'Hello');
    expect(writer.takeOne()).toEqual(SINGLE_MASKED_TEXT);
    const bytesWriter = new FrameWriter(rfcMask());
    bytesWriter.writeFrame(Opcode.TEXT, true, 0, HELLO);
    expect(bytesWriter.takeOne()).toEqual(SINGLE_MASKED_TEXT);
  });

  test('§5.7 encoding does not modify the caller\'s payload when masking', () => {
    const payload = Buffer.from('Hello');
    encodeFrame({ fin: true, opcode: Opcode.TEXT }, payload, rfcMask());
    const writer = new FrameWriter(rfcMask());
    writer.writeFrame(Opcode.TEXT, true, 0, payload);
    writer.take();
    expect(payload.toString()).toBe('Hello');
  });

  test('§5.7 fragmented unmasked text "Hel" + "lo"', () => {
    expect(concat(encodeFrame({ fin: false, opcode: Opcode.TEXT }, Buffer.from('Hel')))).toEqual(FRAGMENT_1);
    expect(concat(encodeFrame({ fin: true, opcode: Opcode.CONTINUATION }, Buffer.from('lo')))).toEqual(FRAGMENT_2);
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.TEXT, false, 0, 'Hel');
    writer.writeFrame(Opcode.CONTINUATION, true, 0, 'lo');
    expect(writer.takeOne()).toEqual(concat([FRAGMENT_1, FRAGMENT_2]));
  });

  test('§5.7 unmasked ping "Hello"', () => {
    expect(concat(encodeFrame({ fin: true, opcode: Opcode.PING }, HELLO))).toEqual(UNMASKED_PING);
  });

  test('§5.7 masked pong "Hello"', () => {
    expect(concat(encodeFrame({ fin: true, opcode: Opcode.PONG }, HELLO, rfcMask()))).toEqual(MASKED_PONG);
    const writer = new FrameWriter(rfcMask());
    writer.writeFrame(Opcode.PONG, true, 0, HELLO);
    expect(writer.takeOne()).toEqual(MASKED_PONG);
  });

  test('§5.7 256-byte binary message uses the 16-bit length: 82 7E 01 00', () => {
    const payload = Buffer.alloc(256, 0xab);
    const frame = concat(encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload));
    expect(frame.subarray(0, 4)).toEqual(hex('82 7e 01 00'));
    expect(frame.length).toBe(4 + 256);
    expect(frame.subarray(4)).toEqual(payload);
  });

  test('§5.7 64 KiB binary message uses the 64-bit length: 82 7F 00 00 00 00 00 01 00 00', () => {
    const payload = Buffer.alloc(65536, 0xcd);
    const frame = concat(encodeFrame({ fin: true, opcode: Opcode.BINARY }, payload));
    expect(frame.subarray(0, 10)).toEqual(hex('82 7f 00 00 00 00 00 01 00 00'));
    expect(frame.length).toBe(10 + 65536);
    expect(frame.subarray(10)).toEqual(payload);
    const writer = new FrameWriter(null);
    writer.writeFrame(Opcode.BINARY, true, 0, payload);
    expect(writer.takeOne()).toEqual(frame);
  });
});

describe('RFC 6455 §5.7 examples — parsing', () => {
  test('§5.7 single-frame unmasked text "Hello" (server→client)', () => {
    expect(parseChunks({ role: 'client' }, [SINGLE_UNMASKED_TEXT])).toEqual([{ type: 'text', text: 'Hello' }]);
  });

  test('§5.7 single-frame masked text "Hello" (client→server)', () => {
    expect(parseChunks({ role: 'server' }, [SINGLE_MASKED_TEXT])).toEqual([{ type: 'text', text: 'Hello' }]);
  });

  test('§5.7 fragmented unmasked text "Hel" + "lo" is one message', () => {
    expect(parseChunks({ role: 'client' }, [FRAGMENT_1, FRAGMENT_2])).toEqual([{ type: 'text', text: 'Hello' }]);
    expect(parseChunks({ role: 'client' }, [concat([FRAGMENT_1, FRAGMENT_2])])).toEqual([{ type: 'text', text: 'Hello' }]);
  });

  test('§5.7 fragment "Hel" alone delivers nothing yet', () => {
    expect(parseChunks({ role: 'client' }, [FRAGMENT_1])).toEqual([]);
  });

  test('§5.7 unmasked ping "Hello"', () => {
    expect(parseChunks({ role: 'client' }, [UNMASKED_PING])).toEqual([{ type: 'ping', data: HELLO }]);
  });

  test('§5.7 masked pong "Hello"', () => {
    expect(parseChunks({ role: 'server' }, [MASKED_PONG])).toEqual([{ type: 'pong', data: HELLO }]);
  });

  test('§5.7 256-byte binary with header 82 7E 01 00', () => {
    const payload = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) payload[i] = i;
    const frame = concat([hex('82 7e 01 00'), payload]);
    expect(parseChunks({ role: 'client' }, [frame])).toEqual([{ type: 'binary', data: payload }]);
  });

  test('§5.7 64 KiB binary with header 82 7F 00 00 00 00 00 01 00 00', () => {
    const payload = Buffer.alloc(65536);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const frame = concat([hex('82 7f 00 00 00 00 00 01 00 00'), payload]);
    expect(parseChunks({ role: 'client' }, [frame])).toEqual([{ type: 'binary', data: payload }]);
  });

  test('§5.1 the masked examples are rejected by a client and the unmasked ones by a server', () => {
    expect(parseChunks({ role: 'client' }, [SINGLE_MASKED_TEXT])).toEqual([
      { type: 'error', code: 'FD_ERR_MASK_FORBIDDEN', closeCode: 1002 },
    ]);
    expect(parseChunks({ role: 'server' }, [SINGLE_UNMASKED_TEXT])).toEqual([
      { type: 'error', code: 'FD_ERR_MASK_REQUIRED', closeCode: 1002 },
    ]);
  });
});
