/**
 * RFC 8441 request validation: the pure check (src/handshake/h2.ts) case by case, the HTTP/2
 * response header conversion, and the same cases on the wire against our server — sent by
 * `node:http2`'s client where it lets us, and as hand-written frames where it refuses (malformed
 * requests, which nghttp2 resets with PROTOCOL_ERROR before our code sees them, as RFC 9113 §8.1.1
 * requires). Admission (path, verify, subprotocol, permessage-deflate, onResponse) runs as on
 * HTTP/1.1.
 */
import { connect as h2connect, createServer as createH2Server, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { checkExtendedConnect, http2ResponseHeaders } from '../src/handshake/h2.js';
import { rejectResponse } from '../src/handshake/server.js';
import { serve, WebSocketServer } from '../src/index.js';
import { cleanupAfterEach, withTimeout } from './helpers/async.js';
import { FRAME, RawH2, responseStatus } from './helpers/h2raw.js';

const defer = cleanupAfterEach();

const GOOD = {
  ':method': 'CONNECT',
  ':protocol': 'websocket',
  ':scheme': 'https',
  ':path': '/chat?room=1',
  ':authority': 'example.com',
  'sec-websocket-version': '13',
};
const enabled = { connectProtocolEnabled: true };

function statusOf(headers: Record<string, string | undefined>, context = enabled): number {
  const check = checkExtendedConnect(headers, context);
  return check.ok ? 200 : check.response.status;
}

describe('checkExtendedConnect (pure)', () => {
  it('accepts a well-formed extended CONNECT and maps it to an UpgradeRequest', () => {
    const check = checkExtendedConnect({ ...GOOD, cookie: ['a=1', 'b=2'] as unknown as string, origin: 'https://example.com' }, enabled);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.request).toMatchObject({ method: 'CONNECT', target: '/chat?room=1', httpVersion: '2.0' });
    expect(check.request.headers).toMatchObject({ host: 'example.com', cookie: 'a=1; b=2', origin: 'https://example.com' });
    expect(Object.keys(check.request.headers).some((name) => name.startsWith(':'))).toBe(false);
  });

  it.each<[string, Record<string, string | undefined>, number]>([
    ['a method other than CONNECT', { ...GOOD, ':method': 'GET' }, 405],
    ['missing :protocol (a plain CONNECT)', { ...GOOD, ':protocol': undefined }, 400],
    ['wrong :protocol', { ...GOOD, ':protocol': 'webtransport' }, 400],
    ['missing :path', { ...GOOD, ':path': undefined }, 400],
    ['empty :path', { ...GOOD, ':path': '' }, 400],
    ['missing :scheme', { ...GOOD, ':scheme': undefined }, 400],
    ['missing :authority', { ...GOOD, ':authority': undefined }, 400],
    ['Connection header', { ...GOOD, connection: 'Upgrade' }, 400],
    ['Upgrade header', { ...GOOD, upgrade: 'websocket' }, 400],
    ['Keep-Alive header', { ...GOOD, 'keep-alive': '5' }, 400],
    ['Transfer-Encoding header', { ...GOOD, 'transfer-encoding': 'chunked' }, 400],
    ['Sec-WebSocket-Key', { ...GOOD, 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }, 400],
    ['Sec-WebSocket-Accept', { ...GOOD, 'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' }, 400],
    ['missing Sec-WebSocket-Version', { ...GOOD, 'sec-websocket-version': undefined }, 426],
    ['Sec-WebSocket-Version 8', { ...GOOD, 'sec-websocket-version': '8' }, 426],
  ])('%s', (_name, headers, status) => {
    expect(statusOf(headers)).toBe(status);
  });

  it(':protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL → 400', () => {
    expect(statusOf(GOOD, { connectProtocolEnabled: false })).toBe(400);
    const check = checkExtendedConnect(GOOD, { connectProtocolEnabled: false });
    expect(!check.ok && check.reason).toMatch(/SETTINGS_ENABLE_CONNECT_PROTOCOL/);
  });

  it('426 names the version we speak', () => {
    const check = checkExtendedConnect({ ...GOOD, 'sec-websocket-version': '8' }, enabled);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(http2ResponseHeaders(check.response)['sec-websocket-version']).toBe('13');
  });
});

