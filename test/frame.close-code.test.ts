/** RFC 6455 §7.4: which close codes may appear in a close frame. */
import { describe, expect, test } from 'vitest';
import { CloseCode, isValidWireCloseCode } from '../src/frame/index.js';

/** The rule, restated independently: 1000–1003, 1007–1014 and 3000–4999. */
function expectedValid(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

describe('isValidWireCloseCode (§7.4.1, §7.4.2)', () => {
  const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  const invalid: Array<[number, string]> = [
    [0, 'below 1000 is unused'],
    [999, 'below 1000 is unused'],
    [1004, 'reserved'],
    [1005, 'NO_STATUS_RECEIVED must not be sent'],
    [1006, 'ABNORMAL_CLOSURE must not be sent'],
    [1015, 'TLS_HANDSHAKE must not be sent'],
    [1016, 'reserved for future RFCs'],
    [2000, 'reserved for future RFCs'],
    [2999, 'reserved for future RFCs'],
    [5000, 'outside the registry'],
    [65535, 'outside the registry'],
  ];

  test.each(valid)('%i is valid on the wire', (code) => {
    expect(isValidWireCloseCode(code)).toBe(true);
  });

  test.each(invalid)('%i is invalid on the wire (%s)', (code) => {
    expect(isValidWireCloseCode(code)).toBe(false);
  });

  test('every 16-bit code 0..65535 follows the rule', () => {
    const mismatches: number[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      if (isValidWireCloseCode(code) !== expectedValid(code)) mismatches.push(code);
    }
    expect(mismatches).toEqual([]);
  });

  test('the reserved CloseCode constants are exactly the ones that must not be sent', () => {
    expect(isValidWireCloseCode(CloseCode.NO_STATUS_RECEIVED)).toBe(false);
    expect(isValidWireCloseCode(CloseCode.ABNORMAL_CLOSURE)).toBe(false);
    expect(isValidWireCloseCode(CloseCode.TLS_HANDSHAKE)).toBe(false);
    const sendable = Object.values(CloseCode).filter((c) => c !== 1005 && c !== 1006 && c !== 1015);
    for (const code of sendable) expect(isValidWireCloseCode(code), String(code)).toBe(true);
  });
});
