import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseRequestHead } from '../src/handshake/http-head.js';
import {
  acceptUpgrade,
  fromIncomingMessage,
  rejectResponse,
  serializeResponse,
} from '../src/handshake/server.js';
import type { HandshakeResponse, UpgradeRequest } from '../src/handshake/server.js';
import type { Extension, ServerExtension } from '../src/frame/extension.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** The RFC 6455 §1.2 sample request, with `changes` applied (`undefined` removes a header). */
function req(changes: Partial<Omit<UpgradeRequest, 'headers'>> & { headers?: Record<string, string | undefined> } = {}): UpgradeRequest {
  const headers: Record<string, string | undefined> = {
    host: 'server.example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': KEY,
    'sec-websocket-version': '13',
    origin: 'http://example.com',
    ...changes.headers,
  };
  for (const [k, v] of Object.entries(headers)) if (v === undefined) delete headers[k];
  return { method: 'GET', target: '/chat', httpVersion: '1.1', ...changes, headers };
}

function header(res: HandshakeResponse, name: string): string | undefined {
  return res.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

describe('acceptUpgrade: RFC 6455 MUSTs', () => {
  type Row = [rule: string, request: UpgradeRequest, status: number, reasonMentions: string];
  it.each<Row>([
    ['§4.2.1 (1) method must be GET: POST', req({ method: 'POST' }), 405, 'method'],
    ['§4.2.1 (1) method must be GET: lowercase get', req({ method: 'get' }), 405, 'method'],
    ['§4.2.1 (1) HTTP/1.1 or higher: 1.0', req({ httpVersion: '1.0' }), 400, 'HTTP version'],
    ['§4.2.1 (1) HTTP/1.1 or higher: 0.9', req({ httpVersion: '0.9' }), 400, 'HTTP version'],
    ['§4.2.1 (1) HTTP/1.1 or higher: garbage', req({ httpVersion: 'x' }), 400, 'HTTP version'],
    ['§4.2.1 (2) Host required: missing', req({ headers: { host: undefined } }), 400, 'Host'],
    ['§4.2.1 (2) Host required: empty', req({ headers: { host: '' } }), 400, 'Host'],
    ['§4.2.1 (3) Upgrade required: missing', req({ headers: { upgrade: undefined } }), 400, 'Upgrade'],
    ['§4.2.1 (3) Upgrade must contain websocket', req({ headers: { upgrade: 'h2c' } }), 400, 'Upgrade'],
    ['§4.2.1 (3) Upgrade websocket, not a prefix', req({ headers: { upgrade: 'websockets' } }), 400, 'Upgrade'],
    ['§4.2.1 (4) Connection required: missing', req({ headers: { connection: undefined } }), 400, 'Connection'],
    ['§4.2.1 (4) Connection must contain Upgrade', req({ headers: { connection: 'keep-alive' } }), 400, 'Connection'],
    ['§4.2.1 (4) Connection token, not substring', req({ headers: { connection: 'Upgrade-Insecure' } }), 400, 'Connection'],
    ['§4.2.1 (5) Sec-WebSocket-Key required: missing', req({ headers: { 'sec-websocket-key': undefined } }), 400, 'Sec-WebSocket-Key'],
    ['§4.2.1 (5) Sec-WebSocket-Key 16 bytes: too short', req({ headers: { 'sec-websocket-key': 'AAAA' } }), 400, 'Sec-WebSocket-Key'],
    ['§4.2.1 (5) Sec-WebSocket-Key base64: bad chars', req({ headers: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZ-_==' } }), 400, 'Sec-WebSocket-Key'],
    ['§4.2.1 (5) Sec-WebSocket-Key: sent twice', req({ headers: { 'sec-websocket-key': `${KEY}, ${KEY}` } }), 400, 'Sec-WebSocket-Key'],
    ['§4.2.1 (6) Sec-WebSocket-Version: missing', req({ headers: { 'sec-websocket-version': undefined } }), 426, 'Sec-WebSocket-Version'],
    ['§4.2.1 (6) Sec-WebSocket-Version must be 13: 8', req({ headers: { 'sec-websocket-version': '8' } }), 426, 'Sec-WebSocket-Version'],
    ['§4.2.1 (6) Sec-WebSocket-Version must be 13: 14', req({ headers: { 'sec-websocket-version': '14' } }), 426, 'Sec-WebSocket-Version'],
    ['§4.2.1 (6) Sec-WebSocket-Version must be 13: 013', req({ headers: { 'sec-websocket-version': '013' } }), 426, 'Sec-WebSocket-Version'],
    ['§4.1 (10) Sec-WebSocket-Protocol tokens: separator', req({ headers: { 'sec-websocket-protocol': 'chat/1' } }), 400, 'Sec-WebSocket-Protocol'],
    ['§4.1 (10) Sec-WebSocket-Protocol unique', req({ headers: { 'sec-websocket-protocol': 'chat, chat' } }), 400, 'Sec-WebSocket-Protocol'],
    ['§4.1 (10) Sec-WebSocket-Protocol non-empty', req({ headers: { 'sec-websocket-protocol': '' } }), 400, 'Sec-WebSocket-Protocol'],
    ['§9.1 Sec-WebSocket-Extensions grammar: ;;', req({ headers: { 'sec-websocket-extensions': 'a;;b' } }), 400, 'Sec-WebSocket-Extensions'],
    ['§9.1 Sec-WebSocket-Extensions grammar: open quote', req({ headers: { 'sec-websocket-extensions': 'a; b="' } }), 400, 'Sec-WebSocket-Extensions'],
  ])('%s → %i', (_rule, request, status, mentions) => {
    const result = acceptUpgrade(request);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.response.status).toBe(status);
    expect(result.reason).toContain(mentions);
    expect(result.response.body).toBe(result.reason);
    expect(header(result.response, 'Connection')).toMatch(/close/);
  });

  it('checks in ws order: the method is reported before anything else', () => {
    const result = acceptUpgrade(req({ method: 'PUT', httpVersion: '1.0', headers: { host: undefined, upgrade: undefined } }));
    expect(!result.ok && result.response.status).toBe(405);
    const noHost = acceptUpgrade(req({ headers: { host: undefined, upgrade: undefined, 'sec-websocket-version': '8' } }));
    expect(!noHost.ok && noHost.reason).toContain('Host');
    const badKey = acceptUpgrade(req({ headers: { 'sec-websocket-key': 'x', 'sec-websocket-version': '8' } }));
    expect(!badKey.ok && badKey.response.status).toBe(400);
  });

  it('405 carries Allow: GET (RFC 9110 §15.5.6)', () => {
    const result = acceptUpgrade(req({ method: 'POST' }));
    expect(!result.ok && header(result.response, 'Allow')).toBe('GET');
  });

  it('§4.2.2 (4) 426 carries Sec-WebSocket-Version: 13, plus Upgrade as RFC 9110 §15.5.22 requires', () => {
    const result = acceptUpgrade(req({ headers: { 'sec-websocket-version': '8' } }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.response.status).toBe(426);
    expect(result.response.reason).toBe('Upgrade Required');
    expect(header(result.response, 'Sec-WebSocket-Version')).toBe('13');
    expect(header(result.response, 'Upgrade')).toBe('websocket');
    expect(header(result.response, 'Connection')).toBe('Upgrade, close');
    expect(result.response.headers.filter(([n]) => n === 'Connection')).toHaveLength(1);
  });

  it.each<[string, Record<string, string | undefined>]>([
    ['RFC 6455 §1.2 sample', {}],
    ['Connection: keep-alive, Upgrade (Firefox)', { connection: 'keep-alive, Upgrade' }],
    ['Connection: upgrade in lowercase', { connection: 'upgrade' }],
    ['Connection: UPGRADE', { connection: 'UPGRADE' }],
    ['Upgrade: WebSocket in mixed case', { upgrade: 'WebSocket' }],
    ['Upgrade listing several protocols', { upgrade: 'h2c, websocket' }],
    ['no Origin (non-browser clients)', { origin: undefined }],
  ])('accepts %s', (_name, headers) => {
    const result = acceptUpgrade(req({ headers }));
    expect(result.ok).toBe(true);
    expect(result.ok && result.accept).toBe(ACCEPT);
    expect(result.ok && result.response.status).toBe(101);
  });

  it('accepts HTTP/2.0 and higher minor versions as "1.1 or higher"', () => {
    expect(acceptUpgrade(req({ httpVersion: '1.2' })).ok).toBe(true);
    expect(acceptUpgrade(req({ httpVersion: '2.0' })).ok).toBe(true);
  });
});

describe('acceptUpgrade: the 101 response', () => {
  it('§4.2.2 (5) serializes to the exact bytes', () => {
    const result = acceptUpgrade(req());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.protocol).toBeNull();
    expect(result.extensions).toEqual([]);
    expect(serializeResponse(result.response).toString('latin1')).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        '\r\n',
    );
  });

  it('serializes protocol and extensions in that order', () => {
    const deflate: ServerExtension = { name: 'permessage-deflate', negotiate: () => ({ params: { server_no_context_takeover: true }, extension: NO_EXTENSION }) };
    const result = acceptUpgrade(
      req({ headers: { 'sec-websocket-protocol': 'chat, superchat', 'sec-websocket-extensions': 'permessage-deflate' } }),
      { selectProtocol: () => 'chat', extensions: [deflate] },
    );
    expect(result.ok && serializeResponse(result.response).toString('latin1')).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        'Sec-WebSocket-Protocol: chat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n' +
        '\r\n',
    );
  });

  it('works on the output of our own parser', () => {
    const raw = `GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const parsed = parseRequestHead(Buffer.from(raw));
    expect(parsed.kind).toBe('complete');
    if (parsed.kind !== 'complete') return;
    expect(acceptUpgrade(parsed.head)).toMatchObject({ ok: true, accept: ACCEPT });
  });
});

describe('acceptUpgrade: subprotocols (§4.2.2 (5.4))', () => {
  const offered = req({ headers: { 'sec-websocket-protocol': 'v2.chat, v1.chat' } });

  it('selects none without a selectProtocol hook, but reports the offer', () => {
    const result = acceptUpgrade(offered);
    expect(result).toMatchObject({ ok: true, protocol: null, offeredProtocols: ['v2.chat', 'v1.chat'] });
    expect(result.ok && header(result.response, 'Sec-WebSocket-Protocol')).toBeUndefined();
  });

  it('passes the offered list, in order, and the request to the hook', () => {
    const calls: Array<[string[], UpgradeRequest]> = [];
    const result = acceptUpgrade(offered, {
      selectProtocol: (list, request) => {
        calls.push([list, request]);
        return list.includes('v1.chat') ? 'v1.chat' : null;
      },
    });
    expect(calls).toEqual([[['v2.chat', 'v1.chat'], offered]]);
    expect(result.ok && result.protocol).toBe('v1.chat');
    expect(result.ok && header(result.response, 'Sec-WebSocket-Protocol')).toBe('v1.chat');
  });

  it('sends no header when the hook declines', () => {
    for (const answer of [null, undefined]) {
      const result = acceptUpgrade(offered, { selectProtocol: () => answer });
      expect(result.ok && result.protocol).toBeNull();
      expect(result.ok && header(result.response, 'Sec-WebSocket-Protocol')).toBeUndefined();
    }
  });

  it('does not call the hook when nothing was offered', () => {
    let called = false;
    const result = acceptUpgrade(req(), { selectProtocol: () => ((called = true), 'x') });
    expect(called).toBe(false);
    expect(result.ok && result.protocol).toBeNull();
  });

  it('refuses with 500 when the hook picks something the client did not offer', () => {
    const result = acceptUpgrade(offered, { selectProtocol: () => 'v3.chat' });
    expect(!result.ok && result.response.status).toBe(500);
    expect(!result.ok && result.reason).toContain('v3.chat');
  });
});

const NO_EXTENSION: Extension = {
  name: 'x',
  rsvBits: 0,
  decode: (piece) => piece,
  encode: (payload) => ({ payload, rsv: 0 }),
  dispose: () => {},
};

describe('acceptUpgrade: extensions (§9.1)', () => {
  const header3 = 'permessage-deflate; client_max_window_bits=10, permessage-deflate, x-test; a="b c"';

  function fake(name: string, answer: (offers: Array<Record<string, string | true>>) => Record<string, string | true> | null) {
    const seen: Array<Array<Record<string, string | true>>> = [];
    const negotiator: ServerExtension = {
      name,
      negotiate(raw) {
        const offers = raw.map((params) => Object.fromEntries(params) as Record<string, string | true>);
        seen.push(offers);
        const params = answer(offers);
        return params === null ? null : { params, extension: NO_EXTENSION };
      },
    };
    return { negotiator, seen };
  }

  it('hands each negotiator all offers of its extension, in order, and lists accepted ones', () => {
    const deflate = fake('permessage-deflate', (offers) => (offers[1] ? { server_no_context_takeover: true } : null));
    const test = fake('x-test', (offers) => ({ a: offers[0]!.a as string }));
    const result = acceptUpgrade(req({ headers: { 'sec-websocket-extensions': header3 } }), {
      extensions: [test.negotiator, deflate.negotiator],
    });
    expect(deflate.seen).toEqual([[{ client_max_window_bits: '10' }, {}]]);
    expect(test.seen).toEqual([[{ a: 'b c' }]]);
    expect(result.ok && result.extensions).toEqual([
      { name: 'x-test', params: { a: 'b c' } },
      { name: 'permessage-deflate', params: { server_no_context_takeover: true } },
    ]);
    expect(result.ok && header(result.response, 'Sec-WebSocket-Extensions')).toBe(
      'x-test; a="b c", permessage-deflate; server_no_context_takeover',
    );
  });

  it('omits declined extensions and never calls negotiators that were not offered', () => {
    const deflate = fake('permessage-deflate', () => null);
    const other = fake('x-other', () => ({}));
    const result = acceptUpgrade(req({ headers: { 'sec-websocket-extensions': header3 } }), {
      extensions: [deflate.negotiator, other.negotiator],
    });
    expect(deflate.seen).toHaveLength(1);
    expect(other.seen).toHaveLength(0);
    expect(result.ok && result.extensions).toEqual([]);
    expect(result.ok && header(result.response, 'Sec-WebSocket-Extensions')).toBeUndefined();
  });

  it('lets the first negotiator of a name that accepts win', () => {
    const declines = fake('permessage-deflate', () => null);
    const first = fake('permessage-deflate', () => ({ first: true }));
    const second = fake('permessage-deflate', () => ({ second: true }));
    const result = acceptUpgrade(req({ headers: { 'sec-websocket-extensions': 'permessage-deflate' } }), {
      extensions: [declines.negotiator, first.negotiator, second.negotiator],
    });
    expect(result.ok && result.extensions).toEqual([{ name: 'permessage-deflate', params: { first: true } }]);
    expect(second.seen).toHaveLength(0);
  });

  it('refuses with 400 when a negotiator throws', () => {
    const strict: ServerExtension = {
      name: 'permessage-deflate',
      negotiate() {
        throw new Error('invalid client_max_window_bits');
      },
    };
    const result = acceptUpgrade(req({ headers: { 'sec-websocket-extensions': header3 } }), { extensions: [strict] });
    expect(!result.ok && result.response.status).toBe(400);
    expect(!result.ok && result.reason).toContain('invalid client_max_window_bits');
  });

  it('ignores well-formed offers when no negotiators are configured', () => {
    const result = acceptUpgrade(req({ headers: { 'sec-websocket-extensions': header3 } }));
    expect(result.ok && result.extensions).toEqual([]);
  });
});

describe('rejectResponse', () => {
  it('builds a plain-text error that closes the connection', () => {
    const res = rejectResponse(403, 'Origin not allowed');
    expect(res).toEqual({
      status: 403,
      reason: 'Forbidden',
      headers: [
        ['Connection', 'close'],
        ['Content-Type', 'text/plain; charset=utf-8'],
        ['Content-Length', '18'],
      ],
      body: 'Origin not allowed',
    });
    expect(serializeResponse(res).toString()).toBe(
      'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 18\r\n\r\nOrigin not allowed',
    );
  });

  it.each([400, 401, 404, 405, 426, 431, 500, 503])('uses the standard reason phrase for %i', (status) => {
    const res = rejectResponse(status);
    expect(res.reason.length).toBeGreaterThan(0);
    expect(res.reason).not.toBe('Unknown');
    expect(res.body).toBe(res.reason);
  });

  it('adds extra headers and replaces defaults of the same name', () => {
    const res = rejectResponse(401, undefined, { 'WWW-Authenticate': 'Bearer', 'content-type': 'text/html' });
    expect(header(res, 'WWW-Authenticate')).toBe('Bearer');
    expect(res.headers.filter(([n]) => n.toLowerCase() === 'content-type')).toEqual([['content-type', 'text/html']]);
    const fromArray = rejectResponse(503, 'busy', [['Retry-After', '5']]);
    expect(header(fromArray, 'Retry-After')).toBe('5');
  });

  it('counts Content-Length in bytes, not characters', () => {
    const res = rejectResponse(400, 'héllo');
    expect(header(res, 'Content-Length')).toBe('6');
    expect(serializeResponse(res).subarray(-6).toString()).toBe('héllo');
  });
});

describe('serializeResponse', () => {
  it('recomputes Content-Length after the body was edited', () => {
    const res = rejectResponse(404);
    res.body = 'nothing to see here';
    expect(serializeResponse(res).toString()).toContain('\r\nContent-Length: 19\r\n\r\nnothing to see here');
  });

  it('adds Content-Length for a body when there is none, and drops duplicates', () => {
    const res: HandshakeResponse = { status: 200, reason: 'OK', headers: [['content-length', '1'], ['Content-Length', '2']], body: 'abc' };
    expect(serializeResponse(res).toString()).toBe('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc');
    const bare: HandshakeResponse = { status: 200, reason: 'OK', headers: [], body: '' };
    expect(serializeResponse(bare).toString()).toBe('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  });

  it('keeps headers a hook added to a 101', () => {
    const result = acceptUpgrade(req());
    if (!result.ok) throw new Error('expected ok');
    result.response.headers.push(['Set-Cookie', 'sid=1; HttpOnly']);
    expect(serializeResponse(result.response).toString()).toMatch(/\r\nSet-Cookie: sid=1; HttpOnly\r\n\r\n$/);
  });

  it.each<[string, HandshakeResponse]>([
    ['CRLF in a header value', { status: 403, reason: 'Forbidden', headers: [['X', 'a\r\nSet-Cookie: evil']] }],
    ['LF in a header value', { status: 403, reason: 'Forbidden', headers: [['X', 'a\nb']] }],
    ['CRLF in a header name', { status: 403, reason: 'Forbidden', headers: [['X\r\nY', 'a']] }],
    ['space in a header name', { status: 403, reason: 'Forbidden', headers: [['X Y', 'a']] }],
    ['CRLF in the reason', { status: 403, reason: 'No\r\nX: y', headers: [] }],
    ['non-latin1 value', { status: 403, reason: 'Forbidden', headers: [['X', '€']] }],
    ['status too small', { status: 99, reason: 'x', headers: [] }],
    ['status not an integer', { status: 200.5, reason: 'x', headers: [] }],
    ['body on a 101', { status: 101, reason: 'Switching Protocols', headers: [], body: 'x' }],
  ])('refuses %s', (_name, res) => {
    expect(() => serializeResponse(res)).toThrow(TypeError);
  });
});

describe('fromIncomingMessage', () => {
  it('copies method, url, version and headers, joining arrays with ", "', () => {
    const message = {
      method: 'GET',
      url: '/chat?x=1',
      httpVersion: '1.1',
      headers: { host: 'a', 'set-cookie': ['a=1', 'b=2'], upgrade: 'websocket' },
    } as unknown as IncomingMessage;
    const request = fromIncomingMessage(message);
    expect(request).toEqual({
      method: 'GET',
      target: '/chat?x=1',
      httpVersion: '1.1',
      headers: { host: 'a', 'set-cookie': 'a=1, b=2', upgrade: 'websocket' },
    });
  });

  it('feeds acceptUpgrade', () => {
    const message = {
      method: 'GET',
      url: '/',
      httpVersion: '1.1',
      headers: { host: 'a', upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': KEY, 'sec-websocket-version': '13' },
    } as unknown as IncomingMessage;
    expect(acceptUpgrade(fromIncomingMessage(message))).toMatchObject({ ok: true, accept: ACCEPT });
  });
});
