/**
 * Character classes from the HTTP grammar (RFC 9110 §5.6), shared by the head parser, the header
 * value scanners and the serializers. Lookups are per character so every caller stays a plain
 * linear loop instead of a regular expression.
 */

/** `tchar` (RFC 9110 §5.6.2): the characters allowed in a token, indexed by char code < 128. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/**
 * Whether char code `c` is a `tchar` (RFC 9110 §5.6.2).
 *
 * @example
 * ```ts
 * isTokenChar(0x61); // true ('a')
 * isTokenChar(0x2c); // false (',')
 * ```
 */
export function isTokenChar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/**
 * Whether `s` is a non-empty `token` (RFC 9110 §5.6.2): header names, methods, subprotocols.
 *
 * @example
 * ```ts
 * import { isToken } from 'fullduplex/handshake';
 *
 * isToken('chat.v2'); // true: usable as a subprotocol name
 * isToken('chat v2'); // false: spaces are not token characters
 * ```
 */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Whether `c` is optional whitespace, SP or HTAB (RFC 9110 §5.6.3).
 *
 * @example
 * ```ts
 * isOws(0x20); // true (SP)
 * isOws(0x0a); // false (LF)
 * ```
 */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Whether `c` may appear in a field value or reason phrase: HTAB, SP, VCHAR or obs-text
 * (RFC 9110 §5.5). Everything else, CR and LF in particular, is excluded, which is what stops
 * header injection when we serialize values we were handed.
 *
 * @example
 * ```ts
 * isFieldValueChar(0x41); // true ('A')
 * isFieldValueChar(0x0d); // false (CR): would allow header injection
 * ```
 */
export function isFieldValueChar(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c <= 0xff && c !== 0x7f);
}

/**
 * Whether every character of `s` satisfies {@link isFieldValueChar}.
 *
 * @example
 * ```ts
 * isFieldValue('Bearer abc'); // true
 * isFieldValue('x\r\nSet-Cookie: y'); // false
 * ```
 */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isFieldValueChar(s.charCodeAt(i))) return false;
  return true;
}
