import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { computeAccept, isValidKey } from './accept.js';
import { isFieldValue, isToken } from './chars.js';
import type { Extension, ServerExtension } from '../frame/extension.js';
import { formatExtensions, hasToken, parseExtensions, parseExtensionsRaw, parseSubprotocols } from './tokens.js';
import type { ExtensionOffer } from './tokens.js';

/**
 * The server side of the opening handshake (RFC 6455 §4.2): request in, decision and response
 * out. Nothing here touches a socket; the caller writes {@link serializeResponse}'s bytes.
 */

/**
 * What the server needs from an upgrade request. Header names are lowercase. A
 * `ParsedRequestHead` from {@link parseRequestHead} already has this shape; use
 * {@link fromIncomingMessage} for a `node:http` request.
 *
 * @example
 * ```ts
 * import { acceptUpgrade, type UpgradeRequest } from 'fullduplex/handshake';
 *
 * const request: UpgradeRequest = {
 *   method: 'GET',
 *   target: '/chat',
 *   httpVersion: '1.1',
 *   headers: {
 *     host: 'example.com',
 *     upgrade: 'websocket',
 *     connection: 'Upgrade',
 *     'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
 *     'sec-websocket-version': '13',
 *   },
 * };
 * acceptUpgrade(request).ok; // true
 * ```
 */
export interface UpgradeRequest {
  /** Request method (`GET` for an HTTP/1.1 upgrade, `CONNECT` over HTTP/2). */
  method: string;
  /** Request target as sent, e.g. `/chat?room=1`. */
  target: string;
  /** HTTP version, e.g. `1.1` or `2.0`. */
  httpVersion: string;
  /** Header fields, lowercase names, repeated fields joined. */
  headers: Record<string, string | undefined>;
}

/**
 * An HTTP response as a plain value, so a server hook can add headers (cookies, say) or change the
 * body before it is serialized.
 *
 * @example
 * ```ts
 * import { acceptUpgrade, serializeResponse } from 'fullduplex/handshake';
 *
 * const result = acceptUpgrade(request);
 * // A plain value: add a header before it is written.
 * result.response.headers.push(['Set-Cookie', 'session=abc; HttpOnly']);
 * socket.write(serializeResponse(result.response));
 * ```
 */
export interface HandshakeResponse {
  /** HTTP status code (101 to accept). */
  status: number;
  /** Reason phrase of the status line. */
  reason: string;
  /** Header fields in order; a name may repeat (`Set-Cookie`). */
  headers: Array<[string, string]>;
  /** UTF-8 text body. `Content-Length` is computed from it by {@link serializeResponse}. */
  body?: string;
}

/**
 * Choices the server makes while accepting.
 *
 * @example
 * ```ts
 * import { acceptUpgrade, type ServerHandshakeOptions } from 'fullduplex/handshake';
 *
 * const options: ServerHandshakeOptions = {
 *   selectProtocol: (offered) => (offered.includes('chat.v2') ? 'chat.v2' : null),
 * };
 * const result = acceptUpgrade(request, options);
 * ```
 */
export interface ServerHandshakeOptions {
  /**
   * Picks a subprotocol from the client's list (called only when the list is non-empty). Return
   * `null`/`undefined` to use none; returning a name the client did not offer is a 500.
   * Without this hook no subprotocol is selected.
   */
  selectProtocol?: (offered: string[], req: UpgradeRequest) => string | null | undefined;
  /**
   * Supported extensions in order of the server's preference, which is also the order they are
   * listed in the response. Each name is accepted at most once: the first negotiator for a name
   * that accepts one of its offers wins.
   */
  extensions?: ServerExtension[];
}

/**
 * Outcome of {@link acceptUpgrade}: either a 101 to send (with what was negotiated, and the
 * client's subprotocol list for hooks that want to see it), or an error response and why.
 *
 * @example
 * ```ts
 * import { acceptUpgrade, serializeResponse } from 'fullduplex/handshake';
 *
 * const result = acceptUpgrade(request);
 * if (result.ok) {
 *   socket.write(serializeResponse(result.response)); // 101, then WebSocket frames
 * } else {
 *   console.log(result.reason); // e.g. 'Missing or invalid Sec-WebSocket-Key header'
 *   socket.end(serializeResponse(result.response)); // 400, 426, ...
 * }
 * ```
 */
