/**
 * Header names that are also properties of Object.prototype: the headers object is built as a
 * plain object and only given its null prototype at the end, so building must never see the
 * prototype's members as earlier values of a header.
 */
import { describe, expect, it } from 'vitest';
import { parseRequestHead } from '../src/handshake/http-head.js';

function head(lines: string[]): Record<string, string | undefined> {
  const result = parseRequestHead(Buffer.from(`GET / HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1'));
  if (result.kind !== 'complete') throw new Error(`not complete: ${result.kind}`);
  return result.head.headers;
}

describe('headers named like Object.prototype members', () => {
  it('repeated fields join their own values only', () => {
    // Names are lowercased; constructor and __proto__ are the all-lowercase members.
    const h = head(['Host: a', 'constructor: 1', 'Constructor: 2', '__proto__: x', '__PROTO__: y']);
    expect(h.constructor).toBe('1, 2');
    expect(h.__proto__).toBe('x, y');
    expect(Object.getPrototypeOf(h)).toBe(null);
    expect(Object.keys(h)).toEqual(['host', 'constructor', '__proto__']);
  });

  it('absent names read as undefined, not as inherited members', () => {
    const h = head(['Host: a']);
    expect(h.constructor).toBeUndefined();
    expect(h.valueOf).toBeUndefined();
    expect(h.__proto__).toBeUndefined();
    expect(Object.getPrototypeOf(h)).toBe(null);
  });
});
