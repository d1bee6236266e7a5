import { Buffer } from 'node:buffer';
import { isFieldValueChar, isOws, isToken, isTokenChar } from './chars.js';

/**
 * An HTTP/1.1 message-head parser for the upgrade exchange, working on the raw bytes received so
 * far. Only what a WebSocket handshake needs: start line and header fields, no body, no chunking.
 * It is strict where leniency has caused request smuggling in the past (bare CR/LF, obs-fold,
 * whitespace before the colon) and bounded in size, and every step is a single forward loop, so
 * the cost is linear in the head size whatever the input.
 */

/**
 * Bounds applied while parsing; both are checked before any per-line work is done.
 *
 * @example
 * ```ts
 * import { parseRequestHead, type HeadLimits } from 'fullduplex/handshake';
 *
 * const strict: HeadLimits = { maxHeadSize: 4096, maxHeaderCount: 32 };
 * const result = parseRequestHead(received, strict);
 * if (result.kind === 'error') console.log(result.status); // 431 when a limit is exceeded
 * ```
 */
export interface HeadLimits {
  /** Largest head accepted, in bytes, including the final CRLFCRLF. Default 8192. */
  maxHeadSize?: number;
  /** Largest number of header fields accepted. Default 100. */
  maxHeaderCount?: number;
}

/**
 * Default for {@link HeadLimits.maxHeadSize}, the same order as node:http's 16 KiB limit.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_HEAD_SIZE } from 'fullduplex/handshake';
 *
 * // Allow twice the default for clients that send large cookies.
 * const server = await serve(handler, { maxHeadSize: 2 * DEFAULT_MAX_HEAD_SIZE });
 * ```
 */
export const DEFAULT_MAX_HEAD_SIZE = 8192;
/**
 * Default for {@link HeadLimits.maxHeaderCount}.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_HEADER_COUNT, parseRequestHead } from 'fullduplex/handshake';
 *
 * parseRequestHead(received, { maxHeaderCount: DEFAULT_MAX_HEADER_COUNT / 2 });
 * ```
 */
export const DEFAULT_MAX_HEADER_COUNT = 100;

/**
 * Header fields of a parsed head.
 *
 * @example
 * ```ts
 * import { parseRequestHead } from 'fullduplex/handshake';
 *
 * const result = parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-Tag: 1\r\nX-Tag: 2\r\n\r\n'));
 * if (result.kind === 'complete') {
 *   console.log(result.head.headers['x-tag']); // '1, 2'
 *   console.log(result.head.rawHeaders.length); // 3
 * }
 * ```
 */
export interface ParsedHeaders {
  /**
   * Lowercase name → value. Repeated fields are joined with `, ` in arrival order, which is how a
   * list-valued field is defined to combine (RFC 9110 §5.3). A null-prototype object, so names
   * like `constructor` or `__proto__` are plain data.
   */
  headers: Record<string, string>;
  /** Every field as received, `[name, value]` with the name's original case. */
  rawHeaders: Array<[string, string]>;
}

/**
 * A parsed request head (RFC 9112 §3).
 *
 * @example
 * ```ts
 * import { parseRequestHead } from 'fullduplex/handshake';
 *
 * const result = parseRequestHead(Buffer.from('GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n\r\n'));
 * if (result.kind === 'complete') console.log(result.head.method, result.head.target); // 'GET' '/chat?room=1'
 * ```
 */
export interface ParsedRequestHead extends ParsedHeaders {
  /** Request method, case preserved (methods are case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** Request target as sent, e.g. `/chat?room=1`. */
  target: string;
  /** `major.minor`, e.g. `1.1`. Only major version 1 gets this far. */
  httpVersion: string;
}

/**
 * A parsed response head (RFC 9112 §4).
 *
 * @example
 * ```ts
 * import { parseResponseHead } from 'fullduplex/handshake';
 *
 * const result = parseResponseHead(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'));
 * if (result.kind === 'complete') console.log(result.head.status, result.head.reason); // 101 'Switching Protocols'
 * ```
 */
export interface ParsedResponseHead extends ParsedHeaders {
  /** `major.minor`, e.g. `1.1`. */
  httpVersion: string;
  /** Three-digit status code. */
  status: number;
  /** Reason phrase, possibly empty. */
  reason: string;
}

/**
 * Why a head was refused, with the status a server should answer with.
 *
 * @example
 * ```ts
 * import { parseRequestHead } from 'fullduplex/handshake';
 *
 * const result = parseRequestHead(Buffer.from('GET / HTTP/2.0\r\n\r\n'));
 * if (result.kind === 'error') socket.end(`HTTP/1.1 ${result.status} ${result.message}\r\n\r\n`); // 505
 * ```
 */
export interface HeadParseError {
  /** Discriminant of {@link HeadParseResult}. */
  kind: 'error';
  /** 431 too large, 505 unsupported HTTP major version, 400 anything malformed. */
  status: 400 | 431 | 505;
  /** What is wrong, for the response body and logs. */
  message: string;
}