describe('http2ResponseHeaders', () => {
  it('drops connection-specific headers, lowercases names, keeps repeats as lists, recomputes content-length', () => {
    const headers = http2ResponseHeaders({
      status: 200,
      reason: 'OK',
      headers: [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['Sec-WebSocket-Protocol', 'chat'], ['Content-Length', '99']],
    });
    expect(headers).toEqual({ ':status': 200, 'set-cookie': ['a=1', 'b=2'], 'sec-websocket-protocol': 'chat' });
    expect(http2ResponseHeaders(rejectResponse(404, 'nope'))).toMatchObject({ ':status': 404, 'content-length': '4' });
  });

  it('refuses what HTTP/2 cannot carry or what would inject', () => {
    expect(() => http2ResponseHeaders({ status: 101, reason: 'Switching', headers: [] })).toThrow(TypeError);
    expect(() => http2ResponseHeaders({ status: 200, reason: 'OK', headers: [['x', 'a\r\nb']] })).toThrow(TypeError);
    expect(() => http2ResponseHeaders({ status: 200, reason: 'OK', headers: [['bad name', 'a']] })).toThrow(TypeError);
  });
});

/** A `node:http2` client session to `port` that has the server's SETTINGS. */
async function h2Session(port: number): Promise<ClientHttp2Session> {
  const session = h2connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  defer(() => session.destroy());
  await withTimeout(new Promise((resolve) => session.once('remoteSettings', resolve)), 5000, 'SETTINGS');
  return session;
}

/** Sends `headers` on a new stream; resolves with the response headers (and body), or the reset code. */
function exchange(session: ClientHttp2Session, headers: OutgoingHttpHeaders): Promise<{ headers?: IncomingHttpHeaders; body: string; rst?: number }> {
  return withTimeout(
    new Promise((resolve) => {
      const stream = session.request(headers, { endStream: false });
      let response: IncomingHttpHeaders | undefined;
      let body = '';
      stream.on('response', (h) => {
        response = h;
        // A 200 opens the WebSocket: nothing more to read here.
        if (h[':status'] === 200) resolve({ headers: h, body });
      });
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('error', () => {});
      // A refusal ends the server's side (END_STREAM); ours is closed then.
      stream.on('end', () => {
        resolve({ ...(response ? { headers: response } : {}), body });
        stream.close();
      });
      stream.on('close', () => resolve(response ? { headers: response, body } : { body, rst: stream.rstCode }));
    }),
    5000,
    'the answer to an extended CONNECT',
  );
}

