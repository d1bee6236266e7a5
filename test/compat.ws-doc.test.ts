/**
 * The rest of the `ws` compatibility suite (test/compat.ws.test.ts has the first part): the
 * items of ws 8's doc/ws.md that suite did not reach — server options (backlog, WebSocket,
 * server on HTTPS, allowSynchronousEvents), the server's 'error' event, client options
 * (finishRequest, protocolVersion, autoPong, allowSynchronousEvents, perMessageDeflate, TLS
 * options, ws+unix:, credentials in the URL), attributes on server-side sockets, onerror,
 * ping/pong callbacks, binaryType 'blob', createWebSocketStream's ending and object mode, and the
 * receive-path error codes table (WS_ERR_*). Every test body runs against `ws` and against
 * `fullduplex/ws`; the deliberate differences are skipped for us only, each with its reason,
 * and listed in the README ("Migrating from ws").
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as realWs from 'ws';
import * as ours from '../src/compat/ws/index.js';
import { closeCodeIn, closePayload, frame, parseFrames, rawExchange, rawServer } from './fixtures/compat/raw.js';
import { describeWithPeer } from './helpers/peers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
interface Target {
  WebSocket: Any;
  WebSocketServer: Any;
  createWebSocketStream: Any;
}
const targets: Array<[string, Target]> = [
  ['ws', realWs as unknown as Target],
  ['fullduplex/ws', ours as unknown as Target],
];

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const portOf = (server: Any): number => (server.address() as AddressInfo).port;
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe.each(targets)('%s', (name, lib) => {
  const { WebSocket, WebSocketServer } = lib;
  const isOurs = name !== 'ws';

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

  function client(url: string, protocols?: Any, options?: Any): Any {
    const ws = new WebSocket(url, protocols, options);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    return ws;
  }

  async function pair(options: Record<string, unknown> = {}, clientOptions?: Any): Promise<{ wss: Any; ws: Any; peer: Any; req: IncomingMessage }> {
    const wss = await server(options);
    const connected = once(wss, 'connection');
    const ws = client(`ws://127.0.0.1:${portOf(wss)}/`, undefined, clientOptions);
    await once(ws, 'open');
    const [peer, req] = await connected;
    return { wss, ws, peer, req };
  }

  async function rawPeer(frames: Buffer[]): Promise<number> {
    const raw = await rawServer(frames);
    cleanups.push(() => {
      for (const socket of raw.sockets) socket.destroy();
      return new Promise((resolve) => raw.server.close(resolve));
    });
    return raw.port;
  }

  describe('WebSocketServer options', () => {
    it('backlog is passed to listen()', async () => {
      const wss = await server({ backlog: 8 });
      const ws = client(`ws://127.0.0.1:${portOf(wss)}`);
      await once(ws, 'open');
    });

    it('WebSocket: the server makes sockets of the given class', async () => {
      class Tagged extends WebSocket {
        tag = 'mine';
      }
      const { peer } = await pair({ WebSocket: Tagged });
      expect(peer).toBeInstanceOf(Tagged);
      expect(peer.tag).toBe('mine');
    });

    it("'error' forwards the HTTP server's error (port in use)", async () => {
      const first = await server();
      const second = new WebSocketServer({ port: portOf(first), host: '127.0.0.1' });
      const [error] = await once(second, 'error');
      expect(error.code).toBe('EADDRINUSE');
    });

    it('allowSynchronousEvents false: each message in its own macrotask', async () => {
      const wss = await server({ allowSynchronousEvents: false });
      const order: string[] = [];
      const done = new Promise<void>((resolve) => {
        wss.on('connection', (peer: Any) => {
          peer.on('message', (data: Buffer) => {
            const text = data.toString();
            order.push(text);
            queueMicrotask(() => order.push(`after ${text}`));
            if (text === 'c') setImmediate(resolve);
          });
        });
      });
      // Three frames in the same write as the request: the server has them in one chunk.
      void rawExchange(portOf(wss), [frame(0x81, 'a'), frame(0x81, 'b'), frame(0x81, 'c')], { inHead: true });
      await done;
      expect(order).toEqual(['a', 'after a', 'b', 'after b', 'c', 'after c']);
    });

    it('allowSynchronousEvents true (default): messages of one chunk in the same tick', async () => {
      const wss = await server();
      const order: string[] = [];
      const done = new Promise<void>((resolve) => {
        wss.on('connection', (peer: Any) => {
          peer.on('message', (data: Buffer) => {
            const text = data.toString();
            order.push(text);
            queueMicrotask(() => order.push(`after ${text}`));
            if (text === 'b') setImmediate(resolve);
          });
        });
      });
      void rawExchange(portOf(wss), [frame(0x81, 'a'), frame(0x81, 'b')], { inHead: true });
      await done;
      expect(order).toEqual(['a', 'b', 'after a', 'after b']);
    });

    // Deliberate difference (README): text is always validated (RFC 6455 §8.1), so fullduplex/ws
    // accepts the option and still fails invalid UTF-8 with 1007; ws delivers it.
    it('skipUTF8Validation: ws delivers invalid UTF-8 text; fullduplex/ws still validates (1007)', async () => {
      const wss = await server({ skipUTF8Validation: true });
      const outcome = new Promise<Buffer | number>((resolve) =>
        wss.on('connection', (peer: Any) => {
          peer.on('error', () => {});
          peer.on('message', resolve);
          peer.on('close', (code: number) => resolve(code));
        }),
      );
      void rawExchange(portOf(wss), [frame(0x81, Buffer.from([0xff, 0xfe]))]);
      expect(await outcome).toEqual(isOurs ? 1007 : Buffer.from([0xff, 0xfe]));
    });

    it('server-side sockets: url undefined, protocol and extensions set, connection req', async () => {
      const { peer, req } = await pair({ perMessageDeflate: true });
      expect(peer.url).toBeUndefined();
      expect(peer.protocol).toBe('');
      expect(peer.extensions).toBe('permessage-deflate');
      expect(req.headers.upgrade).toBe('websocket');
      expect(peer.readyState).toBe(WebSocket.OPEN);
      expect(peer.bufferedAmount).toBe(0);
    });

    it('close() while a handshake is verifying: the late upgrade is refused with 503', async () => {
      let release!: () => void;
      const wss = await server({ verifyClient: (_info: Any, done: Any) => (release = () => done(true)) });
      const ws = client(`ws://127.0.0.1:${portOf(wss)}`);
      const response = new Promise<number>((resolve) => ws.on('unexpected-response', (_req: Any, res: Any) => resolve(res.statusCode)));
      while (release === undefined) await tick();
      wss.close();
      release();
      expect(await response).toBe(503);
    });
  });

  describe('WebSocket client options', () => {
    it('finishRequest: called with (request, websocket); the caller ends the request', async () => {
      const wss = await server();
      const connected = once(wss, 'connection');
      let args: Any[] = [];
      const ws = client(`ws://127.0.0.1:${portOf(wss)}`, {
        finishRequest: (req: Any, socket: Any) => {
          args = [req, socket];
          req.setHeader('X-Finished', 'yes');
          req.end();
        },
      });
      await once(ws, 'open');
      expect(args[1]).toBe(ws);
      expect(typeof args[0].setHeader).toBe('function');
      const [, req] = await connected;
      expect(req.headers['x-finished']).toBe('yes');
    });

    it('protocolVersion 8: Sec-WebSocket-Version 8, origin in Sec-WebSocket-Origin', async () => {
      const seen: Any[] = [];
      const wss = await server({ verifyClient: (info: Any) => (seen.push(info), true) });
      const ws = client(`ws://127.0.0.1:${portOf(wss)}`, { protocolVersion: 8, origin: 'https://old.example' });
      await once(ws, 'open');
      expect(seen[0].req.headers['sec-websocket-version']).toBe('8');
      expect(seen[0].req.headers['sec-websocket-origin']).toBe('https://old.example');
      expect(seen[0].origin).toBe('https://old.example');
    });

    it('autoPong false (client): the ping event fires, no pong is sent', async () => {
      const { ws, peer } = await pair({}, { autoPong: false });
      let pongs = 0;
      peer.on('pong', () => pongs++);
      const pinged = once(ws, 'ping');
      peer.ping('p');
      expect((await pinged)[0].toString()).toBe('p');
      const echoed = once(peer, 'message');
      ws.send('round trip');
      await echoed;
      expect(pongs).toBe(0);
    });

    it('allowSynchronousEvents false (client): each message in its own macrotask', async () => {
      const port = await rawPeer([frame(0x81, 'a', { mask: false }), frame(0x81, 'b', { mask: false }), frame(0x89, 'p', { mask: false })]);
      const ws = client(`ws://127.0.0.1:${port}`, { allowSynchronousEvents: false });
      const order: string[] = [];
      ws.on('message', (data: Buffer) => {
        order.push(data.toString());
        queueMicrotask(() => order.push(`after ${data}`));
      });
      await once(ws, 'ping');
      order.push('ping');
      expect(order).toEqual(['a', 'after a', 'b', 'after b', 'ping']);
    });

    it('perMessageDeflate false: no offer, even to a server that would accept', async () => {
      const { ws, req } = await pair({ perMessageDeflate: true }, { perMessageDeflate: false });
      expect(req.headers['sec-websocket-extensions']).toBeUndefined();
      expect(ws.extensions).toBe('');
    });

    it('perMessageDeflate parameters are offered and negotiated', async () => {
      const wss = await server({ perMessageDeflate: true });
      const connected = once(wss, 'connection');
      const ws = client(`ws://127.0.0.1:${portOf(wss)}`, { perMessageDeflate: { serverNoContextTakeover: true, clientMaxWindowBits: 10 } });
      const [res] = await once(ws, 'upgrade');
      const [peer, req] = await connected;
      expect(req.headers['sec-websocket-extensions']).toContain('server_no_context_takeover');
      expect(req.headers['sec-websocket-extensions']).toContain('client_max_window_bits=10');
      expect(res.headers['sec-websocket-extensions']).toContain('server_no_context_takeover');
      const text = 'compress me '.repeat(200);
      const got = once(ws, 'message');
      peer.send(text);
      expect((await got)[0].toString()).toBe(text);
    });

    it('credentials in the URL become an Authorization header', async () => {
      const wss = await server();
      const connected = once(wss, 'connection');
      const ws = client(`ws://user:p%40ss@127.0.0.1:${portOf(wss)}/`);
      await once(ws, 'open');
      const [, req] = await connected;
      expect(req.headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    });

    it('ws+unix: URLs reach a server on a Unix socket', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'fd-ws-unix-'));
      const path = join(dir, 'sock');
      const http = createServer();
      const wss = new WebSocketServer({ server: http });
      http.listen(path);
      await once(http, 'listening');
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      cleanups.push(() => new Promise((resolve) => http.close(resolve)));
      cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
      const connected = once(wss, 'connection');
      const ws = client(`ws+unix:${path}:/chat?x=1`);
      await once(ws, 'open');
      const [peer, req] = await connected;
      expect(req.url).toBe('/chat?x=1');
      const got = once(ws, 'message');
      peer.send('over unix');
      expect((await got)[0].toString()).toBe('over unix');
    });

    // Deliberate difference (README): masks always come from the CSPRNG, so fullduplex/ws accepts
    // generateMask and never calls it; ws fills every frame's key with it.
    it('generateMask: ws calls it for every frame; fullduplex/ws ignores it, and frames still arrive', async () => {
      let calls = 0;
      const { ws, peer } = await pair({}, { generateMask: (mask: Buffer) => (calls++, mask.fill(0)) });
      const got = once(peer, 'message');
      ws.send('masked with zeros');
      expect((await got)[0].toString()).toBe('masked with zeros');
      if (isOurs) expect(calls).toBe(0);
      else expect(calls).toBeGreaterThan(0);
    });
  });

  describe('WebSocket methods, attributes and events', () => {
    it('ping/pong with the mask argument and a callback', async () => {
      const { ws, peer } = await pair();
      const pinged = once(peer, 'ping');
      await new Promise<void>((resolve, reject) => ws.ping('x', true, (error?: Error) => (error ? reject(error) : resolve())));
      expect((await pinged)[0].toString()).toBe('x');
      const ponged = once(peer, 'pong');
      await new Promise<void>((resolve, reject) => ws.pong('y', undefined, (error?: Error) => (error ? reject(error) : resolve())));
      expect((await ponged)[0].toString()).toBe('y');
      const empty = once(peer, 'ping');
      ws.ping();
      expect((await empty)[0].length).toBe(0);
    });

    it('send with binary false sends a Buffer as text; the mask option is accepted on a client', async () => {
      const { ws, peer } = await pair();
      const got = once(peer, 'message');
      ws.send(Buffer.from('as text'), { binary: false, mask: true });
      const [data, isBinary] = await got;
      expect([data.toString(), isBinary]).toEqual(['as text', false]);
    });

    it('binaryType blob delivers binary messages as Blobs', async () => {
      const { ws, peer } = await pair();
      ws.binaryType = 'blob';
      expect(ws.binaryType).toBe('blob');
      const got = once(ws, 'message');
      peer.send(Buffer.from([5, 6, 7]));
      const [blob, isBinary] = await got;
      expect(isBinary).toBe(true);
      expect(blob).toBeInstanceOf(Blob);
      expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([5, 6, 7]);
    });

    it('onerror gets an ErrorEvent when the connection fails; onclose a CloseEvent', async () => {
      const http = createServer((_req, res) => res.writeHead(403).end());
      http.listen(0, '127.0.0.1');
      await once(http, 'listening');
      cleanups.push(() => new Promise((resolve) => http.close(resolve)));
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(http)}`);
      const events: Any[] = [];
      ws.onerror = (event: Any) => events.push([event.type, event.message, event.error instanceof Error, event.target === ws]);
      expect(typeof ws.onerror).toBe('function');
      await new Promise<void>((resolve) => {
        ws.onclose = (event: Any) => {
          events.push([event.type, event.code, event.wasClean]);
          resolve();
        };
      });
      expect(events).toEqual([
        ['error', 'Unexpected server response: 403', true, true],
        ['close', 1006, false],
      ]);
    });

    it('addEventListener for error and close with handleEvent objects; removeEventListener', async () => {
      const { ws, peer } = await pair();
      const seen: string[] = [];
      const removed = { handleEvent: () => seen.push('removed') };
      ws.addEventListener('close', removed);
      ws.removeEventListener('close', removed);
      const closed = new Promise<void>((resolve) =>
        ws.addEventListener('close', {
          handleEvent(event: Any) {
            seen.push(`close ${event.code} ${event.reason}`);
            resolve();
          },
        }),
      );
      peer.close(4321, 'why');
      await closed;
      expect(seen).toEqual(['close 4321 why']);
    });

    it("'close' fires once with the code when the peer's socket just ends (1006)", async () => {
      const { ws, peer } = await pair();
      const codes: number[] = [];
      ws.on('close', (code: number) => codes.push(code));
      peer._socket.destroy();
      await once(ws, 'close');
      await tick();
      expect(codes).toEqual([1006]);
      expect(ws.readyState).toBe(WebSocket.CLOSED);
    });
  });

  describe('broadcast with a loop over clients', () => {
    it('the same Buffer sent to every client; changed in a later turn, sent again: each gets what was sent', async () => {
      const wss = await server();
      const sockets: Any[] = [];
      for (let i = 0; i < 3; i++) {
        const connected = once(wss, 'connection');
        const ws = client(`ws://127.0.0.1:${portOf(wss)}`);
        await once(ws, 'open');
        await connected;
        sockets.push(ws);
      }
      const received = sockets.map(() => [] as string[]);
      sockets.forEach((ws, i) => ws.on('message', (data: Buffer) => received[i]!.push(data.toString())));
      const shared = Buffer.from('first');
      for (const peer of wss.clients) peer.send(shared);
      for (const peer of wss.clients) peer.send('text too', { binary: false });
      await new Promise((resolve) => setTimeout(resolve, 10));
      shared.write('again');
      for (const peer of wss.clients) peer.send(shared, { binary: true });
      while (received.some((list) => list.length < 3)) await tick();
      expect(received).toEqual(sockets.map(() => ['first', 'text too', 'again']));
    });
  });

  describe('createWebSocketStream', () => {
    it('ending the stream closes the socket (the peer sees 1005)', async () => {
      const { ws, peer } = await pair();
      const stream = lib.createWebSocketStream(ws);
      stream.resume();
      const closed = once(peer, 'close');
      stream.end('last');
      const [message] = await once(peer, 'message');
      expect(message.toString()).toBe('last');
      expect((await closed)[0]).toBe(1005);
    });

    it('destroying the stream terminates the socket (1006)', async () => {
      const { ws, peer } = await pair();
      const stream = lib.createWebSocketStream(ws);
      stream.on('error', () => {});
      const closed = once(peer, 'close');
      stream.destroy();
      expect((await closed)[0]).toBe(1006);
    });

    it('readableObjectMode: text messages are strings', async () => {
      const { ws, peer } = await pair();
      const stream = lib.createWebSocketStream(ws, { readableObjectMode: true });
      const got = once(stream, 'data');
      peer.send('as a string');
      expect((await got)[0]).toBe('as a string');
    });
  });

  describe('receive-path error codes (WS_ERR_*)', () => {
    const fragmentThenText = [frame(0x01, 'a'), frame(0x81, 'b')];
    const cases: Array<[string, Buffer[], string, string, number, 'RangeError' | 'Error', Record<string, unknown>?]> = [
      ['RSV2 set', [frame(0xa1, 'x')], 'WS_ERR_UNEXPECTED_RSV_2_3', 'Invalid WebSocket frame: RSV2 and RSV3 must be clear', 1002, 'RangeError'],
      ['RSV1 set without deflate', [frame(0xc1, 'x')], 'WS_ERR_UNEXPECTED_RSV_1', 'Invalid WebSocket frame: RSV1 must be clear', 1002, 'RangeError'],
      ['a reserved opcode', [frame(0x83, 'x')], 'WS_ERR_INVALID_OPCODE', 'Invalid WebSocket frame: invalid opcode 3', 1002, 'RangeError'],
      ['a continuation with nothing to continue', [frame(0x80, 'x')], 'WS_ERR_INVALID_OPCODE', 'Invalid WebSocket frame: invalid opcode 0', 1002, 'RangeError'],
      ['a new message inside a fragmented one', fragmentThenText, 'WS_ERR_INVALID_OPCODE', 'Invalid WebSocket frame: invalid opcode 1', 1002, 'RangeError'],
      ['a fragmented ping', [frame(0x09, 'x')], 'WS_ERR_EXPECTED_FIN', 'Invalid WebSocket frame: FIN must be set', 1002, 'RangeError'],
      ['a 126-byte ping', [frame(0x89, Buffer.alloc(126))], 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 'Invalid WebSocket frame: invalid payload length 126', 1002, 'RangeError'],
      ['a 1-byte close', [frame(0x88, Buffer.from([3]))], 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 'Invalid WebSocket frame: invalid payload length 1', 1002, 'RangeError'],
      ['an unmasked frame to a server', [frame(0x81, 'x', { mask: false })], 'WS_ERR_EXPECTED_MASK', 'Invalid WebSocket frame: MASK must be set', 1002, 'RangeError'],
      ['close code 1005 on the wire', [frame(0x88, closePayload(1005))], 'WS_ERR_INVALID_CLOSE_CODE', 'Invalid WebSocket frame: invalid status code 1005', 1002, 'RangeError'],
      ['invalid UTF-8 text', [frame(0x81, Buffer.from([0xc3, 0x28]))], 'WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence', 1007, 'Error'],
      ['an invalid UTF-8 close reason', [frame(0x88, closePayload(1000, Buffer.from([0xff])))], 'WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence', 1007, 'Error'],
      ['a message over maxPayload', [frame(0x82, Buffer.alloc(20))], 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded', 1009, 'RangeError', { maxPayload: 10 }],
      ['fragments over maxPayload together', [frame(0x02, Buffer.alloc(6)), frame(0x80, Buffer.alloc(6))], 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded', 1009, 'RangeError', { maxPayload: 10 }],
    ];

    it.each(cases)('%s: error code, message and close code', async (_what, frames, code, message, closeCode, kind, options) => {
      const wss = await server(options ?? {});
      const errors: Any[] = [];
      const peerClosed = new Promise<number>((resolve) =>
        wss.on('connection', (peer: Any) => {
          peer.on('error', (error: Error) => errors.push(error));
          peer.on('close', (closed: number) => resolve(closed));
        }),
      );
      const sent = await rawExchange(portOf(wss), frames);
      expect(closeCodeIn(sent)).toBe(closeCode);
      await peerClosed;
      expect(errors).toHaveLength(1);
      expect(errors[0].code).toBe(code);
      expect(errors[0].message).toBe(message);
      expect(errors[0].constructor.name).toBe(kind);
    });

    // Difference (README): our parser folds a frame length beyond 2^53 - 1 into the message size
    // limit, so the error is WS_ERR_UNSUPPORTED_MESSAGE_LENGTH; the close code (1009) is the same.
    it('a length over 2^53 - 1: close 1009 (ws: WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH)', async () => {
      const wss = await server();
      const errors: Any[] = [];
      const peerClosed = new Promise<number>((resolve) =>
        wss.on('connection', (peer: Any) => {
          peer.on('error', (error: Error) => errors.push(error));
          peer.on('close', (closed: number) => resolve(closed));
        }),
      );
      const sent = await rawExchange(portOf(wss), [frame(0x82, Buffer.alloc(0), { length64: 2n ** 60n })]);
      expect(closeCodeIn(sent)).toBe(1009);
      await peerClosed;
      expect(errors[0]).toBeInstanceOf(RangeError);
      if (isOurs) {
        expect(errors[0].code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      } else {
        expect(errors[0].code).toBe('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH');
        expect(errors[0].message).toBe('Unsupported WebSocket frame: payload length > 2^53 - 1');
      }
    });

    it('a masked frame to a client: WS_ERR_UNEXPECTED_MASK, close 1002', async () => {
      const port = await rawPeer([frame(0x81, 'x', { mask: true })]);
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      cleanups.push(() => ws.terminate());
      const [error] = await once(ws, 'error');
      expect(error.code).toBe('WS_ERR_UNEXPECTED_MASK');
      expect(error.message).toBe('Invalid WebSocket frame: MASK must be clear');
      expect(error).toBeInstanceOf(RangeError);
    });

    it('an unknown close code from the peer is echoed as the failure code 1002', async () => {
      const wss = await server();
      wss.on('connection', (peer: Any) => peer.on('error', () => {}));
      const sent = await rawExchange(portOf(wss), [frame(0x88, closePayload(2999))]);
      expect(closeCodeIn(sent)).toBe(1002);
      expect(parseFrames(sent).filter((f) => f.opcode === 8)).toHaveLength(1);
    });
  });

  describeWithPeer('openssl', 'wss:// with a self-signed certificate', () => {
    let dir: string;
    let cert: Buffer;
    let key: Buffer;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'fd-compat-tls-'));
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        { stdio: 'ignore' },
      );
      cert = readFileSync(join(dir, 'cert.pem'));
      key = readFileSync(join(dir, 'key.pem'));
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function secureServer(options: Record<string, unknown> = {}): Promise<{ wss: Any; port: number }> {
      const https = createHttpsServer({ cert, key });
      const wss = new WebSocketServer({ server: https, ...options });
      https.listen(0, '127.0.0.1');
      await once(https, 'listening');
      cleanups.push(() => new Promise((resolve) => https.close(resolve)));
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            for (const peer of wss.clients) peer.terminate();
            wss.close(() => resolve());
          }),
      );
      return { wss, port: portOf(https) };
    }

    it('server on an HTTPS server; the client trusts the certificate through ca; verifyClient sees secure', async () => {
      const infos: Any[] = [];
      const { wss, port } = await secureServer({ verifyClient: (info: Any) => (infos.push(info), true) });
      wss.on('connection', (peer: Any) => peer.on('message', (data: Buffer, isBinary: boolean) => peer.send(data, { binary: isBinary })));
      const ws = client(`wss://localhost:${port}/`, { ca: cert });
      await once(ws, 'open');
      expect(ws.url).toBe(`wss://localhost:${port}/`);
      expect(infos[0].secure).toBe(true);
      const got = once(ws, 'message');
      ws.send('over TLS');
      expect((await got)[0].toString()).toBe('over TLS');
      ws.close(1000);
      expect((await once(ws, 'close'))[0]).toBe(1000);
    });

    it('an untrusted certificate fails with the TLS error, then close 1006', async () => {
      const { port } = await secureServer();
      const ws = new WebSocket(`wss://127.0.0.1:${port}/`);
      cleanups.push(() => ws.terminate());
      const events: Any[] = [];
      ws.on('error', (error: Any) => events.push(error.code));
      await new Promise<void>((resolve) => ws.on('close', (code: number) => (events.push(code), resolve())));
      expect(events).toEqual(['DEPTH_ZERO_SELF_SIGNED_CERT', 1006]);
    });

    it('rejectUnauthorized false and servername are passed to tls.connect', async () => {
      const { port } = await secureServer();
      const ws = client(`wss://127.0.0.1:${port}/`, { rejectUnauthorized: false, servername: 'localhost' });
      await once(ws, 'open');
      expect(ws._socket.servername).toBe('localhost');
    });
  });
});