/**
 * Outcome of parsing the bytes received so far. On `complete`, bytes from `bytesConsumed` on
 * are not part of the head: they already belong to the WebSocket stream and must be handed on.
 *
 * @example
 * ```ts
 * import { parseRequestHead } from 'fullduplex/handshake';
 *
 * const result = parseRequestHead(received);
 * switch (result.kind) {
 *   case 'incomplete': break; // wait for more bytes
 *   case 'error': refuse(result.status); break;
 *   case 'complete': upgrade(result.head, received.subarray(result.bytesConsumed)); break;
 * }
 * ```
 */
export type HeadParseResult<H> =
  | { kind: 'incomplete' }
  | HeadParseError
  | { kind: 'complete'; head: H; bytesConsumed: number };

const CR = 0x0d;
const LF = 0x0a;

function fail(status: 400 | 431 | 505, message: string): HeadParseError {
  return { kind: 'error', status, message };
}

/**
 * Parses a request head from the bytes received so far. Call again with all bytes received so
 * far (not just the new ones) while the result is `incomplete`.
 *
 * @example
 * ```ts
 * import { parseRequestHead } from 'fullduplex/handshake';
 *
 * let received = Buffer.alloc(0);
 * socket.on('data', (chunk) => {
 *   received = Buffer.concat([received, chunk]);
 *   const result = parseRequestHead(received);
 *   if (result.kind === 'incomplete') return;
 *   // 'error': answer result.status; 'complete': result.head, and the bytes after bytesConsumed
 * });
 * ```
 */
export function parseRequestHead(buf: Uint8Array, limits: HeadLimits = {}): HeadParseResult<ParsedRequestHead> {
  const split = splitHead(buf, limits);
  if (split.kind !== 'lines') return split;
  const start = parseRequestLine(split.lines[0]!);
  if ('kind' in start) return start;
  const fields = parseFields(split.lines, true);
  if ('kind' in fields) return fields;
  return { kind: 'complete', head: { ...start, ...fields }, bytesConsumed: split.end };
}

/**
 * Parses a response head from the bytes received so far; see {@link parseRequestHead}.
 *
 * @example
 * ```ts
 * import { parseResponseHead } from 'fullduplex/handshake';
 *
 * const result = parseResponseHead(Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
 * if (result.kind === 'complete') console.log(result.head.status); // 404
 * ```
 */
export function parseResponseHead(buf: Uint8Array, limits: HeadLimits = {}): HeadParseResult<ParsedResponseHead> {
  const split = splitHead(buf, limits);
  if (split.kind !== 'lines') return split;
  const start = parseStatusLine(split.lines[0]!);
  if ('kind' in start) return start;
  const fields = parseFields(split.lines, false);
  if ('kind' in fields) return fields;
  return { kind: 'complete', head: { ...start, ...fields }, bytesConsumed: split.end };
}

type SplitHead = { kind: 'incomplete' } | HeadParseError | { kind: 'lines'; lines: string[]; end: number };

/** Finds the end of the head, applies both limits, and cuts the head into lines. */
function splitHead(buf: Uint8Array, limits: HeadLimits): SplitHead {
  const maxHeadSize = limits.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE;
  const maxHeaderCount = limits.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT;
  const end = findHeadEnd(buf, maxHeadSize);
  if (typeof end !== 'number') return end;
  if (end < 0) return { kind: 'incomplete' };
  // latin1 maps bytes 1:1 onto chars, so obs-text survives and nothing can fail to decode.
  const text = Buffer.from(buf.buffer, buf.byteOffset, end - 4).toString('latin1');
  const lines = text.split('\r\n');
  if (lines.length - 1 > maxHeaderCount) return fail(431, `more than ${maxHeaderCount} header fields`);
  return { kind: 'lines', lines, end };
}

/**
 * Index just past the CRLFCRLF ending the head, -1 if it has not arrived yet, or an error. Lines
 * must end in CRLF (RFC 9112 §2.2): a lone CR or LF is refused as soon as it is seen, rather than
 * guessing where a line ends differently from some proxy in front of us.
 */
function findHeadEnd(buf: Uint8Array, maxHeadSize: number): number | HeadParseError {
  const n = Math.min(buf.length, maxHeadSize);
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c === LF) {
      if (i === 0 || buf[i - 1] !== CR) return fail(400, 'bare LF in head; lines must end with CRLF (RFC 9112 §2.2)');
      if (i >= 3 && buf[i - 2] === LF) return i + 1; // buf[i - 3] is CR: that LF was checked too
    } else if (i > 0 && buf[i - 1] === CR) {
      return fail(400, 'bare CR in head; lines must end with CRLF (RFC 9112 §2.2)');
    }
  }
  if (buf.length >= maxHeadSize) return fail(431, `head larger than ${maxHeadSize} bytes`);
  return -1;
}

