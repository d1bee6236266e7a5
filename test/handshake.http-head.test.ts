import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRequestHead, parseResponseHead } from '../src/handshake/http-head.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

const REQUEST =
  'GET /chat?room=1 HTTP/1.1\r\n' +
  'Host: server.example.com\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Sec-WebSocket-Version: 13\r\n' +
  '\r\n';

const RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
  '\r\n';

function request(lines: string[]): Buffer {
  return bytes(`GET / HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`);
}

describe('parseRequestHead', () => {
  it('parses a complete upgrade request', () => {
    const result = parseRequestHead(bytes(REQUEST));
    expect(result).toEqual({
      kind: 'complete',
      bytesConsumed: REQUEST.length,
      head: {
        method: 'GET',
        target: '/chat?room=1',
        httpVersion: '1.1',
        headers: {
          host: 'server.example.com',
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
        },
        rawHeaders: [
          ['Host', 'server.example.com'],
          ['Upgrade', 'websocket'],
          ['Connection', 'Upgrade'],
          ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
          ['Sec-WebSocket-Version', '13'],
        ],
      },
    });
  });

  it('reports incomplete for every proper prefix, and the same result once every byte is in', () => {
    const full = bytes(REQUEST);
    const expected = parseRequestHead(full);
    expect(expected.kind).toBe('complete');
    for (let i = 0; i < full.length; i++) {
      expect(parseRequestHead(full.subarray(0, i))).toEqual({ kind: 'incomplete' });
    }
    // Re-assembled from a split at every byte, as a caller accumulating chunks would.
    for (let i = 0; i <= full.length; i++) {
      const joined = Buffer.concat([full.subarray(0, i), full.subarray(i)]);
      expect(parseRequestHead(joined)).toEqual(expected);
    }
  });

  it('gives back the bytes after the head (they belong to the WebSocket stream)', () => {
    const frame = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x68, 0x6e]);
    const buf = Buffer.concat([bytes(REQUEST), frame]);
    const result = parseRequestHead(buf);
    expect(result.kind).toBe('complete');
    if (result.kind !== 'complete') return;
    expect(result.bytesConsumed).toBe(REQUEST.length);
    expect(buf.subarray(result.bytesConsumed)).toEqual(frame);
  });

  it('works on a view into a larger buffer (byteOffset ≠ 0)', () => {
    const backing = Buffer.concat([bytes('garbage!'), bytes(REQUEST), bytes('tail')]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, backing.length - 8);
    const result = parseRequestHead(view);
    expect(result.kind === 'complete' && result.head.target).toBe('/chat?room=1');
    expect(result.kind === 'complete' && result.bytesConsumed).toBe(REQUEST.length);
  });

  it('joins repeated headers with ", " and keeps them all in rawHeaders', () => {
    const result = parseRequestHead(request(['Host: a', 'X-Thing: one', 'x-thing: two', 'Connection: keep-alive', 'CONNECTION: Upgrade']));
    expect(result.kind).toBe('complete');
    if (result.kind !== 'complete') return;
    expect(result.head.headers['x-thing']).toBe('one, two');
    expect(result.head.headers.connection).toBe('keep-alive, Upgrade');
    expect(result.head.rawHeaders).toHaveLength(5);
    expect(result.head.rawHeaders[4]).toEqual(['CONNECTION', 'Upgrade']);
  });

  it('trims optional whitespace around values and keeps inner whitespace and obs-text', () => {
    const result = parseRequestHead(request(['Host: a', 'X-A: \t  spaced  value \t', 'X-B:', 'X-C: caf\xe9']));
    expect(result.kind === 'complete' && result.head.headers).toMatchObject({ 'x-a': 'spaced  value', 'x-b': '', 'x-c': 'caf\xe9' });
  });

  it('treats names like __proto__ and constructor as plain headers', () => {
    const result = parseRequestHead(request(['Host: a', '__proto__: x', 'constructor: y']));
    expect(result.kind).toBe('complete');
    if (result.kind !== 'complete') return;
    expect(Object.getPrototypeOf(result.head.headers)).toBe(null);
    expect(result.head.headers.__proto__).toBe('x');
    expect(result.head.headers.constructor).toBe('y');
    expect(result.head.headers.toString).toBeUndefined();
  });

  it('keeps HTTP/1.0 for the handshake to refuse, but refuses other major versions with 505', () => {
    const ok = parseRequestHead(bytes('GET / HTTP/1.0\r\nHost: a\r\n\r\n'));
    expect(ok.kind === 'complete' && ok.head.httpVersion).toBe('1.0');
    expect(parseRequestHead(bytes('GET / HTTP/2.0\r\nHost: a\r\n\r\n'))).toMatchObject({ kind: 'error', status: 505 });
    expect(parseRequestHead(bytes('GET / HTTP/0.9\r\n\r\n'))).toMatchObject({ kind: 'error', status: 505 });
  });

  describe('limits (431)', () => {
    it('refuses a head larger than maxHeadSize as soon as that many bytes arrived without CRLFCRLF', () => {
      const big = bytes(`GET / HTTP/1.1\r\nX: ${'a'.repeat(9000)}`);
      expect(parseRequestHead(big.subarray(0, 8191))).toEqual({ kind: 'incomplete' });
      expect(parseRequestHead(big.subarray(0, 8192))).toMatchObject({ kind: 'error', status: 431 });
      expect(parseRequestHead(big)).toMatchObject({ kind: 'error', status: 431 });
    });

    it('counts the final CRLFCRLF in maxHeadSize', () => {
      const head = bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      expect(parseRequestHead(head, { maxHeadSize: head.length }).kind).toBe('complete');
      expect(parseRequestHead(head, { maxHeadSize: head.length - 1 })).toMatchObject({ kind: 'error', status: 431 });
    });

    it('does not count bytes after the head against maxHeadSize', () => {
      const head = bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      const withTail = Buffer.concat([head, Buffer.alloc(100_000, 0x41)]);
      expect(parseRequestHead(withTail, { maxHeadSize: head.length })).toMatchObject({ kind: 'complete', bytesConsumed: head.length });
    });

    it('refuses more than maxHeaderCount fields', () => {
      const lines = Array.from({ length: 101 }, (_, i) => `X-${i}: ${i}`);
      expect(parseRequestHead(request(lines.slice(0, 100))).kind).toBe('complete');
      expect(parseRequestHead(request(lines))).toMatchObject({ kind: 'error', status: 431 });
      expect(parseRequestHead(request(lines.slice(0, 3)), { maxHeaderCount: 2 })).toMatchObject({ kind: 'error', status: 431 });
    });
  });

  describe('malformed (400)', () => {
    it.each<[string, string]>([
      ['bare LF line endings', 'GET / HTTP/1.1\nHost: a\n\n'],
      ['bare LF in the middle', 'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n'],
      ['bare CR', 'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n'],
      ['obs-fold continuation line (RFC 9112 §5.2)', 'GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n'],
      ['obs-fold with HTAB', 'GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n'],
      ['whitespace before colon (RFC 9112 §5.1)', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
      ['no colon', 'GET / HTTP/1.1\r\nHost a\r\n\r\n'],
      ['empty header name', 'GET / HTTP/1.1\r\n: a\r\n\r\n'],
      ['invalid char in header name', 'GET / HTTP/1.1\r\nX(y): a\r\n\r\n'],
      ['non-ASCII header name', 'GET / HTTP/1.1\r\nX\xe9: a\r\n\r\n'],
      ['NUL in value', 'GET / HTTP/1.1\r\nX: a\0b\r\n\r\n'],
      ['DEL in value', 'GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n'],
      ['duplicate Host (RFC 9112 §3.2)', 'GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n'],
      ['empty head', '\r\n\r\n'],
      ['leading empty line', '\r\nGET / HTTP/1.1\r\n\r\n'],
      ['missing version', 'GET /\r\n\r\n'],
      ['double space in request line', 'GET  / HTTP/1.1\r\n\r\n'],
      ['trailing space in request line', 'GET / HTTP/1.1 \r\n\r\n'],
      ['lowercase http', 'GET / http/1.1\r\n\r\n'],
      ['version with two digits', 'GET / HTTP/1.10\r\n\r\n'],
      ['invalid method', 'G(T / HTTP/1.1\r\n\r\n'],
      ['control char in target', 'GET /a\x01b HTTP/1.1\r\n\r\n'],
      ['non-ASCII in target', 'GET /caf\xe9 HTTP/1.1\r\n\r\n'],
    ])('%s', (_name, raw) => {
      const result = parseRequestHead(bytes(raw));
      expect(result).toMatchObject({ kind: 'error', status: 400 });
      expect(result.kind === 'error' && result.message.length).toBeGreaterThan(0);
    });

    it('names the rule that was broken', () => {
      const message = (raw: string): string => {
        const result = parseRequestHead(bytes(raw));
        return result.kind === 'error' ? result.message : '';
      };
      expect(message('GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n')).toMatch(/line folding.*RFC 9112 §5\.2/);
      expect(message('GET / HTTP/1.1\r\nHost : a\r\n\r\n')).toMatch(/whitespace before colon.*RFC 9112 §5\.1/);
      expect(message('GET / HTTP/1.1\nHost: a\n\n')).toMatch(/bare LF/);
      expect(message('GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n')).toMatch(/duplicate Host/);
    });

    it('spots a bare LF before the head is complete', () => {
      expect(parseRequestHead(bytes('GET / HTTP/1.1\n'))).toMatchObject({ kind: 'error', status: 400 });
    });
  });

  it('never throws on random bytes, and a prefix never contradicts the full result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (buf, cut) => {
        const full = parseRequestHead(buf, { maxHeadSize: 256, maxHeaderCount: 8 });
        expect(['incomplete', 'error', 'complete']).toContain(full.kind);
        const prefix = parseRequestHead(buf.subarray(0, Math.min(cut, buf.length)), { maxHeadSize: 256, maxHeaderCount: 8 });
        if (prefix.kind !== 'incomplete') expect(prefix).toEqual(full);
        expect(parseResponseHead(buf).kind).toMatch(/^(incomplete|error|complete)$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random head-like text', () => {
    const unit = fc.constantFrom('\r\n', '\r', '\n', ' ', '\t', ':', 'GET', ' / ', 'HTTP/1.1', 'Host', 'a', '\0', '\xff', '"');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 80 }), (parts) => {
        const result = parseRequestHead(bytes(`${parts.join('')}\r\n\r\n`));
        expect(['incomplete', 'error', 'complete']).toContain(result.kind);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips generated header sets', () => {
    const tchar = fc.constantFrom(...'abcXYZ019-_.!#$%&*+^`|~');
    const name = fc.string({ unit: tchar, minLength: 1, maxLength: 12 });
    const value = fc.string({ unit: fc.constantFrom(...'ab ;,="\t\x80\xff'), maxLength: 20 }).map((v) => v.trim());
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 20 }), (fields) => {
        const filtered = fields.filter(([n]) => n.toLowerCase() !== 'host');
        const result = parseRequestHead(request(filtered.map(([n, v]) => `${n}: ${v}`)));
        expect(result.kind).toBe('complete');
        if (result.kind !== 'complete') return;
        expect(result.head.rawHeaders).toEqual(filtered);
        for (const [n] of filtered) {
          const joined = filtered.filter(([m]) => m.toLowerCase() === n.toLowerCase()).map(([, v]) => v).join(', ');
          expect(result.head.headers[n.toLowerCase()]).toBe(joined);
        }
      }),
    );
  });

  it('handles pathological input with a single scan', () => {
    // Nothing here should take more than a moment; a backtracking matcher would not finish.
    const manySpaces = bytes(`GET / HTTP/1.1\r\nX:${' '.repeat(8000)}a${' '.repeat(100)}\r\n\r\n`);
    expect(parseRequestHead(manySpaces, { maxHeadSize: 16384 })).toMatchObject({ kind: 'complete' });
    const manyColons = bytes(`GET / HTTP/1.1\r\nX${':'.repeat(8000)}\r\n\r\n`);
    expect(parseRequestHead(manyColons, { maxHeadSize: 16384 }).kind).toBe('complete');
    const crlfs = bytes('\r\n'.repeat(50_000));
    expect(parseRequestHead(crlfs, { maxHeadSize: 1 << 20 })).toMatchObject({ kind: 'error', status: 400 });
    const crs = bytes('\r'.repeat(50_000));
    expect(parseRequestHead(crs, { maxHeadSize: 1 << 20 })).toMatchObject({ kind: 'error', status: 400 });
    const headerLines = bytes(`GET / HTTP/1.1\r\n${'a:;a;a;a;a\r\n'.repeat(80_000)}\r\n`);
    expect(parseRequestHead(headerLines, { maxHeadSize: 1 << 20, maxHeaderCount: 100_000 }).kind).toBe('complete');
  });
});

