import { describe, expect, it } from 'vitest';
import { computeAccept, generateKey, isValidKey, WS_GUID } from '../src/handshake/accept.js';

describe('computeAccept', () => {
  it('matches the RFC 6455 §1.3 example', () => {
    expect(computeAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('uses the RFC GUID', () => {
    expect(WS_GUID).toBe('258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  });

  it('depends on the key', () => {
    expect(computeAccept('AAAAAAAAAAAAAAAAAAAAAA==')).not.toBe(computeAccept('AAAAAAAAAAAAAAAAAAAAAQ=='));
  });
});

describe('generateKey', () => {
  it('gives valid keys that decode to 16 bytes', () => {
    for (let i = 0; i < 50; i++) {
      const key = generateKey();
      expect(isValidKey(key)).toBe(true);
      expect(Buffer.from(key, 'base64')).toHaveLength(16);
    }
  });

  it('gives a different key each time', () => {
    const keys = new Set(Array.from({ length: 100 }, generateKey));
    expect(keys.size).toBe(100);
  });
});

describe('isValidKey', () => {
  it.each<[string, string, boolean]>([
    ['RFC §1.3 sample key', 'dGhlIHNhbXBsZSBub25jZQ==', true],
    ['all A', 'AAAAAAAAAAAAAAAAAAAAAA==', true],
    ['+ and / in the alphabet', '+/+/+/+/+/+/+/+/+/+/+w==', true],
    ['empty', '', false],
    ['missing padding', 'dGhlIHNhbXBsZSBub25jZQ', false],
    ['single = padding', 'dGhlIHNhbXBsZSBub25jZQ=', false],
    ['too long (17 bytes)', 'dGhlIHNhbXBsZSBub25jZQAA', false],
    ['too short (15 bytes)', 'dGhlIHNhbXBsZSBub25j', false],
    ['20 bytes of base64', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=', false],
    ['URL-safe alphabet', 'dGhlIHNhbXBsZSBub25jZ-_==', false],
    ['URL-safe - in the middle', 'dGhlIHNhbXBsZS-ub25jZQ==', false],
    ['space inside', 'dGhlIHNhbXBsZSBub25j ZQ=', false],
    ['leading space', ' dGhlIHNhbXBsZSBub25jZQ=', false],
    ['padding in the middle', 'dGhlIHNhbXBs=SBub25jZQ==', false],
    ['non-ASCII', 'dGhlIHNhbXBsZSBub25jZé==', false],
    ['three = signs', 'dGhlIHNhbXBsZSBub25jZ===', false],
  ])('%s: %j → %s', (_name, key, valid) => {
    expect(isValidKey(key)).toBe(valid);
  });
});
