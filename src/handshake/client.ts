import { Buffer } from 'node:buffer';
import { computeAccept, generateKey, isValidKey } from './accept.js';
import { isFieldValue, isToken } from './chars.js';
import type { ParsedResponseHead } from './http-head.js';
import { formatExtensions, hasToken, HeaderSyntaxError, parseExtensions } from './tokens.js';
import type { ExtensionOffer } from './tokens.js';

/**
 * The client side of the opening handshake (RFC 6455 §4.1): the request bytes to send, and the
 * verdict on the server's response head. No sockets here either.
 */

/**
 * Stable identifiers for every way the client side of the handshake can fail.
 *
 * @example
 * ```ts
 * import type { HandshakeErrorCode } from 'fullduplex/handshake';
 *
 * const retryable = (code: HandshakeErrorCode, status?: number): boolean =>
 *   code === 'FD_ERR_HANDSHAKE_STATUS' && status !== undefined && status >= 500;
 * ```
 */
export type HandshakeErrorCode =
  | 'FD_ERR_INVALID_URL'
  | 'FD_ERR_INVALID_OPTION'
  | 'FD_ERR_HANDSHAKE_STATUS'
  | 'FD_ERR_HANDSHAKE_UPGRADE'
  | 'FD_ERR_HANDSHAKE_CONNECTION'
  | 'FD_ERR_HANDSHAKE_ACCEPT'
  | 'FD_ERR_HANDSHAKE_PROTOCOL'
  | 'FD_ERR_HANDSHAKE_EXTENSIONS';

/**
 * A failed or impossible opening handshake: a bad URL or option when building the request, or a
 * server response the client MUST fail the connection on (RFC 6455 §4.1).
 *
 * @example
 * ```ts
 * import { buildClientRequest, HandshakeError } from 'fullduplex/handshake';
 *
 * try {
 *   buildClientRequest({ url: 'http://example.com/#top' });
 * } catch (error) {
 *   if (error instanceof HandshakeError) console.log(error.code); // 'FD_ERR_INVALID_URL'
 * }
 * ```
 */
export class HandshakeError extends Error {
  /** Stable identifier, e.g. `FD_ERR_HANDSHAKE_ACCEPT`. */
  readonly code: HandshakeErrorCode;
  /** The server's status code, when the failure is about its response. */
  readonly status: number | undefined;

  constructor(code: HandshakeErrorCode, message: string, status?: number) {
    super(message);
    this.name = 'HandshakeError';
    this.code = code;
    this.status = status;
  }
}

/**
 * Input of {@link buildClientRequest}.
 *
 * @example
 * ```ts
 * import { buildClientRequest, type ClientRequestOptions } from 'fullduplex/handshake';
 *
 * const options: ClientRequestOptions = {
 *   url: 'wss://example.com/chat',
 *   protocols: ['chat.v2'],
 *   headers: { Authorization: 'Bearer abc' },
 * };
 * const { bytes, key } = buildClientRequest(options);
 * ```
 */
export interface ClientRequestOptions {
  /** `ws:` or `wss:` URL; `http:`/`https:` are taken as `ws:`/`wss:`. No fragment (RFC 6455 §3). */
  url: URL | string;
  /** `Sec-WebSocket-Key` to use instead of a fresh random one (tests, reproducibility). */
  key?: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Extensions to offer, in order of preference. */
  extensions?: ExtensionOffer[];
  /** `Origin` header, as a browser would send (RFC 6455 §4.1 item 8). */
  origin?: string;
  /**
   * Extra headers. `Host`, `Origin` and `Authorization` given here replace the ones derived from
   * the URL; the WebSocket headers themselves must go through the dedicated options.
   */
  headers?: Record<string, string>;
}

/**
 * The request produced by {@link buildClientRequest}.
 *
 * @example
 * ```ts
 * import { buildClientRequest } from 'fullduplex/handshake';
 *
 * const request = buildClientRequest({ url: 'ws://127.0.0.1:8765/' });
 * socket.write(request.bytes); // keep request.key to check the answer
 * console.log(request.head.split('\r\n')[0]); // 'GET / HTTP/1.1'
 * ```
 */
export interface ClientRequest {
  /** The key sent, needed later by {@link validateServerResponse}. */
  key: string;
  /** The exact bytes to write. */
  bytes: Buffer;
  /** The same request as text, for logs. */
  head: string;
}

