/** Opcodes (RFC 6455 §5.2, §11.8): which are defined, which are control frames. */
import { describe, expect, test } from 'vitest';
import { Opcode, isControlOpcode, isKnownOpcode } from '../src/frame/index.js';

describe('opcodes (§5.2)', () => {
  test('the defined opcodes have their RFC values', () => {
    expect(Opcode).toEqual({ CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa });
  });

  test('exactly 0x0–0x2 and 0x8–0xA are known; 0x3–0x7 and 0xB–0xF are reserved', () => {
    const known = Array.from({ length: 16 }, (_, op) => op).filter(isKnownOpcode);
    expect(known).toEqual([0x0, 0x1, 0x2, 0x8, 0x9, 0xa]);
  });

  test('§5.5 control frames are exactly the opcodes with the high bit set (0x8–0xF)', () => {
    const control = Array.from({ length: 16 }, (_, op) => op).filter(isControlOpcode);
    expect(control).toEqual([0x8, 0x9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf]);
  });
});
