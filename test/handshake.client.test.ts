import { describe, expect, it } from 'vitest';
import { computeAccept, isValidKey } from '../src/handshake/accept.js';
import {
  buildClientRequest,
  HandshakeError,
  validateServerResponse,
} from '../src/handshake/client.js';
import type { ExpectedHandshake, HandshakeErrorCode } from '../src/handshake/client.js';
import { parseRequestHead, parseResponseHead } from '../src/handshake/http-head.js';
import type { ParsedResponseHead } from '../src/handshake/http-head.js';
import { acceptUpgrade, serializeResponse } from '../src/handshake/server.js';
import type { Extension, ServerExtension } from '../src/frame/extension.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

describe('buildClientRequest', () => {
  it('builds the RFC 6455 §1.2 sample request byte for byte', () => {
    const { key, head, bytes } = buildClientRequest({
      url: 'ws://server.example.com/chat',
      key: KEY,
      protocols: ['chat', 'superchat'],
      origin: 'http://example.com',
    });
    expect(key).toBe(KEY);
    expect(head).toBe(
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'Origin: http://example.com\r\n' +
        '\r\n',
    );
    expect(bytes).toEqual(Buffer.from(head, 'latin1'));
  });

  it('generates a fresh valid key when none is given', () => {
    const a = buildClientRequest({ url: 'ws://a/' });
    const b = buildClientRequest({ url: 'ws://a/' });
    expect(isValidKey(a.key)).toBe(true);
    expect(a.key).not.toBe(b.key);
    expect(a.head).toContain(`\r\nSec-WebSocket-Key: ${a.key}\r\n`);
  });

  it.each<[string, string, string]>([
    ['ws://example.com', '/', 'example.com'],
    ['ws://example.com:80/chat', '/chat', 'example.com'],
    ['ws://example.com:8080/chat', '/chat', 'example.com:8080'],
    ['ws://example.com:443/', '/', 'example.com:443'],
    ['wss://example.com:443/a/b?x=1&y=%20z', '/a/b?x=1&y=%20z', 'example.com'],
    ['wss://example.com:80/', '/', 'example.com:80'],
    ['wss://example.com:8443/?', '/?', 'example.com:8443'],
    ['http://example.com:80/p?q', '/p?q', 'example.com'],
    ['https://example.com/p', '/p', 'example.com'],
    ['http://example.com:443/', '/', 'example.com:443'],
    ['ws://[::1]:9000/x', '/x', '[::1]:9000'],
    ['ws://[::1]/x', '/x', '[::1]'],
    ['ws://EXAMPLE.com/Path', '/Path', 'example.com'],
    ['ws://bücher.example/', '/', 'xn--bcher-kva.example'],
    ['ws://example.com/a b', '/a%20b', 'example.com'],
  ])('%s → GET %s, Host %s', (url, target, host) => {
    const { head } = buildClientRequest({ url, key: KEY });
    expect(head.startsWith(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n`)).toBe(true);
  });

  it('accepts a URL object', () => {
    expect(buildClientRequest({ url: new URL('wss://h:1/x?y'), key: KEY }).head).toMatch(/^GET \/x\?y HTTP\/1\.1\r\nHost: h:1\r\n/);
  });

  it('sends URL credentials as Basic authorization, never in the request line', () => {
    const { head } = buildClientRequest({ url: 'ws://us%20er:p%40ss@h/x', key: KEY });
    expect(head).toContain(`\r\nAuthorization: Basic ${Buffer.from('us er:p@ss').toString('base64')}\r\n`);
    expect(head).not.toContain('p%40ss');
    const overridden = buildClientRequest({ url: 'ws://u:p@h/', key: KEY, headers: { Authorization: 'Bearer t' } });
    expect(overridden.head).toContain('\r\nAuthorization: Bearer t\r\n');
    expect(overridden.head).not.toContain('Basic');
  });

  it('adds extensions and extra headers; Host and Origin may be overridden', () => {
    const { head } = buildClientRequest({
      url: 'ws://h/',
      key: KEY,
      extensions: [
        { name: 'permessage-deflate', params: { client_max_window_bits: true } },
        { name: 'permessage-deflate', params: {} },
      ],
      origin: 'https://a.example',
      headers: { 'X-Trace': 'abc', host: 'virtual.example', Origin: 'https://b.example' },
    });
    expect(head).toContain('\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate\r\n');
    expect(head).toContain('\r\nX-Trace: abc\r\n');
    expect(head).toMatch(/^GET \/ HTTP\/1\.1\r\nhost: virtual\.example\r\n/);
    expect(head).toContain('\r\nOrigin: https://b.example\r\n');
    expect(head).not.toContain('a.example');
  });

  it.each<[string, Parameters<typeof buildClientRequest>[0], HandshakeErrorCode]>([
    ['ftp: scheme', { url: 'ftp://h/' }, 'FD_ERR_INVALID_URL'],
    ['file: scheme', { url: 'file:///x' }, 'FD_ERR_INVALID_URL'],
    ['unparsable URL', { url: 'not a url' }, 'FD_ERR_INVALID_URL'],
    ['fragment (RFC 6455 §3)', { url: 'ws://h/x#frag' }, 'FD_ERR_INVALID_URL'],
    ['empty fragment', { url: 'ws://h/x#' }, 'FD_ERR_INVALID_URL'],
    ['broken percent-encoding in credentials', { url: 'ws://u%zz:p@h/' }, 'FD_ERR_INVALID_URL'],
    ['invalid key', { url: 'ws://h/', key: 'short' }, 'FD_ERR_INVALID_OPTION'],
    ['subprotocol with a space', { url: 'ws://h/', protocols: ['a b'] }, 'FD_ERR_INVALID_OPTION'],
    ['subprotocol with CRLF', { url: 'ws://h/', protocols: ['a\r\nX: y'] }, 'FD_ERR_INVALID_OPTION'],
    ['duplicate subprotocols (RFC 6455 §4.1 item 10)', { url: 'ws://h/', protocols: ['a', 'a'] }, 'FD_ERR_INVALID_OPTION'],
    ['extension value with CRLF', { url: 'ws://h/', extensions: [{ name: 'x', params: { a: '\r\n' } }] }, 'FD_ERR_INVALID_OPTION'],
    ['CRLF in origin', { url: 'ws://h/', origin: 'http://a\r\nX-Injected: 1' }, 'FD_ERR_INVALID_OPTION'],
    ['LF in a header value', { url: 'ws://h/', headers: { 'X-A': 'a\nX-Injected: 1' } }, 'FD_ERR_INVALID_OPTION'],
    ['CR in a header value', { url: 'ws://h/', headers: { 'X-A': 'a\rb' } }, 'FD_ERR_INVALID_OPTION'],
    ['CRLF in a header name', { url: 'ws://h/', headers: { 'X-A\r\nX-Injected': '1' } }, 'FD_ERR_INVALID_OPTION'],
    ['colon in a header name', { url: 'ws://h/', headers: { 'X-A:': '1' } }, 'FD_ERR_INVALID_OPTION'],
    ['non-latin1 header value', { url: 'ws://h/', headers: { 'X-A': '€' } }, 'FD_ERR_INVALID_OPTION'],
    ['overriding Sec-WebSocket-Key', { url: 'ws://h/', headers: { 'Sec-WebSocket-Key': KEY } }, 'FD_ERR_INVALID_OPTION'],
    ['overriding Upgrade', { url: 'ws://h/', headers: { upgrade: 'h2c' } }, 'FD_ERR_INVALID_OPTION'],
  ])('rejects %s', (_name, options, code) => {
    let error: unknown;
    try {
      buildClientRequest(options);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe(code);
  });
});

/** A valid 101 head for KEY, with header changes (`undefined` removes one). */
function response(changes: { status?: number; reason?: string; headers?: Record<string, string | undefined> } = {}): ParsedResponseHead {
  const headers: Record<string, string> = Object.create(null);
  const all: Record<string, string | undefined> = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': ACCEPT,
    ...changes.headers,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) headers[k] = v;
  return {
    httpVersion: '1.1',
    status: changes.status ?? 101,
    reason: changes.reason ?? 'Switching Protocols',
    headers,
    rawHeaders: Object.entries(headers),
  };
}

describe('validateServerResponse', () => {
  const expected: ExpectedHandshake = { key: KEY, protocols: ['chat', 'superchat'], extensions: ['permessage-deflate'] };

  it('accepts a plain 101', () => {
    expect(validateServerResponse(response(), { key: KEY })).toEqual({ ok: true, protocol: null, extensions: [] });
  });

  it.each<[string, Record<string, string>]>([
    ['Upgrade in any case', { upgrade: 'WebSocket' }],
    ['Connection in any case', { connection: 'upgrade' }],
    ['Connection as a list', { connection: 'keep-alive, Upgrade' }],
    ['no subprotocol though some were offered (the server declined)', {}],
  ])('accepts %s', (_name, headers) => {
    expect(validateServerResponse(response({ headers }), expected).ok).toBe(true);
  });

  it('returns the selected subprotocol and extensions', () => {
    const result = validateServerResponse(
      response({ headers: { 'sec-websocket-protocol': 'superchat', 'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=10' } }),
      expected,
    );
    expect(result).toEqual({
      ok: true,
      protocol: 'superchat',
      extensions: [{ name: 'permessage-deflate', params: { server_max_window_bits: '10' } }],
    });
  });

  type Row = [rule: string, head: ParsedResponseHead, expected: ExpectedHandshake, code: HandshakeErrorCode, message: RegExp];
  it.each<Row>([
    ['§4.1 (1) status must be 101: 404', response({ status: 404, reason: 'Not Found' }), expected, 'FD_ERR_HANDSHAKE_STATUS', /^Unexpected server response: 404 Not Found$/],
    ['§4.1 (1) status must be 101: 200', response({ status: 200, reason: 'OK' }), expected, 'FD_ERR_HANDSHAKE_STATUS', /^Unexpected server response: 200 OK$/],
    ['§4.1 (1) status must be 101: empty reason', response({ status: 302, reason: '' }), expected, 'FD_ERR_HANDSHAKE_STATUS', /^Unexpected server response: 302$/],
    ['§4.1 (2) Upgrade missing', response({ headers: { upgrade: undefined } }), expected, 'FD_ERR_HANDSHAKE_UPGRADE', /Upgrade header: missing/],
    ['§4.1 (2) Upgrade must be websocket', response({ headers: { upgrade: 'h2c' } }), expected, 'FD_ERR_HANDSHAKE_UPGRADE', /Upgrade header: "h2c"/],
    ['§4.1 (2) Upgrade must be exactly websocket', response({ headers: { upgrade: 'websocket, h2c' } }), expected, 'FD_ERR_HANDSHAKE_UPGRADE', /Upgrade/],
    ['§4.1 (3) Connection missing', response({ headers: { connection: undefined } }), expected, 'FD_ERR_HANDSHAKE_CONNECTION', /Connection header: missing/],
    ['§4.1 (3) Connection must contain Upgrade', response({ headers: { connection: 'close' } }), expected, 'FD_ERR_HANDSHAKE_CONNECTION', /Connection header: "close"/],
    ['§4.1 (4) Sec-WebSocket-Accept missing', response({ headers: { 'sec-websocket-accept': undefined } }), expected, 'FD_ERR_HANDSHAKE_ACCEPT', /Sec-WebSocket-Accept header missing/],
    ['§4.1 (4) Sec-WebSocket-Accept mismatch', response({ headers: { 'sec-websocket-accept': computeAccept('AAAAAAAAAAAAAAAAAAAAAA==') } }), expected, 'FD_ERR_HANDSHAKE_ACCEPT', /^Sec-WebSocket-Accept mismatch$/],
    ['§4.1 (4) Sec-WebSocket-Accept is case-sensitive', response({ headers: { 'sec-websocket-accept': ACCEPT.toLowerCase() } }), expected, 'FD_ERR_HANDSHAKE_ACCEPT', /mismatch/],
    ['§4.1 (6) subprotocol not offered', response({ headers: { 'sec-websocket-protocol': 'other' } }), expected, 'FD_ERR_HANDSHAKE_PROTOCOL', /"other" that was not offered/],
    ['§4.1 (6) subprotocol when none offered', response({ headers: { 'sec-websocket-protocol': 'chat' } }), { key: KEY }, 'FD_ERR_HANDSHAKE_PROTOCOL', /"chat" but none was offered/],
    ['§4.1 (6) more than one subprotocol', response({ headers: { 'sec-websocket-protocol': 'chat, superchat' } }), expected, 'FD_ERR_HANDSHAKE_PROTOCOL', /not offered/],
    ['§4.1 (6) subprotocol case matters', response({ headers: { 'sec-websocket-protocol': 'Chat' } }), expected, 'FD_ERR_HANDSHAKE_PROTOCOL', /"Chat"/],
    ['§4.1 (5) extension not offered', response({ headers: { 'sec-websocket-extensions': 'x-other' } }), expected, 'FD_ERR_HANDSHAKE_EXTENSIONS', /"x-other" that was not offered/],
    ['§4.1 (5) extension when none offered', response({ headers: { 'sec-websocket-extensions': 'permessage-deflate' } }), { key: KEY }, 'FD_ERR_HANDSHAKE_EXTENSIONS', /"permessage-deflate" that was not offered/],
    ['§4.1 (5) extension accepted twice', response({ headers: { 'sec-websocket-extensions': 'permessage-deflate, permessage-deflate' } }), expected, 'FD_ERR_HANDSHAKE_EXTENSIONS', /more than once/],
    ['§9.1 malformed extensions', response({ headers: { 'sec-websocket-extensions': 'permessage-deflate;' } }), expected, 'FD_ERR_HANDSHAKE_EXTENSIONS', /Invalid Sec-WebSocket-Extensions/],
  ])('%s', (_rule, head, exp, code, message) => {
    const result = validateServerResponse(head, exp);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(HandshakeError);
    expect(result.error).toBeInstanceOf(Error);
    expect(result.error.name).toBe('HandshakeError');
    expect(result.error.code).toBe(code);
    expect(result.error.message).toMatch(message);
    expect(result.error.status).toBe(head.status);
  });
});

describe('full round trip, bytes to bytes', () => {
  it('buildClientRequest → parseRequestHead → acceptUpgrade → serializeResponse → parseResponseHead → validateServerResponse', () => {
    const request = buildClientRequest({
      url: 'wss://chat.example:8443/room/42?token=abc',
      protocols: ['v2.chat', 'v1.chat'],
      extensions: [{ name: 'permessage-deflate', params: { client_max_window_bits: true } }],
      origin: 'https://chat.example',
    });
    // A WebSocket frame the client pipelined right behind its request.
    const frame = Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]);
    const parsedRequest = parseRequestHead(Buffer.concat([request.bytes, frame]));
    expect(parsedRequest.kind).toBe('complete');
    if (parsedRequest.kind !== 'complete') return;
    expect(parsedRequest.head.target).toBe('/room/42?token=abc');
    expect(parsedRequest.head.headers.host).toBe('chat.example:8443');
    expect(parsedRequest.bytesConsumed).toBe(request.bytes.length);

    const extension: Extension = { name: 'permessage-deflate', rsvBits: 4, decode: (p) => p, encode: (payload) => ({ payload, rsv: 0 }), dispose: () => {} };
    const deflate: ServerExtension = {
      name: 'permessage-deflate',
      negotiate: (offers) => ({
        params: offers[0]!.some(([name]) => name === 'client_max_window_bits') ? { client_max_window_bits: '12' } : ({} as Record<string, string>),
        extension,
      }),
    };
    const accepted = acceptUpgrade(parsedRequest.head, {
      selectProtocol: (offered) => offered.find((p) => p === 'v1.chat'),
      extensions: [deflate],
    });
    expect(accepted.ok).toBe(true);
    if (!accepted.ok) return;

    const wire = Buffer.concat([serializeResponse(accepted.response), Buffer.from([0x81, 0x00])]);
    const parsedResponse = parseResponseHead(wire);
    expect(parsedResponse.kind).toBe('complete');
    if (parsedResponse.kind !== 'complete') return;
    expect(wire.subarray(parsedResponse.bytesConsumed)).toEqual(Buffer.from([0x81, 0x00]));

    const verdict = validateServerResponse(parsedResponse.head, {
      key: request.key,
      protocols: ['v2.chat', 'v1.chat'],
      extensions: ['permessage-deflate'],
    });
    expect(verdict).toEqual({
      ok: true,
      protocol: 'v1.chat',
      extensions: [{ name: 'permessage-deflate', params: { client_max_window_bits: '12' } }],
    });
  });

  it('detects a server that answers for a different key', () => {
    const request = buildClientRequest({ url: 'ws://h/' });
    const other = buildClientRequest({ url: 'ws://h/' });
    const parsed = parseRequestHead(other.bytes);
    if (parsed.kind !== 'complete') throw new Error('expected complete');
    const accepted = acceptUpgrade(parsed.head);
    if (!accepted.ok) throw new Error('expected ok');
    const response = parseResponseHead(serializeResponse(accepted.response));
    if (response.kind !== 'complete') throw new Error('expected complete');
    const verdict = validateServerResponse(response.head, { key: request.key });
    expect(verdict.ok === false && verdict.error.code).toBe('FD_ERR_HANDSHAKE_ACCEPT');
  });

  it('carries a refusal through to a status error', () => {
    const parsed = parseRequestHead(buildClientRequest({ url: 'ws://h/' }).bytes);
    if (parsed.kind !== 'complete') throw new Error('expected complete');
    const refused = acceptUpgrade({ ...parsed.head, headers: { ...parsed.head.headers, 'sec-websocket-version': '12' } });
    if (refused.ok) throw new Error('expected refusal');
    const response = parseResponseHead(serializeResponse(refused.response));
    if (response.kind !== 'complete') throw new Error('expected complete');
    expect(response.head.headers['sec-websocket-version']).toBe('13');
    const verdict = validateServerResponse(response.head, { key: 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(verdict.ok === false && verdict.error).toMatchObject({
      code: 'FD_ERR_HANDSHAKE_STATUS',
      status: 426,
      message: 'Unexpected server response: 426 Upgrade Required',
    });
  });
});