describe('parseResponseHead', () => {
  it('parses a 101 response', () => {
    const result = parseResponseHead(bytes(RESPONSE));
    expect(result).toMatchObject({
      kind: 'complete',
      bytesConsumed: RESPONSE.length,
      head: {
        httpVersion: '1.1',
        status: 101,
        reason: 'Switching Protocols',
        headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' },
      },
    });
  });

  it('is incomplete for every proper prefix and returns trailing frame bytes', () => {
    const full = Buffer.concat([bytes(RESPONSE), Buffer.from([0x81, 0x02, 0x68, 0x69])]);
    for (let i = 0; i < RESPONSE.length; i++) expect(parseResponseHead(full.subarray(0, i)).kind).toBe('incomplete');
    const result = parseResponseHead(full);
    expect(result.kind === 'complete' && full.subarray(result.bytesConsumed)).toEqual(Buffer.from([0x81, 0x02, 0x68, 0x69]));
  });

  it.each<[string, number, string]>([
    ['HTTP/1.1 404 Not Found\r\n\r\n', 404, 'Not Found'],
    ['HTTP/1.1 200 \r\n\r\n', 200, ''],
    ['HTTP/1.1 200\r\n\r\n', 200, ''],
    ['HTTP/1.0 503 Service\tUnavailable now\r\n\r\n', 503, 'Service\tUnavailable now'],
  ])('status line %j', (raw, status, reason) => {
    expect(parseResponseHead(bytes(raw))).toMatchObject({ kind: 'complete', head: { status, reason } });
  });

  it.each<[string, number]>([
    ['HTTP/1.1 10 Short\r\n\r\n', 400],
    ['HTTP/1.1 1000 Long\r\n\r\n', 400],
    ['HTTP/1.1 099 Low\r\n\r\n', 400],
    ['HTTP/1.1  101 Extra space\r\n\r\n', 400],
    ['HTTP/1.1 1O1 Letter\r\n\r\n', 400],
    ['HTTP/1.1 101 Bad\0reason\r\n\r\n', 400],
    ['HTTP/1.1101 Switching\r\n\r\n', 400],
    ['ICY 200 OK\r\n\r\n', 400],
    ['HTTP/2.0 101 Switching Protocols\r\n\r\n', 505],
    ['HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n', 400],
  ])('refuses %j with %i', (raw, status) => {
    expect(parseResponseHead(bytes(raw))).toMatchObject({ kind: 'error', status });
  });

  it('allows duplicate Host in a response (the RFC 9112 §3.2 rule is for requests)', () => {
    expect(parseResponseHead(bytes('HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\n\r\n')).kind).toBe('complete');
  });
});