const WS = (path = '/'): OutgoingHttpHeaders => ({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': path, 'sec-websocket-version': '13' });

describe('on the wire (cleartext HTTP/2 with prior knowledge)', () => {
  it('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL (id 8 = 1)', async () => {
    const server = await serve(() => {}, { h2c: true, pingInterval: 0 });
    defer(() => server.close());
    const raw = await RawH2.open(server.address().port);
    defer(() => raw.close());
    expect((await raw.serverSettings()).get(0x8)).toBe(1);
  });

  it('answers each RFC 8441 case with the right status, through node:http2', async () => {
    const server = await serve(() => {}, { h2c: true, pingInterval: 0, path: '/ws' });
    defer(() => server.close());
    const session = await h2Session(server.address().port);
    const statusFor = async (headers: OutgoingHttpHeaders): Promise<number | string> => {
      const result = await exchange(session, headers);
      return result.headers ? Number(result.headers[':status']) : `RST ${result.rst}`;
    };
    expect(await statusFor(WS('/ws'))).toBe(200);
    // A plain CONNECT (no :protocol): we are no proxy.
    expect(await statusFor({ ':method': 'CONNECT', ':authority': 'example.com:443' })).toBe(400);
    expect(await statusFor({ ...WS('/ws'), ':protocol': 'webtransport' })).toBe(400);
    expect(await statusFor({ ...WS('/ws'), 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' })).toBe(400);
    expect(await statusFor({ ...WS('/ws'), 'sec-websocket-version': '8' })).toBe(426);
    expect(await statusFor(WS('/elsewhere'))).toBe(404);
    expect(await statusFor({ ':method': 'GET', ':path': '/ws' })).toBe(405);
  });

  it('malformed requests node:http2 refuses to send, by hand: nghttp2 resets them with PROTOCOL_ERROR (RFC 9113 §8.1.1)', async () => {
    const server = await serve(() => {}, { h2c: true, pingInterval: 0 });
    defer(() => server.close());
    const raw = await RawH2.open(server.address().port);
    defer(() => raw.close());
    const base: Array<[string, string]> = [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', '/'], [':authority', 'localhost'], ['sec-websocket-version', '13']];
    const cases: Array<[string, Array<[string, string]>]> = [
      ['without :path', base.filter(([name]) => name !== ':path')],
      ['without :scheme', base.filter(([name]) => name !== ':scheme')],
      ['without :authority', base.filter(([name]) => name !== ':authority')],
      ['with connection', [...base, ['connection', 'upgrade']]],
      ['with upgrade', [...base, ['upgrade', 'websocket']]],
    ];
    let id = 1;
    for (const [name, fields] of cases) {
      raw.sendHeaders(id, fields);
      const outcome = await raw.outcome(id);
      expect({ name, type: outcome.type, code: outcome.payload.readUInt32BE(0) }).toEqual({ name, type: FRAME.RST_STREAM, code: 1 });
      id += 2;
    }
    // The connection survives stream errors: a good request still opens.
    raw.sendHeaders(id, base);
    expect(responseStatus(await raw.outcome(id))).toBe(200);
  });

  it(':protocol to a server that did not enable it: reset with PROTOCOL_ERROR, never reaches the WebSocket server', async () => {
    const h2 = createH2Server(); // enableConnectProtocol off (the default)
    let connections = 0;
    const wss = new WebSocketServer(() => void connections++, { pingInterval: 0 }).attachHttp2(h2);
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => h2.close(resolve)));
    defer(() => wss.close());
    const raw = await RawH2.open((h2.address() as { port: number }).port);
    defer(() => raw.close());
    expect((await raw.serverSettings()).get(0x8) ?? 0).toBe(0);
    raw.sendHeaders(1, [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', '/'], [':authority', 'localhost'], ['sec-websocket-version', '13']]);
    const outcome = await raw.outcome(1);
    expect(outcome.type).toBe(FRAME.RST_STREAM);
    expect(outcome.payload.readUInt32BE(0)).toBe(1);
    expect(connections).toBe(0);
  });

  it('admission is the HTTP/1.1 one: verify, subprotocol, permessage-deflate and onResponse', async () => {
    const seen: Array<{ method: string; path: string; host: string | undefined; remote: string | undefined }> = [];
    const server = await serve(() => {}, {
      h2c: true,
      pingInterval: 0,
      perMessageDeflate: true,
      selectProtocol: (offered) => (offered.includes('chat.v2') ? 'chat.v2' : null),
      verify: (request) => {
        seen.push({ method: request.method, path: request.path, host: request.headers.host, remote: request.remoteAddress });
        return request.query.get('token') === 'ok' ? true : { status: 401, message: 'token please', headers: { 'WWW-Authenticate': 'Bearer' } };
      },
      onResponse: (response) => void response.headers.push(['Set-Cookie', 'seen=1']),
    });
    defer(() => server.close());
    const session = await h2Session(server.address().port);
    const refused = await exchange(session, WS('/?token=no'));
    expect(refused.headers?.[':status']).toBe(401);
    expect(refused.headers?.['www-authenticate']).toBe('Bearer');
    expect(refused.body).toBe('token please');
    const accepted = await exchange(session, {
      ...WS('/?token=ok'),
      'sec-websocket-protocol': 'chat.v1, chat.v2',
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
    });
    expect(accepted.headers).toMatchObject({
      ':status': 200,
      'sec-websocket-protocol': 'chat.v2',
      'sec-websocket-extensions': expect.stringMatching(/^permessage-deflate/),
      'set-cookie': ['seen=1'],
    });
    expect(accepted.headers?.upgrade).toBeUndefined();
    expect(seen[1]).toEqual({ method: 'CONNECT', path: '/', host: `127.0.0.1:${server.address().port}`, remote: '127.0.0.1' });
  });
});
