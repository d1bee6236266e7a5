import { isFieldValueChar, isOws, isToken, isTokenChar } from './chars.js';

/**
 * Scanners for the comma-separated header values of the handshake: plain token lists
 * (`Connection`, `Upgrade`, `Sec-WebSocket-Protocol`) and the parameterised extension list of
 * `Sec-WebSocket-Extensions`. Each is a single forward pass over the string with no regular
 * expressions, so hostile input costs time linear in its length.
 */

/**
 * A syntax error in a header value; the only error the parsers in this module throw.
 *
 * @example
 * ```ts
 * import { HeaderSyntaxError, parseTokenList } from 'fullduplex/handshake';
 *
 * try {
 *   parseTokenList('chat, v1 v2');
 * } catch (error) {
 *   if (error instanceof HeaderSyntaxError) console.log(error.offset); // where parsing stopped
 * }
 * ```
 */
export class HeaderSyntaxError extends SyntaxError {
  /** Offset in the header value where the problem was found. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'HeaderSyntaxError';
    this.offset = offset;
  }
}

/**
 * One extension with its parameters; a parameter without a value is `true`.
 *
 * @example
 * ```ts
 * import { formatExtensions, type ExtensionOffer } from 'fullduplex/handshake';
 *
 * const offer: ExtensionOffer = { name: 'permessage-deflate', params: { client_max_window_bits: true } };
 * formatExtensions([offer]); // 'permessage-deflate; client_max_window_bits'
 * ```
 */
export interface ExtensionOffer {
  /** Extension token, e.g. `permessage-deflate`. */
  name: string;
  /** Parameters; one without a value is `true`. */
  params: Record<string, string | true>;
}

const COMMA = 0x2c;
const SEMI = 0x3b;
const EQ = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function skipOws(s: string, i: number): number {
  while (i < s.length && isOws(s.charCodeAt(i))) i++;
  return i;
}

function scanToken(s: string, i: number): number {
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Whether a comma-separated header value contains `token`, compared ASCII case-insensitively:
 * `hasToken('keep-alive, Upgrade', 'upgrade')` is true. Deliberately lenient, never throws:
 * `Upgrade` elements may carry a `/version` that is not a token (RFC 9110 §7.8), and all the
 * handshake needs is whether the wanted element is there. `undefined` (header absent) is false.
 *
 * @example
 * ```ts
 * import { hasToken } from 'fullduplex/handshake';
 *
 * hasToken('keep-alive, Upgrade', 'upgrade'); // true
 * hasToken(undefined, 'upgrade'); // false
 * ```
 */
export function hasToken(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const want = token.toLowerCase();
  let i = 0;
  while (i <= header.length) {
    let end = header.indexOf(',', i);
    if (end < 0) end = header.length;
    let a = i;
    let b = end;
    while (a < b && isOws(header.charCodeAt(a))) a++;
    while (b > a && isOws(header.charCodeAt(b - 1))) b--;
    if (b - a === want.length && header.slice(a, b).toLowerCase() === want) return true;
    i = end + 1;
  }
  return false;
}

/**
 * Parses `1#token` (RFC 9110 §5.6.1): tokens separated by commas with optional whitespace. Empty
 * elements (`a, , b`) are skipped as RFC 9110 §5.6.1.2 requires of recipients, but at least one
 * token must be present. Tokens are returned as sent, in order.
 *
 * @throws {HeaderSyntaxError} on any other character or an empty list.
 *
 * @example
 * ```ts
 * import { parseTokenList } from 'fullduplex/handshake';
 *
 * parseTokenList('gzip, , br'); // ['gzip', 'br']
 * ```
 */
export function parseTokenList(header: string): string[] {
  return scanTokenList(header, false);
}

/**
 * Parses `Sec-WebSocket-Protocol`: a list of tokens that "MUST all be unique strings"
 * (RFC 6455 §4.1 item 10, §11.3.4). Comparison is case-sensitive, as subprotocol names are.
 *
 * @throws {HeaderSyntaxError} on a malformed list or a repeated name.
 *
 * @example
 * ```ts
 * import { parseSubprotocols } from 'fullduplex/handshake';
 *
 * parseSubprotocols('chat.v2, chat.v1'); // ['chat.v2', 'chat.v1']
 * parseSubprotocols('chat, chat'); // throws HeaderSyntaxError: names must be unique
 * ```
 */
export function parseSubprotocols(header: string): string[] {
  return scanTokenList(header, true);
}

function scanTokenList(header: string, unique: boolean): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let i = 0;
  for (;;) {
    i = skipOws(header, i);
    if (i >= header.length) break;
    if (header.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const end = scanToken(header, i);
    if (end === i) throw new HeaderSyntaxError('expected a token', i);
    const token = header.slice(i, end);
    if (unique) {
      if (seen.has(token)) throw new HeaderSyntaxError(`duplicate ${JSON.stringify(token)}`, i);
      seen.add(token);
    }
    out.push(token);
    i = skipOws(header, end);
    if (i < header.length && header.charCodeAt(i) !== COMMA) throw new HeaderSyntaxError('expected ","', i);
  }
  if (out.length === 0) throw new HeaderSyntaxError('empty list', i);
  return out;
}

/**
 * Parses `Sec-WebSocket-Extensions` per RFC 6455 §9.1:
 *
 * ```
 * extension-list = 1#extension
 * extension      = extension-token *( ";" extension-param )
 * extension-param = token [ "=" ( token | quoted-string ) ]
 * ```
 *
 * with optional whitespace around the separators and empty list elements skipped. Each offer is a
 * separate entry in order, so a client offering the same extension twice (with different
 * parameters, as fallbacks) yields two entries. A quoted-string value is returned unescaped; the
 * §9.1 rule that it must then be a token is left to each extension's negotiator, so an unknown
 * extension with an odd value is declined rather than failing the whole handshake.
 *
 * @throws {HeaderSyntaxError} on malformed input, an empty list, or a parameter repeated within one
 * extension (a record cannot keep both values, and RFC 7692 §7 treats that as invalid anyway).
 *
 * @example
 * ```ts
 * import { parseExtensions } from 'fullduplex/handshake';
 *
 * parseExtensions('permessage-deflate; client_max_window_bits, permessage-deflate');
 * // [{ name: 'permessage-deflate', params: { client_max_window_bits: true } },
 * //  { name: 'permessage-deflate', params: {} }]
 * ```
 */
export function parseExtensions(header: string): ExtensionOffer[] {
  return scanExtensions(header).map(({ name, params, offsets }) => {
    const record: Record<string, string | true> = Object.create(null);
    params.forEach(([key, value], k) => {
      if (Object.hasOwn(record, key)) throw new HeaderSyntaxError(`duplicate parameter ${JSON.stringify(key)}`, offsets[k]!);
      record[key] = value;
    });
    return { name, params: record };
  });
}

/** One extension element with its parameters in order, repeats kept (see {@link parseExtensionsRaw}). */
export interface RawExtensionOffer {
  name: string;
  params: Array<[string, string | true]>;
}

/**
 * Parses `Sec-WebSocket-Extensions` with the same grammar as {@link parseExtensions}, but keeps
 * every parameter as an ordered `[name, value]` pair, repeats included. A repeated parameter is
 * legal in RFC 6455 §9.1's grammar; whether it is acceptable is the extension's decision
 * (RFC 7692 §7: the server declines that offer and tries the next one, rather than failing the
 * whole handshake with 400). A quoted-string value is returned unescaped.
 *
 * @throws {HeaderSyntaxError} on malformed input or an empty list (never on repeats).
 */
export function parseExtensionsRaw(header: string): RawExtensionOffer[] {
  return scanExtensions(header).map(({ name, params }) => ({ name, params }));
}

/** The §9.1 scanner behind both parsers: every parameter in order, with where its name starts. */
function scanExtensions(header: string): Array<RawExtensionOffer & { offsets: number[] }> {
  const out: Array<RawExtensionOffer & { offsets: number[] }> = [];
  const n = header.length;
  let i = 0;
  for (;;) {
    i = skipOws(header, i);
    if (i >= n) break;
    if (header.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    let end = scanToken(header, i);
    if (end === i) throw new HeaderSyntaxError('expected an extension name', i);
    const name = header.slice(i, end);
    const params: Array<[string, string | true]> = [];
    const offsets: number[] = [];
    i = skipOws(header, end);
    while (i < n && header.charCodeAt(i) !== COMMA) {
      if (header.charCodeAt(i) !== SEMI) throw new HeaderSyntaxError('expected ";" or ","', i);
      i = skipOws(header, i + 1);
      end = scanToken(header, i);
      if (end === i) throw new HeaderSyntaxError('expected a parameter name', i);
      const key = header.slice(i, end);
      offsets.push(i);
      i = skipOws(header, end);
      let value: string | true = true;
      if (i < n && header.charCodeAt(i) === EQ) {
        i = skipOws(header, i + 1);
        if (i < n && header.charCodeAt(i) === DQUOTE) {
          [value, i] = scanQuoted(header, i);
        } else {
          end = scanToken(header, i);
          if (end === i) throw new HeaderSyntaxError('expected a parameter value', i);
          value = header.slice(i, end);
          i = end;
        }
        i = skipOws(header, i);
      }
      params.push([key, value]);
    }
    out.push({ name, params, offsets });
  }
  if (out.length === 0) throw new HeaderSyntaxError('empty extension list', i);
  return out;
}

/**
 * quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4), starting at the
 * opening quote. Returns the unescaped value and the index after the closing quote.
 */
function scanQuoted(s: string, i: number): [string, number] {
  let value = '';
  let runStart = ++i; // copy unescaped runs in one slice rather than char by char
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === DQUOTE) return [value + s.slice(runStart, i), i + 1];
    if (c === BACKSLASH) {
      if (i + 1 >= s.length || !isFieldValueChar(s.charCodeAt(i + 1))) {
        throw new HeaderSyntaxError('invalid escape in quoted-string', i);
      }
      value += s.slice(runStart, i);
      runStart = i + 1; // the escaped char starts the next run
      i += 2;
      continue;
    }
    if (!isFieldValueChar(c)) throw new HeaderSyntaxError('invalid character in quoted-string', i);
    i++;
  }
  throw new HeaderSyntaxError('unterminated quoted-string', i);
}

/**
 * Serializes extensions back to a `Sec-WebSocket-Extensions` value: `name; key; key=value, ...`.
 * Values that are not tokens are written as quoted-strings with `"` and `\` escaped, so
 * `parseExtensions(formatExtensions(x))` gives back `x`.
 *
 * @throws {TypeError} if a name or parameter name is not a token, or a value contains a character
 * that cannot appear in a header at all (CR, LF, other controls, code points above U+00FF).
 *
 * @example
 * ```ts
 * import { formatExtensions } from 'fullduplex/handshake';
 *
 * formatExtensions([{ name: 'x-ext', params: { mode: 'a b' } }]); // 'x-ext; mode="a b"'
 * ```
 */
export function formatExtensions(list: readonly ExtensionOffer[]): string {
  return list
    .map(({ name, params }) => {
      if (!isToken(name)) throw new TypeError(`invalid extension name ${JSON.stringify(name)}`);
      let out = name;
      for (const [key, value] of Object.entries(params)) {
        if (!isToken(key)) throw new TypeError(`invalid extension parameter name ${JSON.stringify(key)}`);
        out += value === true ? `; ${key}` : `; ${key}=${isToken(value) ? value : quote(value)}`;
      }
      return out;
    })
    .join(', ');
}

function quote(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!isFieldValueChar(c)) throw new TypeError(`invalid character in extension parameter value ${JSON.stringify(value)}`);
    out += c === DQUOTE || c === BACKSLASH ? `\\${value[i]}` : value[i];
  }
  return `${out}"`;
}