export type ServerHandshakeResult =
  | {
      ok: true;
      accept: string;
      protocol: string | null;
      offeredProtocols: string[];
      extensions: ExtensionOffer[];
      /** The accepted extensions as runtime objects (from {@link ServerExtension}s), in answer order. */
      extensionObjects: Extension[];
      response: HandshakeResponse;
    }
  | { ok: false; response: HandshakeResponse; reason: string };

/**
 * What a request negotiated, independent of how it arrived (HTTP/1.1 upgrade or HTTP/2 extended
 * CONNECT): the subprotocol and the extensions, or the error response that refuses it.
 * @example
 * ```ts
 * import { negotiate, type Negotiation } from 'fullduplex/handshake';
 *
 * const result: Negotiation = negotiate(request, { selectProtocol: (offered) => (offered.includes('v2') ? 'v2' : null) });
 * if (result.ok) console.log(result.protocol, result.extensions);
 * else console.log(result.response.status, result.reason);
 * ```
 */
export type Negotiation =
  | { ok: true; protocol: string | null; offeredProtocols: string[]; extensions: ExtensionOffer[]; extensionObjects: Extension[] }
  | { ok: false; response: HandshakeResponse; reason: string };

/**
 * Outcome of {@link checkHttp1Upgrade}: the `Sec-WebSocket-Accept` value, or the refusal.
 * @example
 * ```ts
 * import { checkHttp1Upgrade, serializeResponse, type Http1Check } from 'fullduplex/handshake';
 *
 * const check: Http1Check = checkHttp1Upgrade(request);
 * if (!check.ok) socket.end(serializeResponse(check.response));
 * else console.log('Sec-WebSocket-Accept:', check.accept);
 * ```
 */
export type Http1Check = { ok: true; accept: string } | { ok: false; response: HandshakeResponse; reason: string };

/**
 * Adapts a `node:http` request (e.g. from the server's `'upgrade'` event) to an {@link UpgradeRequest}.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { acceptUpgrade, fromIncomingMessage, serializeResponse } from 'fullduplex/handshake';
 *
 * createServer().on('upgrade', (req, socket) => {
 *   const result = acceptUpgrade(fromIncomingMessage(req));
 *   if (!result.ok) socket.end(serializeResponse(result.response));
 *   // else: write the 101 and hand the socket to a WebSocketConnection
 * });
 * ```
 */
export function fromIncomingMessage(req: IncomingMessage): UpgradeRequest {
  const headers: Record<string, string | undefined> = Object.create(null);
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { method: req.method ?? '', target: req.url ?? '', httpVersion: req.httpVersion, headers };
}

/**
 * Validates an upgrade request and, if it is acceptable, negotiates subprotocol and extensions
 * and builds the 101 response (RFC 6455 §4.2.1, §4.2.2): {@link checkHttp1Upgrade} then
 * {@link negotiate}. Checks run in the order `ws` uses, and the first failure decides the
 * response; its `reason` names the offending header.
 *
 * @example
 * ```ts
 * import { acceptUpgrade, parseRequestHead, serializeResponse } from 'fullduplex/handshake';
 *
 * const parsed = parseRequestHead(received);
 * if (parsed.kind === 'complete') {
 *   const result = acceptUpgrade(parsed.head, { selectProtocol: (offered) => offered[0] ?? null });
 *   socket.write(serializeResponse(result.response));
 *   if (!result.ok) socket.end();
 * }
 * ```
 */
export function acceptUpgrade(req: UpgradeRequest, options: ServerHandshakeOptions = {}): ServerHandshakeResult {
  const check = checkHttp1Upgrade(req);
  if (!check.ok) return check;
  const negotiation = negotiate(req, options);
  if (!negotiation.ok) return negotiation;
  const headers: Array<[string, string]> = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', check.accept],
    ...negotiationHeaders(negotiation),
  ];
  const response: HandshakeResponse = { status: 101, reason: 'Switching Protocols', headers };
  return { ...negotiation, accept: check.accept, response };
}

/**
 * The HTTP/1.1 half of the server handshake (RFC 6455 §4.2.1 items 1–6): method, version, Host,
 * Upgrade, Connection, key and version. Returns the `Sec-WebSocket-Accept` value, or the refusal.
 *
 * @example
 * ```ts
 * const check = checkHttp1Upgrade(request);
 * if (!check.ok) socket.end(serializeResponse(check.response));
 * ```
 */