/** Headers the handshake owns: overriding them through `headers` would break it. */
const RESERVED = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/**
 * Builds the opening handshake request (RFC 6455 §4.1): `GET <path?query> HTTP/1.1` with `Host`,
 * `Upgrade`, `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13` and the optional
 * `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`, `Origin` and extra headers. Credentials in
 * the URL become `Authorization: Basic`, as browsers and `ws` do.
 *
 * @throws {HandshakeError} `FD_ERR_INVALID_URL` for an unparsable URL, another scheme or a
 * fragment; `FD_ERR_INVALID_OPTION` for an invalid key, subprotocol, extension or header (CR/LF
 * in particular, which would let the caller's data inject headers).
 *
 * @example
 * ```ts
 * import { buildClientRequest, parseResponseHead, validateServerResponse } from 'fullduplex/handshake';
 *
 * const request = buildClientRequest({ url: 'ws://127.0.0.1:8765/chat', protocols: ['chat.v2'] });
 * socket.write(request.bytes);
 * // ...once parseResponseHead(received) is complete:
 * const verdict = validateServerResponse(head, { key: request.key, protocols: ['chat.v2'] });
 * ```
 */
export function buildClientRequest(options: ClientRequestOptions): ClientRequest {
  const url = parseUrl(options.url);
  const key = options.key ?? generateKey();
  if (!isValidKey(key)) throw invalid(`invalid Sec-WebSocket-Key ${JSON.stringify(key)}`);

  // The URL parser drops the port when it is the scheme's default, and ws:/http: (80) and
  // wss:/https: (443) share defaults, so `host` already has a port exactly when it is needed.
  const headers: Array<[string, string]> = [['Host', url.host]];
  if (url.username !== '' || url.password !== '') {
    let credentials: string;
    try {
      credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    } catch {
      throw new HandshakeError('FD_ERR_INVALID_URL', 'URL credentials are not valid percent-encoding');
    }
    headers.push(['Authorization', `Basic ${Buffer.from(credentials).toString('base64')}`]);
  }
  headers.push(['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', key]);
  headers.push(['Sec-WebSocket-Version', '13']);
  if (options.protocols !== undefined && options.protocols.length > 0) {
    // RFC 6455 §4.1 item 10: tokens, all unique.
    for (const p of options.protocols) if (!isToken(p)) throw invalid(`invalid subprotocol ${JSON.stringify(p)}`);
    if (new Set(options.protocols).size !== options.protocols.length) throw invalid('duplicate subprotocol');
    headers.push(['Sec-WebSocket-Protocol', options.protocols.join(', ')]);
  }
  if (options.extensions !== undefined && options.extensions.length > 0) {
    try {
      headers.push(['Sec-WebSocket-Extensions', formatExtensions(options.extensions)]);
    } catch (err) {
      throw invalid((err as Error).message);
    }
  }
  if (options.origin !== undefined) headers.push(['Origin', options.origin]);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = name.toLowerCase();
    if (RESERVED.has(lower)) throw invalid(`header ${name} is set by the handshake`);
    const at = headers.findIndex(([n]) => n.toLowerCase() === lower);
    if (at >= 0) headers[at] = [name, value];
    else headers.push([name, value]);
  }

  // RFC 6455 §3 resource-name: path, then "?" and the query if there is one, even an empty one
  // (`url.search` is '' for a bare '?', but the href still ends with it since there is no fragment).
  const query = url.search !== '' ? url.search : url.href.endsWith('?') ? '?' : '';
  let head = `GET ${url.pathname}${query} HTTP/1.1\r\n`;
  for (const [name, value] of headers) {
    if (!isToken(name)) throw invalid(`invalid header name ${JSON.stringify(name)}`);
    if (!isFieldValue(value)) throw invalid(`invalid value for header ${name}`);
    head += `${name}: ${value}\r\n`;
  }
  head += '\r\n';
  return { key, bytes: Buffer.from(head, 'latin1'), head };
}

function invalid(message: string): HandshakeError {
  return new HandshakeError('FD_ERR_INVALID_OPTION', message);
}

function parseUrl(input: URL | string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new HandshakeError('FD_ERR_INVALID_URL', `invalid URL ${JSON.stringify(String(input))}`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) {
    throw new HandshakeError('FD_ERR_INVALID_URL', `URL scheme must be ws: or wss:, got ${url.protocol}`);
  }
  // RFC 6455 §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST
  // NOT be used". `url.hash` is '' for a bare '#', so look at the serialization, where a literal
  // '#' can only be the fragment delimiter.
  if (url.href.includes('#')) throw new HandshakeError('FD_ERR_INVALID_URL', 'URL must not contain a fragment');
  return url;
}

/**
 * What the client offered, to hold the server's response against.
 *
 * @example
 * ```ts
 * import { validateServerResponse, type ExpectedHandshake } from 'fullduplex/handshake';
 *
 * const expected: ExpectedHandshake = { key: request.key, protocols: ['chat.v2'] };
 * const verdict = validateServerResponse(head, expected);
 * ```
 */
export interface ExpectedHandshake {
  /** The `Sec-WebSocket-Key` that was sent. */
  key: string;
  /** Subprotocols offered, if any. */
  protocols?: string[];
  /** Names of the extensions offered, if any. */
  extensions?: string[];
}

