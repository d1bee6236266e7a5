/**
 * The `ws` compatibility suite, written from ws's documentation (doc/ws.md): every test body runs
 * against the real `ws` and against `fullduplex/ws`. A test that passes on ws and fails on us is
 * a bug in the compat layer; the deliberate differences are listed in the README ("Migrating from
 * ws") and tested separately at the end.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as realWs from 'ws';
import * as ours from '../src/compat/ws/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
interface Target {
  WebSocket: Any;
  WebSocketServer: Any;
  createWebSocketStream: Any;
  default: Any;
}
const targets: Array<[string, Target]> = [
  ['ws', realWs as unknown as Target],
  ['fullduplex/ws', ours as unknown as Target],
];

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function portOf(wss: Any): number {
  return (wss.address() as AddressInfo).port;
}

/** A raw HTTP upgrade request; resolves with the response head and body text. */
function rawRequest(port: number, lines: string[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const upgradeLines = (extra: string[] = [], path = '/'): string[] => [
  `GET ${path} HTTP/1.1`,
  'Host: 127.0.0.1',
  'Connection: Upgrade',
  'Upgrade: websocket',
  'Sec-WebSocket-Version: 13',
  `Sec-WebSocket-Key: ${KEY}`,
  ...extra,
];

describe.each(targets)('%s', (_name, lib) => {
  const { WebSocket, WebSocketServer } = lib;

  async function server(options: Record<string, unknown> = {}): Promise<Any> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients ?? []) client.terminate();
          wss.close(() => resolve());
        }),
    );
    await once(wss, 'listening');
    return wss;
  }

  async function client(wss: Any, path = '/', protocols?: Any, options?: Any): Promise<Any> {
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}${path}`, protocols, options);
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    return ws;
  }

  async function pair(options: Record<string, unknown> = {}, clientOptions?: Any): Promise<{ wss: Any; ws: Any; peer: Any }> {
    const wss = await server(options);
    const connected = once(wss, 'connection');
    const ws = await client(wss, '/', undefined, clientOptions);
    const [peer] = await connected;
    return { wss, ws, peer };
  }

  describe('module shape', () => {
    it('default export is the WebSocket class; named exports', () => {
      expect(lib.default).toBe(WebSocket);
      expect(typeof WebSocketServer).toBe('function');
      expect(typeof lib.createWebSocketStream).toBe('function');
    });

    it('readyState constants on the class and on instances', async () => {
      expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([0, 1, 2, 3]);
      const { ws } = await pair();
      expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
    });
  });

  describe('WebSocketServer options', () => {
    it('requires exactly one of port, server, noServer', () => {
      const message = 'One and only one of the "port", "server", or "noServer" options must be specified';
      expect(() => new WebSocketServer({})).toThrow(TypeError);
      expect(() => new WebSocketServer({})).toThrow(message);
      expect(() => new WebSocketServer({ port: 0, noServer: true })).toThrow(message);
      expect(() => new WebSocketServer({ server: createServer(), noServer: true })).toThrow(message);
    });

    it('port: listens, calls the callback, answers plain HTTP with 426', async () => {
      let called = false;
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => (called = true));
      cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
      await once(wss, 'listening');
      expect(called).toBe(true);
      const status = await new Promise<number>((resolve) => request({ port: portOf(wss), host: '127.0.0.1' }, (res) => resolve(res.statusCode!)).end());
      expect(status).toBe(426);
    });

    it('server: takes upgrades from an existing HTTP server and emits listening', async () => {
      const http = createServer();
      const wss = new WebSocketServer({ server: http });
      const listening = once(wss, 'listening');
      http.listen(0, '127.0.0.1');
      await listening;
      cleanups.push(() => new Promise((resolve) => http.close(resolve)));
      cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
      expect(wss.address().port).toBe((http.address() as AddressInfo).port);
      const ws = await client(wss);
      ws.close();
      await once(ws, 'close');
    });

    it('noServer: address() throws', () => {
      const wss = new WebSocketServer({ noServer: true });
      expect(() => wss.address()).toThrow('The server is operating in "noServer" mode');
    });

    it('path: other paths are refused with 400', async () => {
      const wss = await server({ path: '/chat' });
      await client(wss, '/chat?x=1');
      const answer = await rawRequest(portOf(wss), upgradeLines([], '/other'));
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    });

    it('clientTracking: clients set, or undefined when off', async () => {
      const { wss, ws } = await pair();
      expect(wss.clients.size).toBe(1);
      ws.close();
      await once(ws, 'close');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(wss.clients.size).toBe(0);
      const untracked = await server({ clientTracking: false });
      expect(untracked.clients).toBeUndefined();
    });

    it('maxPayload: a larger message closes with 1009', async () => {
      const { ws, peer } = await pair({ maxPayload: 10 });
      peer.on('error', () => {});
      ws.send(Buffer.alloc(11));
      const [code] = await once(ws, 'close');
      expect(code).toBe(1009);
    });

    it('maxPayload (client side): a larger message from the server fails with 1009', async () => {
      const { ws, peer } = await pair({}, { maxPayload: 5 });
      const errored = once(ws, 'error');
      peer.send('123456');
      const [error] = await errored;
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe('Max payload size exceeded');
      expect(error.code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    });

    it('handleProtocols picks a subprotocol; default picks the first offered', async () => {
      const wss = await server({ handleProtocols: (set: Set<string>) => (set.has('b') ? 'b' : false) });
      const ws = await client(wss, '/', ['a', 'b']);
      expect(ws.protocol).toBe('b');
      const plain = await server();
      const ws2 = await client(plain, '/', ['x', 'y']);
      expect(ws2.protocol).toBe('x');
    });

    it('verifyClient (sync): false refuses with 401', async () => {
      const seen: Any[] = [];
      const wss = await server({ verifyClient: (info: Any) => (seen.push(info), false) });
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, { origin: 'https://example.com' });
      const [error] = await once(ws, 'error');
      expect(error.message).toBe('Unexpected server response: 401');
      expect(seen[0].origin).toBe('https://example.com');
      expect(seen[0].secure).toBe(false);
      expect(seen[0].req.url).toBe('/');
    });

    it('verifyClient (async): refuse with a code, message and headers', async () => {
      const wss = await server({
        verifyClient: (_info: Any, done: Any) => setTimeout(() => done(false, 403, 'Go away', { 'X-Why': 'test' }), 5),
      });
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
      ws.on('error', () => {});
      const [, res] = await once(ws, 'unexpected-response');
      expect(res.statusCode).toBe(403);
      expect(res.headers['x-why']).toBe('test');
      let body = '';
      for await (const chunk of res) body += chunk;
      expect(body).toBe('Go away');
      ws.terminate();
    });

    it('verifyClient (async): accept', async () => {
      const wss = await server({ verifyClient: (_info: Any, done: Any) => setImmediate(() => done(true)) });
      const ws = await client(wss);
      expect(ws.readyState).toBe(WebSocket.OPEN);
    });

    it('perMessageDeflate: negotiated when both sides want it', async () => {
      const { ws, peer } = await pair({ perMessageDeflate: true });
      expect(ws.extensions).toBe('permessage-deflate');
      const big = 'x'.repeat(5000);
      const got = once(peer, 'message');
      ws.send(big);
      const [data, isBinary] = await got;
      expect(isBinary).toBe(false);
      expect(data.toString()).toBe(big);
    });

    it('perMessageDeflate: off by default on the server', async () => {
      const { ws } = await pair();
      expect(ws.extensions).toBe('');
    });

    it('autoPong false: pings are not answered automatically', async () => {
      const { ws, peer } = await pair({ autoPong: false });
      let pongs = 0;
      ws.on('pong', () => pongs++);
      const pinged = once(peer, 'ping');
      ws.ping('hi');
      const [data] = await pinged;
      expect(data.toString()).toBe('hi');
      // A round trip of a message shows the pong would have arrived by now.
      const echoed = once(ws, 'message');
      peer.send('after');
      await echoed;
      expect(pongs).toBe(0);
    });

    it('skipUTF8Validation and allowSynchronousEvents are accepted', async () => {
      const { ws } = await pair({ skipUTF8Validation: true, allowSynchronousEvents: false });
      expect(ws.readyState).toBe(1);
    });
  });

  describe('handshake refusals', () => {
    it('405 for a non-GET method', async () => {
      const wss = new WebSocketServer({ noServer: true });
      const http = createServer();
      http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
      http.listen(0, '127.0.0.1');
      await once(http, 'listening');
      cleanups.push(() => new Promise((resolve) => http.close(resolve)));
      const lines = upgradeLines();
      lines[0] = 'POST / HTTP/1.1';
      const answer = await rawRequest((http.address() as AddressInfo).port, [...lines, 'Content-Length: 0']);
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 405 Method Not Allowed');
      expect(answer.endsWith('Invalid HTTP method')).toBe(true);
    });

    it.each([
      ['a bad key', ['Sec-WebSocket-Key: nope'], 'Missing or invalid Sec-WebSocket-Key header'],
      ['a bad version', ['Sec-WebSocket-Version: 12'], 'Missing or invalid Sec-WebSocket-Version header'],
      ['a bad subprotocol list', ['Sec-WebSocket-Protocol: a,,b ,'], 'Invalid Sec-WebSocket-Protocol header'],
    ])('400 for %s, with ws message', async (_what, extra, message) => {
      const wss = await server({ perMessageDeflate: true });
      const base = upgradeLines().filter((line) => !extra.some((e) => line.startsWith(e.split(':')[0]!)));
      const answer = await rawRequest(portOf(wss), [...base, ...extra]);
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(answer.endsWith(message)).toBe(true);
      if (message.includes('Version')) expect(answer).toContain('Sec-WebSocket-Version: 13, 8');
    });

    it('400 for an invalid extensions header when deflate is on', async () => {
      const wss = await server({ perMessageDeflate: true });
      const answer = await rawRequest(portOf(wss), upgradeLines(['Sec-WebSocket-Extensions: permessage-deflate; =']));
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(answer.endsWith('Invalid or unacceptable Sec-WebSocket-Extensions header')).toBe(true);
    });

    it("'wsClientError' replaces the default answer", async () => {
      const wss = await server();
      wss.on('wsClientError', (error: Error, socket: Socket, req: IncomingMessage) => {
        expect(req.headers.upgrade).toBe('nope');
        socket.end(`HTTP/1.1 418 I'm a Teapot\r\nContent-Length: ${error.message.length}\r\n\r\n${error.message}`);
      });
      const lines = upgradeLines().map((line) => (line.startsWith('Upgrade:') ? 'Upgrade: nope' : line));
      const answer = await rawRequest(portOf(wss), lines);
      expect(answer.startsWith("HTTP/1.1 418 I'm a Teapot")).toBe(true);
      expect(answer.endsWith('Invalid Upgrade header')).toBe(true);
    });
  });

  describe('WebSocketServer events and methods', () => {
    it("'headers' lets the 101 be edited; 'connection' gets the request", async () => {
      const wss = await server();
      wss.on('headers', (headers: string[], req: IncomingMessage) => {
        expect(headers[0]).toBe('HTTP/1.1 101 Switching Protocols');
        expect(req.url).toBe('/h');
        headers.push('Set-Cookie: a=1');
      });
      const connected = once(wss, 'connection');
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/h`);
      cleanups.push(() => ws.terminate());
      const [res] = await once(ws, 'upgrade');
      expect(res.headers['set-cookie']).toEqual(['a=1']);
      const [, req] = await connected;
      expect(req.url).toBe('/h');
    });

    it('handleUpgrade with noServer, shouldHandle and the callback', async () => {
      const wss = new WebSocketServer({ noServer: true, path: '/only' });
      const http = createServer();
      http.on('upgrade', (req, socket, head) => {
        expect(wss.shouldHandle(req)).toBe(req.url!.startsWith('/only'));
        wss.handleUpgrade(req, socket, head, (ws: Any, request: IncomingMessage) => {
          expect(request).toBe(req);
          wss.emit('connection', ws, request);
        });
      });
      http.listen(0, '127.0.0.1');
      await once(http, 'listening');
      cleanups.push(() => new Promise((resolve) => http.close(resolve)));
      const connected = once(wss, 'connection');
      const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/only`);
      cleanups.push(() => ws.terminate());
      await once(ws, 'open');
      const [peer] = await connected;
      expect(peer.readyState).toBe(1);
      expect(wss.clients.has(peer)).toBe(true);
    });

    it('handleUpgrade twice on the same socket throws', async () => {
      const wss = new WebSocketServer({ noServer: true });
      const http = createServer();
      const thrown = new Promise<Error>((resolve) => {
        http.on('upgrade', (req, socket, head) => {
          wss.handleUpgrade(req, socket, head, () => {
            try {
              wss.handleUpgrade(req, socket, head, () => {});
            } catch (error) {
              resolve(error as Error);
            }
          });
        });
      });
      http.listen(0, '127.0.0.1');
      await once(http, 'listening');
      cleanups.push(() => new Promise((resolve) => http.close(resolve)));
      const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
      ws.on('error', () => {});
      cleanups.push(() => ws.terminate());
      expect((await thrown).message).toMatch(/called more than once with the same socket/);
    });

    it('close(cb): emits close; open clients stay open; second close reports not running', async () => {
      const { wss, ws, peer } = await pair();
      const closed = new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(ws.readyState).toBe(WebSocket.OPEN);
      expect(peer.readyState).toBe(WebSocket.OPEN);
      // The HTTP server ws created waits for its connections; drop ours.
      ws.terminate();
      await closed;
      const error = await new Promise<Error | undefined>((resolve) => wss.close(resolve));
      expect(error?.message).toBe('The server is not running');
    });

    it('close() with noServer emits close once every client is gone', async () => {
      const wss = new WebSocketServer({ noServer: true });
      let closed = false;
      wss.on('close', () => (closed = true));
      wss.close();
      await new Promise((resolve) => setImmediate(resolve));
      expect(closed).toBe(true);
    });
  });

  describe('WebSocket client constructor', () => {
    it('rejects bad URLs synchronously with ws messages', () => {
      expect(() => new WebSocket('nope')).toThrow(SyntaxError);
      expect(() => new WebSocket('nope')).toThrow('Invalid URL: nope');
      expect(() => new WebSocket('ftp://x')).toThrow(/The URL's protocol must be one of "ws:", "wss:", "http:", "https/);
      expect(() => new WebSocket('ws://x/#frag')).toThrow('The URL contains a fragment identifier');
      expect(() => new WebSocket('ws://x', ['a', 'a'])).toThrow('An invalid or duplicated subprotocol was specified');
      expect(() => new WebSocket('ws://x', { protocolVersion: 7 })).toThrow(RangeError);
    });

    it('url, protocol, http: scheme and headers option', async () => {
      const wss = await server();
      const connected = once(wss, 'connection');
      const ws = new WebSocket(`http://127.0.0.1:${portOf(wss)}/p?q=1`, 'chat', { headers: { 'X-Token': 'abc' } });
      cleanups.push(() => ws.terminate());
      expect(ws.url).toBe(`ws://127.0.0.1:${portOf(wss)}/p?q=1`);
      expect(ws.readyState).toBe(WebSocket.CONNECTING);
      await once(ws, 'open');
      const [, req] = await connected;
      expect(req.headers['x-token']).toBe('abc');
      expect(ws.protocol).toBe('chat');
    });

    it("'unexpected-response' or an error for a non-101 answer", async () => {
      const http = createServer((_req, res) => res.writeHead(404).end('nothing'));
      http.listen(0, '127.0.0.1');
      await once(http, 'listening');
      cleanups.push(() => new Promise((resolve) => http.close(resolve)));
      const port = (http.address() as AddressInfo).port;
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      const events: string[] = [];
      ws.on('error', (error: Error) => events.push(error.message));
      await new Promise<void>((resolve) => ws.on('close', (code: number) => (events.push(String(code)), resolve())));
      expect(events).toEqual(['Unexpected server response: 404', '1006']);
      expect(ws.readyState).toBe(WebSocket.CLOSED);
    });

    it('followRedirects with maxRedirects, and the redirect event', async () => {
      const wss = await server();
      const http = createServer((req, res) => {
        if (req.url === '/loop') res.writeHead(302, { Location: '/loop' }).end();
        else res.writeHead(301, { Location: `ws://127.0.0.1:${portOf(wss)}/final` }).end();
      });
      http.listen(0, '127.0.0.1');
      await once(http, 'listening');
      cleanups.push(() => new Promise((resolve) => http.close(resolve)));
      const port = (http.address() as AddressInfo).port;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/start`, { followRedirects: true });
      cleanups.push(() => ws.terminate());
      const redirected = once(ws, 'redirect');
      await once(ws, 'open');
      expect((await redirected)[0]).toBe(`ws://127.0.0.1:${portOf(wss)}/final`);
      expect(ws.url).toBe(`ws://127.0.0.1:${portOf(wss)}/final`);
      const looping = new WebSocket(`ws://127.0.0.1:${port}/loop`, { followRedirects: true, maxRedirects: 2 });
      const [error] = await once(looping, 'error');
      expect(error.message).toBe('Maximum redirects exceeded');
    });

    it('createConnection is used to open the socket', async () => {
      const wss = await server();
      let used = false;
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, {
        createConnection: (options: Any) => {
          used = true;
          return connect(options.port, options.host);
        },
      });
      cleanups.push(() => ws.terminate());
      await once(ws, 'open');
      expect(used).toBe(true);
    });

    it('handshakeTimeout: an answerless server times out', async () => {
      const sockets: Socket[] = [];
      const silent = createNetServer((socket) => sockets.push(socket.on('error', () => {})));
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
      cleanups.push(() => {
        for (const socket of sockets) socket.destroy();
        return new Promise((resolve) => silent.close(resolve));
      });
      const ws = new WebSocket(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, { handshakeTimeout: 50 });
      const error = await new Promise<Error>((resolve) => ws.on('error', resolve));
      expect(error.message).toBe('Opening handshake has timed out');
    });

    it('close() while connecting: error, then close 1006', async () => {
      const wss = await server();
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
      const events: string[] = [];
      ws.on('error', (error: Error) => events.push(error.message));
      ws.on('close', (code: number) => events.push(String(code)));
      const closed = new Promise((resolve) => ws.on('close', resolve));
      ws.close();
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      await closed;
      expect(events).toEqual(['WebSocket was closed before the connection was established', '1006']);
    });

    it('_socket is the net socket once open', async () => {
      const { ws } = await pair();
      expect(typeof ws._socket.remotePort).toBe('number');
    });
  });

  describe('WebSocket messaging', () => {
    it('text arrives as a Buffer with isBinary false; binary with true', async () => {
      const { ws, peer } = await pair();
      const got: Array<[Any, boolean]> = [];
      peer.on('message', (data: Any, isBinary: boolean) => got.push([data, isBinary]));
      ws.send('héllo');
      ws.send(Buffer.from([1, 2]));
      ws.send(new Uint8Array([3]));
      ws.send(42);
      ws.send('bin as text', { binary: true });
      while (got.length < 5) await once(peer, 'message');
      expect(Buffer.isBuffer(got[0]![0])).toBe(true);
      expect(got[0]![0].toString()).toBe('héllo');
      expect(got.map(([, b]) => b)).toEqual([false, true, true, false, true]);
      expect(got[3]![0].toString()).toBe('42');
    });

    it('binaryType arraybuffer and fragments; text stays a Buffer', async () => {
      const { ws, peer } = await pair();
      ws.binaryType = 'arraybuffer';
      ws.binaryType = 'bogus';
      expect(ws.binaryType).toBe('arraybuffer');
      peer.send(Buffer.from([1, 2, 3]));
      const [ab] = await once(ws, 'message');
      expect(ab).toBeInstanceOf(ArrayBuffer);
      expect([...new Uint8Array(ab)]).toEqual([1, 2, 3]);
      ws.binaryType = 'fragments';
      peer.send(Buffer.from([4]));
      const [fragments] = await once(ws, 'message');
      expect(Array.isArray(fragments)).toBe(true);
      expect(Buffer.concat(fragments)).toEqual(Buffer.from([4]));
      peer.send('text');
      const [text, isBinary] = await once(ws, 'message');
      expect(Buffer.isBuffer(text)).toBe(true);
      expect(isBinary).toBe(false);
    });

    it('send with fin: false fragments one message', async () => {
      const { ws, peer } = await pair();
      const got = once(peer, 'message');
      ws.send('ab', { fin: false });
      ws.send('cd', { fin: false });
      ws.send('ef', { fin: true });
      const [data, isBinary] = await got;
      expect(data.toString()).toBe('abcdef');
      expect(isBinary).toBe(false);
    });

    it('send callback runs once written; compress option is accepted', async () => {
      const { ws } = await pair({ perMessageDeflate: true });
      await new Promise<void>((resolve, reject) => ws.send('x'.repeat(2000), { compress: false }, (error?: Error) => (error ? reject(error) : resolve())));
      await new Promise<void>((resolve, reject) => ws.send('y', (error?: Error) => (error ? reject(error) : resolve())));
    });

    it('send while connecting throws; after close calls back with an error and counts bufferedAmount', async () => {
      const wss = await server();
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
      cleanups.push(() => ws.terminate());
      expect(() => ws.send('x')).toThrow('WebSocket is not open: readyState 0 (CONNECTING)');
      expect(() => ws.ping()).toThrow('WebSocket is not open: readyState 0 (CONNECTING)');
      await once(ws, 'open');
      ws.close();
      const error = await new Promise<Error>((resolve) => ws.send('abc', resolve));
      expect(error.message).toBe('WebSocket is not open: readyState 2 (CLOSING)');
      await once(ws, 'close');
      const before = ws.bufferedAmount;
      ws.send('abcd');
      expect(ws.bufferedAmount).toBe(before + 4);
      const late = await new Promise<Error>((resolve) => ws.ping('p', undefined, resolve));
      expect(late.message).toBe('WebSocket is not open: readyState 3 (CLOSED)');
    });

    it('ping/pong with data; events on the peer; 125-byte limit', async () => {
      const { ws, peer } = await pair();
      const pinged = once(peer, 'ping');
      const ponged = once(ws, 'pong');
      ws.ping(Buffer.from('abc'));
      expect((await pinged)[0].toString()).toBe('abc');
      expect((await ponged)[0].toString()).toBe('abc');
      const unsolicited = once(ws, 'pong');
      peer.pong('u');
      expect((await unsolicited)[0].toString()).toBe('u');
      expect(() => ws.ping(Buffer.alloc(126))).toThrow(RangeError);
      expect(() => ws.ping(Buffer.alloc(126))).toThrow('The data size must not be greater than 125 bytes');
    });

    it('pause/resume and isPaused', async () => {
      const { ws, peer } = await pair();
      expect(ws.isPaused).toBe(false);
      ws.pause();
      expect(ws.isPaused).toBe(true);
      let received = 0;
      ws.on('message', () => received++);
      peer.send('a');
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(received).toBe(0);
      ws.resume();
      expect(ws.isPaused).toBe(false);
      await once(ws, 'message');
      expect(received).toBe(1);
    });
  });

  describe('closing', () => {
    it('close(code, reason): both sides see the code; reason as a Buffer', async () => {
      const { ws, peer } = await pair();
      const peerClosed = once(peer, 'close');
      const clientClosed = once(ws, 'close');
      ws.close(4000, 'bye');
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      const [code, reason] = await peerClosed;
      expect(code).toBe(4000);
      expect(Buffer.isBuffer(reason)).toBe(true);
      expect(reason.toString()).toBe('bye');
      const [clientCode] = await clientClosed;
      expect(clientCode).toBe(4000);
      expect(ws.readyState).toBe(WebSocket.CLOSED);
    });

    // Deliberate difference (README): ws echoes the peer's close reason; fullduplex echoes the
    // code only (RFC 6455 §5.5.1 lets the reply carry any reason).
    it('the closing side sees the echoed code; ws echoes the reason too, fullduplex/ws does not', async () => {
      const { ws } = await pair();
      const closed = once(ws, 'close');
      ws.close(4001, 'echo me');
      const [code, reason] = await closed;
      expect([code, reason.toString()]).toEqual([4001, _name === 'ws' ? 'echo me' : '']);
    });

    it('close() without a code is seen as 1005', async () => {
      const { ws, peer } = await pair();
      const closed = once(peer, 'close');
      ws.close();
      expect((await closed)[0]).toBe(1005);
    });

    it('close validates the code and reason', async () => {
      const { ws } = await pair();
      expect(() => ws.close(1006)).toThrow(TypeError);
      expect(() => ws.close(1006)).toThrow('First argument must be a valid error code number');
      expect(() => ws.close(1000, 'x'.repeat(124))).toThrow('The message must not be greater than 123 bytes');
      expect(ws.readyState).toBe(WebSocket.OPEN);
    });

    it('terminate(): CLOSING at once, close 1006 on both sides', async () => {
      const { ws, peer } = await pair();
      const peerClosed = once(peer, 'close');
      const clientClosed = once(ws, 'close');
      ws.terminate();
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      const [code] = await clientClosed;
      expect(code).toBe(1006);
      expect((await peerClosed)[0]).toBe(1006);
    });
  });

  describe('EventTarget interface', () => {
    it('onmessage/onopen/onclose and addEventListener', async () => {
      const wss = await server();
      let serverSide: Any;
      wss.on('connection', (peer: Any) => {
        serverSide = peer;
        peer.send('hi');
        peer.send(Buffer.from([9]));
      });
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
      cleanups.push(() => ws.terminate());
      const events: Any[] = [];
      ws.onopen = (event: Any) => events.push(['open', event.type, event.target === ws]);
      const handler = (event: Any): void => void events.push(['message', event.data]);
      ws.addEventListener('message', handler);
      ws.addEventListener('message', handler);
      const once2 = { handleEvent: (event: Any) => events.push(['once', event.data]) };
      ws.addEventListener('message', once2, { once: true });
      expect(typeof ws.onopen).toBe('function');
      expect(ws.onmessage).toBeNull();
      const done = new Promise<void>((resolve) => {
        ws.onclose = (event: Any) => {
          events.push(['close', event.code, event.reason, event.wasClean]);
          resolve();
        };
      });
      while (events.filter(([type]: string[]) => type === 'message').length < 2) await once(ws, 'message');
      ws.removeEventListener('message', handler);
      serverSide.close(1000, 'done');
      await done;
      expect(events[0]).toEqual(['open', 'open', true]);
      expect(events[1]).toEqual(['message', 'hi']);
      expect(events[2]).toEqual(['once', 'hi']);
      expect(events[3]![0]).toBe('message');
      expect(Buffer.from(events[3]![1])).toEqual(Buffer.from([9]));
      expect(events[4]).toEqual(['close', 1000, 'done', true]);
    });
  });

  describe('createWebSocketStream', () => {
    it('pipes messages both ways and ends with the socket', async () => {
      const { ws, peer } = await pair();
      const stream = lib.createWebSocketStream(ws);
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      const got = once(peer, 'message');
      stream.write('from stream');
      expect((await got)[0].toString()).toBe('from stream');
      peer.send('to stream');
      peer.close();
      await once(stream, 'end');
      expect(Buffer.concat(chunks).toString()).toBe('to stream');
    });
  });
});
