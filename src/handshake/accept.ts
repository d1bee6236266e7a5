import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';

/**
 * The GUID every endpoint appends to the key before hashing (RFC 6455 §1.3, §4.2.2).
 *
 * @example
 * ```ts
 * import { createHash } from 'node:crypto';
 * import { WS_GUID } from 'fullduplex/handshake';
 *
 * const accept = createHash('sha1').update('dGhlIHNhbXBsZSBub25jZQ==' + WS_GUID).digest('base64');
 * console.log(accept); // 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
 * ```
 */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * The `Sec-WebSocket-Accept` value for a client key: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2
 * step 5.4). The server sends it; the client recomputes it to prove the server understood the
 * WebSocket handshake rather than being a plain HTTP server replaying headers.
 *
 * @example
 * ```ts
 * import { computeAccept } from 'fullduplex/handshake';
 *
 * // The example of RFC 6455 §1.3.
 * computeAccept('dGhlIHNhbXBsZSBub25jZQ=='); // 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
 * ```
 */
export function computeAccept(key: string): string {
  const input = key + WS_GUID;
  // One-shot crypto.hash (Node >= 20.12) skips the Hash object: ~10x faster than
  // createHash().update().digest() here. It reads strings as UTF-8, which equals latin1 only for
  // ASCII — every valid key is ASCII (base64); anything else takes the latin1 path.
  if (oneShotHash !== undefined && isAscii(key)) return oneShotHash('sha1', input, 'base64');
  return createHash('sha1').update(input, 'latin1').digest('base64');
}

const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * A fresh `Sec-WebSocket-Key`: 16 random bytes, base64-encoded (RFC 6455 §4.1 item 7). The RFC
 * asks for a nonce "randomly selected", so it comes from the CSPRNG.
 *
 * @example
 * ```ts
 * import { generateKey, isValidKey } from 'fullduplex/handshake';
 *
 * const key = generateKey(); // e.g. 'x3JJHMbDL1EzLkh9GBhXDw=='
 * isValidKey(key); // true
 * ```
 */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/**
 * Whether `key` is a valid `Sec-WebSocket-Key`: the base64 encoding of exactly 16 bytes
 * (RFC 6455 §4.2.1 item 5), i.e. 22 base64 alphabet characters followed by `==`. Anything looser
 * (missing padding, URL-safe alphabet, whitespace) is rejected. The unused low bits of the 22nd
 * character are not checked, like `ws`, since such keys still decode to 16 bytes.
 *
 * @example
 * ```ts
 * import { isValidKey } from 'fullduplex/handshake';
 *
 * isValidKey('dGhlIHNhbXBsZSBub25jZQ=='); // true
 * isValidKey('dGhlIHNhbXBsZSBub25jZQ'); // false: padding missing
 * ```
 */
export function isValidKey(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    const ok =
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2b || // +
      c === 0x2f; // /
    if (!ok) return false;
  }
  return true;
}