/**
 * Verdict of {@link validateServerResponse}.
 *
 * @example
 * ```ts
 * import { validateServerResponse } from 'fullduplex/handshake';
 *
 * const verdict = validateServerResponse(head, { key: request.key });
 * if (verdict.ok) console.log('subprotocol:', verdict.protocol ?? 'none');
 * else console.log(verdict.error.code, verdict.error.status);
 * ```
 */
export type ClientHandshakeResult =
  | { ok: true; protocol: string | null; extensions: ExtensionOffer[] }
  | { ok: false; error: HandshakeError };

/**
 * Checks the server's response head against what we sent, in the order of RFC 6455 §4.1 ("the
 * client MUST validate the server's response as follows"): status 101, `Upgrade: websocket`,
 * `Connection: Upgrade`, the expected `Sec-WebSocket-Accept`, then any subprotocol and extensions
 * must be among those offered. The extensions' parameters are returned for their own negotiators
 * to check.
 *
 * @example
 * ```ts
 * import { computeAccept, parseResponseHead, validateServerResponse } from 'fullduplex/handshake';
 *
 * const key = 'dGhlIHNhbXBsZSBub25jZQ==';
 * const raw = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`;
 * const parsed = parseResponseHead(Buffer.from(raw));
 * if (parsed.kind === 'complete') console.log(validateServerResponse(parsed.head, { key }).ok); // true
 * ```
 */
export function validateServerResponse(head: ParsedResponseHead, expected: ExpectedHandshake): ClientHandshakeResult {
  const h = head.headers;
  const failure = (code: HandshakeErrorCode, message: string): ClientHandshakeResult => ({
    ok: false,
    error: new HandshakeError(code, message, head.status),
  });

  // §4.1 item 1: anything but 101 means no WebSocket (a redirect or auth challenge included).
  if (head.status !== 101) {
    return failure('FD_ERR_HANDSHAKE_STATUS', `Unexpected server response: ${head.status} ${head.reason}`.trimEnd());
  }
  // §4.1 item 2: |Upgrade| must be an ASCII case-insensitive match for "websocket".
  if (h.upgrade?.toLowerCase() !== 'websocket') {
    return failure('FD_ERR_HANDSHAKE_UPGRADE', `Invalid Upgrade header: ${describe(h.upgrade)}; expected websocket`);
  }
  // §4.1 item 3: |Connection| must contain the token "Upgrade", case-insensitively.
  if (!hasToken(h.connection, 'upgrade')) {
    return failure('FD_ERR_HANDSHAKE_CONNECTION', `Invalid Connection header: ${describe(h.connection)}; expected Upgrade`);
  }
  // §4.1 item 4: |Sec-WebSocket-Accept| must be base64(SHA-1(key + GUID)).
  const accept = h['sec-websocket-accept'];
  if (accept === undefined) return failure('FD_ERR_HANDSHAKE_ACCEPT', 'Sec-WebSocket-Accept header missing');
  if (accept !== computeAccept(expected.key)) return failure('FD_ERR_HANDSHAKE_ACCEPT', 'Sec-WebSocket-Accept mismatch');

  // §4.1 item 6: a subprotocol "that was not present in the client's handshake" fails. An absent
  // header is fine even if we offered some: the server declined them all.
  const protocol = h['sec-websocket-protocol'] ?? null;
  if (protocol !== null) {
    const offered = expected.protocols ?? [];
    if (offered.length === 0) {
      return failure('FD_ERR_HANDSHAKE_PROTOCOL', `Server sent subprotocol ${JSON.stringify(protocol)} but none was offered`);
    }
    if (!offered.includes(protocol)) {
      return failure('FD_ERR_HANDSHAKE_PROTOCOL', `Server sent subprotocol ${JSON.stringify(protocol)} that was not offered`);
    }
  }

  // §4.1 item 5 / §9.1: only extensions we offered, each at most once.
  let extensions: ExtensionOffer[] = [];
  const extensionHeader = h['sec-websocket-extensions'];
  if (extensionHeader !== undefined) {
    try {
      extensions = parseExtensions(extensionHeader);
    } catch (err) {
      if (!(err instanceof HeaderSyntaxError)) throw err;
      return failure('FD_ERR_HANDSHAKE_EXTENSIONS', `Invalid Sec-WebSocket-Extensions header: ${err.message}`);
    }
    const offered = expected.extensions ?? [];
    const seen = new Set<string>();
    for (const { name } of extensions) {
      if (!offered.includes(name)) {
        return failure('FD_ERR_HANDSHAKE_EXTENSIONS', `Server accepted extension ${JSON.stringify(name)} that was not offered`);
      }
      if (seen.has(name)) {
        return failure('FD_ERR_HANDSHAKE_EXTENSIONS', `Server accepted extension ${JSON.stringify(name)} more than once`);
      }
      seen.add(name);
    }
  }
  return { ok: true, protocol, extensions };
}

function describe(value: string | undefined): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}
