import { isFieldValue, isToken } from './chars.js';
import { rejectResponse, type HandshakeResponse, type UpgradeRequest } from './server.js';

/**
 * The HTTP/2 half of the server handshake: RFC 8441 extended CONNECT (WebSockets over HTTP/2).
 * A pure decision on a request's header block, and the conversion of a response value to an
 * HTTP/2 header block. The subprotocol and extensions are negotiated exactly as on HTTP/1.1
 * (`negotiate()` in server.ts), since RFC 8441 §5 keeps those headers unchanged.
 */

/**
 * An HTTP/2 request header block as `node:http2` hands it over: pseudo-headers (`:method`,
 * `:protocol`, `:scheme`, `:path`, `:authority`) and lowercase regular headers.
 * @example
 * ```ts
 * import type { Http2RequestHeaders } from 'fullduplex/handshake';
 *
 * const headers: Http2RequestHeaders = {
 *   ':method': 'CONNECT',
 *   ':protocol': 'websocket',
 *   ':scheme': 'https',
 *   ':path': '/chat',
 *   ':authority': 'example.com',
 *   'sec-websocket-version': '13',
 * };
 * ```
 */
export type Http2RequestHeaders = Readonly<Record<string, string | string[] | number | undefined>>;

/**
 * Outcome of {@link checkExtendedConnect}: the request as the rest of the handshake sees it, or the refusal.
 * @example
 * ```ts
 * import { checkExtendedConnect, http2ResponseHeaders, type Http2Check } from 'fullduplex/handshake';
 *
 * const check: Http2Check = checkExtendedConnect(headers, { connectProtocolEnabled: true });
 * if (check.ok) console.log(check.request.target);
 * else stream.respond(http2ResponseHeaders(check.response), { endStream: true }); // check.reason says why
 * ```
 */
export type Http2Check =
  | { ok: true; request: UpgradeRequest }
  | { ok: false; response: HandshakeResponse; reason: string };

/**
 * What the server itself advertised, which changes what a request may carry.
 * @example
 * ```ts
 * import { checkExtendedConnect, type ExtendedConnectContext } from 'fullduplex/handshake';
 *
 * // node:http2 servers created with settings: { enableConnectProtocol: true } sent the setting.
 * const context: ExtendedConnectContext = { connectProtocolEnabled: true };
 * const check = checkExtendedConnect(headers, context);
 * ```
 */
export interface ExtendedConnectContext {
  /**
   * Whether SETTINGS_ENABLE_CONNECT_PROTOCOL was sent on this connection. Without it `:protocol`
   * is not allowed (RFC 8441 §3), and the request is refused.
   */
  connectProtocolEnabled: boolean;
}

/**
 * Headers that are HTTP/1.1 connection management: RFC 9113 §8.2.2 makes a request carrying any
 * of them malformed, and RFC 8441 §5 replaces `Upgrade`/`Connection` by `:protocol`.
 */
const CONNECTION_SPECIFIC = ['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding'] as const;

/**
 * Validates an HTTP/2 extended CONNECT for a WebSocket (RFC 8441 §4–5). The first failure
 * decides the answer:
 *
 * - `:method` other than CONNECT → 405 (`Allow: CONNECT`);
 * - no `:protocol` (a plain CONNECT: we are no proxy) → 400;
 * - `:protocol` sent although SETTINGS_ENABLE_CONNECT_PROTOCOL was not (§3) → 400;
 * - `:protocol` other than `websocket` → 400;
 * - `:scheme`, `:path` or `:authority` missing (§4) → 400;
 * - a connection-specific header (`Connection`, `Upgrade`, …; RFC 9113 §8.2.2) → 400;
 * - `Sec-WebSocket-Key` or `Sec-WebSocket-Accept` (not used over HTTP/2, §5) → 400;
 * - `Sec-WebSocket-Version` other than 13 → 426 with `Sec-WebSocket-Version: 13` (RFC 6455 §4.4).
 *
 * On success, returns the request as an {@link UpgradeRequest} (`method` CONNECT, `target` the
 * `:path`, `httpVersion` 2.0, `host` set from `:authority`), for `negotiate()` and the hooks.
 *
 * @example
 * ```ts
 * import { checkExtendedConnect } from 'fullduplex/handshake';
 *
 * const check = checkExtendedConnect(headers, { connectProtocolEnabled: true });
 * if (!check.ok) stream.respond(http2ResponseHeaders(check.response), { endStream: true });
 * ```
 */