export function checkHttp1Upgrade(req: UpgradeRequest): Http1Check {
  const h = req.headers;
  const reject = (status: number, reason: string, extra?: Record<string, string>): Http1Check => ({
    ok: false,
    response: rejectResponse(status, reason, extra),
    reason,
  });

  // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
  if (req.method !== 'GET') return reject(405, `Invalid HTTP method ${req.method}; expected GET`, { Allow: 'GET' });
  if (!isAtLeast11(req.httpVersion)) return reject(400, `Invalid HTTP version ${req.httpVersion}; expected 1.1 or higher`);
  // §4.2.1 item 2: a |Host| header field.
  if (h.host === undefined || h.host.trim() === '') return reject(400, 'Missing Host header');
  // §4.2.1 item 3: |Upgrade| containing "websocket", case-insensitively.
  if (!hasToken(h.upgrade, 'websocket')) return reject(400, 'Missing or invalid Upgrade header; expected websocket');
  // §4.2.1 item 4: |Connection| including the token "Upgrade", case-insensitively.
  if (!hasToken(h.connection, 'upgrade')) return reject(400, 'Missing or invalid Connection header; expected Upgrade');
  // §4.2.1 item 5: |Sec-WebSocket-Key| that base64-decodes to 16 bytes.
  const key = h['sec-websocket-key'];
  if (key === undefined || !isValidKey(key)) return reject(400, 'Missing or invalid Sec-WebSocket-Key header');
  // §4.2.1 item 6 and §4.2.2 item 4: a version we do not speak gets 426 plus the versions we do.
  // RFC 9110 §15.5.22 requires Upgrade on a 426, and §7.8 the matching Connection option.
  if (h['sec-websocket-version'] !== '13') {
    return reject(426, 'Missing or unsupported Sec-WebSocket-Version header; expected 13', {
      'Sec-WebSocket-Version': '13',
      Upgrade: 'websocket',
      Connection: 'Upgrade, close',
    });
  }
  return { ok: true, accept: computeAccept(key) };
}

/**
 * The transport-independent half of the server handshake: the subprotocol (§4.2.1 item 8,
 * §4.2.2 item 5.4) and the extensions (§4.2.1 item 9, §9.1). Shared by the HTTP/1.1 upgrade and
 * HTTP/2's extended CONNECT (RFC 8441 §5), which carry the same headers.
 *
 * @example
 * ```ts
 * import { negotiate } from 'fullduplex/handshake';
 * import { permessageDeflate } from 'fullduplex';
 *
 * const result = negotiate(request, { extensions: [permessageDeflate()], selectProtocol: (offered) => offered[0] });
 * if (result.ok) console.log(result.protocol, result.extensions);
 * ```
 */
export function negotiate(req: UpgradeRequest, options: ServerHandshakeOptions = {}): Negotiation {
  const h = req.headers;
  const reject = (status: number, reason: string): Negotiation => ({ ok: false, response: rejectResponse(status, reason), reason });

  let protocol: string | null = null;
  let offered: string[] = [];
  const protocolHeader = h['sec-websocket-protocol'];
  if (protocolHeader !== undefined) {
    try {
      offered = parseSubprotocols(protocolHeader);
    } catch (err) {
      return reject(400, `Invalid Sec-WebSocket-Protocol header: ${(err as Error).message}`);
    }
    const chosen = options.selectProtocol?.(offered, req);
    if (chosen != null) {
      if (!offered.includes(chosen)) return reject(500, `Selected subprotocol ${JSON.stringify(chosen)} was not offered`);
      protocol = chosen;
    }
  }

  const extensions: ExtensionOffer[] = [];
  const extensionObjects: Extension[] = [];
  const extensionHeader = h['sec-websocket-extensions'];
  const negotiators = options.extensions ?? [];
  if (extensionHeader !== undefined && negotiators.length > 0) {
    let offers: ReturnType<typeof parseExtensionsRaw>;
    try {
      offers = parseExtensionsRaw(extensionHeader);
    } catch (err) {
      return reject(400, `Invalid Sec-WebSocket-Extensions header: ${(err as Error).message}`);
    }
    for (const negotiator of negotiators) {
      if (extensions.some((e) => e.name === negotiator.name)) continue;
      const mine = offers.filter((o) => o.name === negotiator.name).map((o) => o.params);
      if (mine.length === 0) continue;
      let accepted: { params: Record<string, string | true>; extension: Extension } | null;
      try {
        accepted = negotiator.negotiate(mine);
      } catch (err) {
        return reject(400, `Unacceptable Sec-WebSocket-Extensions offer for ${negotiator.name}: ${(err as Error).message}`);
      }
      if (!accepted) continue;
      extensions.push({ name: negotiator.name, params: accepted.params });
      extensionObjects.push(accepted.extension);
    }
  } else if (extensionHeader !== undefined) {
    // Nothing to negotiate, but a malformed header is still the client's error (ws answers 400).
    try {
      parseExtensions(extensionHeader);
    } catch (err) {
      return reject(400, `Invalid Sec-WebSocket-Extensions header: ${(err as Error).message}`);
    }
  }
  return { ok: true, protocol, offeredProtocols: offered, extensions, extensionObjects };
}