/** `HTTP/d.d` (RFC 9112 §2.3); HTTP-name is case-sensitive. Major versions other than 1 get 505. */
function parseVersion(s: string): string | HeadParseError {
  const ok =
    s.length === 8 &&
    s.startsWith('HTTP/') &&
    isDigit(s.charCodeAt(5)) &&
    s.charCodeAt(6) === 0x2e &&
    isDigit(s.charCodeAt(7));
  if (!ok) return fail(400, `malformed HTTP version ${JSON.stringify(s)}`);
  if (s[5] !== '1') return fail(505, `HTTP version ${s.slice(5)} not supported`);
  return s.slice(5);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces only. */
function parseRequestLine(line: string): Pick<ParsedRequestHead, 'method' | 'target' | 'httpVersion'> | HeadParseError {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp2 < 0) return fail(400, 'malformed request line');
  const method = line.slice(0, sp1);
  if (!isToken(method)) return fail(400, 'malformed request method');
  const target = line.slice(sp1 + 1, sp2);
  if (target.length === 0) return fail(400, 'empty request target');
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return fail(400, 'invalid character in request target');
  }
  const httpVersion = parseVersion(line.slice(sp2 + 1));
  if (typeof httpVersion !== 'string') return httpVersion;
  return { method: method === 'GET' ? 'GET' : method, target, httpVersion };
}

/** status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] (RFC 9112 §4); the last SP may be missing. */
function parseStatusLine(line: string): Pick<ParsedResponseHead, 'httpVersion' | 'status' | 'reason'> | HeadParseError {
  const httpVersion = parseVersion(line.slice(0, 8));
  if (typeof httpVersion !== 'string') return httpVersion;
  const digits = line.slice(9, 12);
  const ok =
    line.charCodeAt(8) === 0x20 &&
    digits.length === 3 &&
    isDigit(digits.charCodeAt(0)) &&
    isDigit(digits.charCodeAt(1)) &&
    isDigit(digits.charCodeAt(2)) &&
    (line.length === 12 || line.charCodeAt(12) === 0x20);
  if (!ok) return fail(400, 'malformed status line');
  const status = Number(digits);
  if (status < 100) return fail(400, `invalid status code ${digits}`);
  const reason = line.slice(13);
  for (let i = 0; i < reason.length; i++) {
    if (!isFieldValueChar(reason.charCodeAt(i))) return fail(400, 'invalid character in reason phrase');
  }
  return { httpVersion, status, reason };
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * A header value that does not keep the whole head alive. V8 cuts substrings of 13+ characters
 * as views of their parent, so one `Host` or `Sec-WebSocket-Key` value held by a connection
 * (its request headers live as long as it does) would pin the entire request text; a copy is
 * made of those. The usual short values become the shared literals.
 */
function detach(value: string): string {
  if (value.length >= 13) return (' ' + value).slice(1); // flattened into a string of its own
  return value === 'websocket' ? 'websocket' : value === 'Upgrade' ? 'Upgrade' : value === '13' ? '13' : value;
}

/** field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), for lines[1..]. */
function parseFields(lines: string[], isRequest: boolean): ParsedHeaders | HeadParseError {
  // Built as a plain object and given a null prototype at the end: Object.create(null) makes a
  // dictionary-mode object (~480 B for a handshake's headers, kept for the life of the
  // connection); this keeps fast properties and a shared shape (~105 B), and builds 3x faster.
  // Until then Object.prototype is visible, so lookups check own properties only.
  const headers: Record<string, string> = {};
  const rawHeaders: Array<[string, string]> = [];
  for (let l = 1; l < lines.length; l++) {
    const line = lines[l]!;
    if (isOws(line.charCodeAt(0))) return fail(400, 'obsolete line folding is not accepted (RFC 9112 §5.2)');
    let i = 0;
    while (i < line.length && isTokenChar(line.charCodeAt(i))) i++;
    if (i === 0 || line.charCodeAt(i) !== 0x3a) {
      const why = isOws(line.charCodeAt(i)) ? 'whitespace before colon (RFC 9112 §5.1)' : 'invalid header name';
      return fail(400, `${why} in header line ${l}`);
    }
    const name = line.slice(0, i);
    let start = i + 1;
    let end = line.length;
    while (start < end && isOws(line.charCodeAt(start))) start++;
    while (end > start && isOws(line.charCodeAt(end - 1))) end--;
    for (let j = start; j < end; j++) {
      if (!isFieldValueChar(line.charCodeAt(j))) return fail(400, `invalid character in value of ${name}`);
    }
    const value = detach(line.slice(start, end));
    const key = name.toLowerCase();
    const prev = hasOwn.call(headers, key) ? headers[key] : undefined;
    // RFC 9112 §3.2: a request with more than one Host field MUST get a 400.
    if (prev !== undefined && isRequest && key === 'host') return fail(400, 'duplicate Host header (RFC 9112 §3.2)');
    const joined = prev === undefined ? value : `${prev}, ${value}`;
    // Assigning `__proto__` would set the prototype instead of adding a header.
    if (key === '__proto__') Object.defineProperty(headers, key, { value: joined, writable: true, enumerable: true, configurable: true });
    else headers[key] = joined;
    rawHeaders.push([name, value]);
  }
  return { headers: Object.setPrototypeOf(headers, null) as Record<string, string>, rawHeaders };
}