export function checkExtendedConnect(headers: Http2RequestHeaders, context: ExtendedConnectContext): Http2Check {
  const reject = (status: number, reason: string, extra?: Record<string, string>): Http2Check => ({
    ok: false,
    response: rejectResponse(status, reason, extra),
    reason,
  });
  const method = single(headers[':method']);
  if (method !== 'CONNECT') return reject(405, `Invalid method ${method ?? '(none)'}; WebSockets over HTTP/2 use CONNECT`, { Allow: 'CONNECT' });
  const protocol = single(headers[':protocol']);
  if (protocol === undefined) return reject(400, 'CONNECT without :protocol; this endpoint only accepts :protocol websocket');
  if (!context.connectProtocolEnabled) return reject(400, ':protocol sent without SETTINGS_ENABLE_CONNECT_PROTOCOL');
  if (protocol !== 'websocket') return reject(400, `Unsupported :protocol ${JSON.stringify(protocol)}; expected websocket`);
  for (const pseudo of [':scheme', ':path', ':authority'] as const) {
    const value = single(headers[pseudo]);
    if (value === undefined || value === '') return reject(400, `Extended CONNECT without ${pseudo}`);
  }
  for (const name of CONNECTION_SPECIFIC) {
    if (headers[name] !== undefined) return reject(400, `Connection-specific header ${name} is not allowed in HTTP/2`);
  }
  if (headers['sec-websocket-key'] !== undefined) return reject(400, 'Sec-WebSocket-Key is not used over HTTP/2 (RFC 8441 §5)');
  if (headers['sec-websocket-accept'] !== undefined) return reject(400, 'Sec-WebSocket-Accept is not used over HTTP/2 (RFC 8441 §5)');
  if (single(headers['sec-websocket-version']) !== '13') {
    return reject(426, 'Missing or unsupported Sec-WebSocket-Version header; expected 13', { 'Sec-WebSocket-Version': '13' });
  }
  return { ok: true, request: fromHttp2Headers(headers) };
}

/**
 * The request as an {@link UpgradeRequest}: regular headers joined as HTTP/1.1 would (`, `,
 * cookies with `; ` per RFC 9113 §8.2.3), `host` from `:authority` when absent, pseudo-headers
 * left out.
 * @example
 * ```ts
 * import { fromHttp2Headers } from 'fullduplex/handshake';
 *
 * const request = fromHttp2Headers({ ':method': 'CONNECT', ':path': '/chat', ':authority': 'example.com', cookie: ['a=1', 'b=2'] });
 * // { method: 'CONNECT', target: '/chat', httpVersion: '2.0', headers: { cookie: 'a=1; b=2', host: 'example.com' } }
 * ```
 */
export function fromHttp2Headers(headers: Http2RequestHeaders): UpgradeRequest {
  const plain: Record<string, string | undefined> = Object.create(null);
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    plain[name] = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : String(value);
  }
  const authority = single(headers[':authority']);
  if (plain.host === undefined && authority !== undefined) plain.host = authority;
  return { method: single(headers[':method']) ?? '', target: single(headers[':path']) ?? '', httpVersion: '2.0', headers: plain };
}

/**
 * The header block of an HTTP/2 answer for a response value (the accepting 200, or a refusal):
 * `:status`, names lowercased, HTTP/1.1 connection-specific headers (`Connection`, `Upgrade`, …)
 * dropped since HTTP/2 forbids them, `content-length` recomputed from the body, repeated names
 * (`Set-Cookie`) kept as lists. Values are validated as `serializeResponse` does, so an edited
 * response cannot smuggle anything.
 *
 * @throws {TypeError} on an invalid status, header name or value.
 *
 * @example
 * ```ts
 * http2ResponseHeaders(rejectResponse(404)); // { ':status': 404, 'content-type': 'text/plain; charset=utf-8', 'content-length': '9' }
 * ```
 */
export function http2ResponseHeaders(response: HandshakeResponse): Record<string, string | string[] | number> {
  if (!Number.isInteger(response.status) || response.status < 200 || response.status > 999) {
    // 1xx cannot end an HTTP/2 request; a 101 makes no sense here.
    throw new TypeError(`invalid status code ${response.status} for HTTP/2`);
  }
  const out: Record<string, string | string[] | number> = { ':status': response.status };
  for (const [rawName, value] of response.headers) {
    if (!isToken(rawName)) throw new TypeError(`invalid header name ${JSON.stringify(rawName)}`);
    if (!isFieldValue(value)) throw new TypeError(`invalid value for header ${rawName}`);
    const name = rawName.toLowerCase();
    if ((CONNECTION_SPECIFIC as readonly string[]).includes(name) || name === 'content-length') continue;
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else out[name] = Array.isArray(previous) ? [...previous, value] : [String(previous), value];
  }
  if (response.body !== undefined) out['content-length'] = String(Buffer.byteLength(response.body));
  return out;
}

function single(value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : String(value);
}