/**
 * The response headers that announce a negotiation's outcome.
 *
 * @example
 * ```ts
 * negotiationHeaders({ protocol: 'chat', extensions: [] }); // [['Sec-WebSocket-Protocol', 'chat']]
 * ```
 */
export function negotiationHeaders(negotiation: { protocol: string | null; extensions: readonly ExtensionOffer[] }): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  if (negotiation.protocol !== null) headers.push(['Sec-WebSocket-Protocol', negotiation.protocol]);
  if (negotiation.extensions.length > 0) headers.push(['Sec-WebSocket-Extensions', formatExtensions(negotiation.extensions)]);
  return headers;
}

/** `major.minor` at least 1.1; anything else, unparsable included, is not. */
function isAtLeast11(version: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})$/.exec(version); // anchored and bounded: no backtracking
  if (m === null) return false;
  const major = Number(m[1]);
  return major > 1 || (major === 1 && Number(m[2]) >= 1);
}

/**
 * An error response for refusing an upgrade, from the handshake itself or from a server hook
 * (401, 403, 404, 503...). It closes the connection, since after a refused upgrade the socket is
 * in no state worth reusing, and carries `message` (default: the status text) as a plain-text
 * body. `extraHeaders` are added, replacing defaults of the same name.
 *
 * @example
 * ```ts
 * import { rejectResponse, serializeResponse } from 'fullduplex/handshake';
 *
 * const response = rejectResponse(401, 'Token required', { 'WWW-Authenticate': 'Bearer' });
 * socket.end(serializeResponse(response));
 * ```
 */
export function rejectResponse(
  status: 400 | 401 | 403 | 404 | 405 | 426 | 431 | 500 | 503 | number,
  message?: string,
  extraHeaders: Record<string, string> | Array<[string, string]> = [],
): HandshakeResponse {
  const reason = STATUS_CODES[status] ?? 'Unknown';
  const body = message ?? reason;
  const headers: Array<[string, string]> = [
    ['Connection', 'close'],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(Buffer.byteLength(body))],
  ];
  const extra = Array.isArray(extraHeaders) ? extraHeaders : Object.entries(extraHeaders);
  for (const [name, value] of extra) {
    const at = headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
    if (at >= 0) headers[at] = [name, value];
    else headers.push([name, value]);
  }
  return { status, reason, headers, body };
}

/**
 * The exact bytes of a response head (and body, if any). Because the response may have been
 * edited by user code, everything is validated so nothing can smuggle a CR or LF into the
 * stream, and `Content-Length` is recomputed from the body.
 *
 * @throws {TypeError} on a status outside 100-999, a non-token header name, a value or reason with
 * characters not allowed in a header, or a body on a 1xx response.
 *
 * @example
 * ```ts
 * import { rejectResponse, serializeResponse } from 'fullduplex/handshake';
 *
 * serializeResponse(rejectResponse(404)).toString().split('\r\n')[0]; // 'HTTP/1.1 404 Not Found'
 * ```
 */
export function serializeResponse(res: HandshakeResponse): Buffer {
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 999) {
    throw new TypeError(`invalid status code ${res.status}`);
  }
  if (!isFieldValue(res.reason)) throw new TypeError(`invalid reason phrase ${JSON.stringify(res.reason)}`);
  const body = res.body === undefined ? undefined : Buffer.from(res.body, 'utf8');
  if (body !== undefined && res.status < 200) throw new TypeError(`a ${res.status} response cannot have a body`);
  let head = `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  let wroteLength = false;
  for (const [name, value] of res.headers) {
    if (!isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (!isFieldValue(value)) throw new TypeError(`invalid value for header ${name}`);
    if (body !== undefined && name.toLowerCase() === 'content-length') {
      if (!wroteLength) head += `${name}: ${body.length}\r\n`;
      wroteLength = true;
      continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (body !== undefined && !wroteLength) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  const bytes = Buffer.from(head, 'latin1');
  return body === undefined ? bytes : Buffer.concat([bytes, body]);
}
