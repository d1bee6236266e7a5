/**
 * The server facing bad or hostile peers, byte by byte on raw TCP sockets: handshake limits
 * (timeout, head size, header count, version, method), protocol errors failing the connection
 * with the right close code (RFC 6455 §7.1.7, §7.4.1), close and heartbeat timeouts, the `verify`
 * hook, `attach()` to node:http, and read backpressure when nobody consumes messages.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serve, WebSocketServer, type ServerOptions, type UpgradeInfo, type WebSocketConnection } from '../src/index.js';
import { cleanupAfterEach, nextEvent, sleep, withTimeout } from './helpers/async.js';
import { closePayload, frameHeader, maskBytes, Op, RawClient, RSV1, upgradeRequest } from './helpers/raw.js';
import { Inbox, openWs } from './helpers/ws.js';

const defer = cleanupAfterEach();

/**
 * Our server with a handler that leaves connections open, and the server side of each
 * connection as it is accepted. Closed after the test (raw clients registered later go first).
 */
async function startServer(options: ServerOptions = {}): Promise<{ server: WebSocketServer; port: number; connections: WebSocketConnection[] }> {
  const connections: WebSocketConnection[] = [];
  const server = await serve((ws) => void connections.push(ws), { pingInterval: 0, ...options });
  defer(() => server.close());
  return { server, port: server.address().port, connections };
}

async function rawConnect(port: number): Promise<RawClient> {
  const raw = await RawClient.connect(port);
  defer(() => raw.destroy());
  return raw;
}

async function rawOpen(port: number, path = '/'): Promise<RawClient> {
  const raw = await RawClient.open(port, path);
  defer(() => raw.destroy());
  return raw;
}

/** Sends `request` on a fresh socket and returns the server's HTTP response. */
async function exchange(port: number, request: string): Promise<{ raw: RawClient; response: Awaited<ReturnType<RawClient['readResponse']>> }> {
  const raw = await rawConnect(port);
  raw.write(request);
  return { raw, response: await raw.readResponse() };
}

describe('opening handshake limits', () => {
  it('drops a client that sends half a request and stops (slowloris) after handshakeTimeout', async () => {
    const { server, port } = await startServer({ handshakeTimeout: 300 });
    const raw = await rawConnect(port);
    raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    await raw.waitClosed(5000);
    expect(raw.frames).toEqual([]);
    expect(server.clients.size).toBe(0);
  });

  it('drops a client that keeps trickling header bytes once handshakeTimeout has passed since accept', async () => {
    const { port } = await startServer({ handshakeTimeout: 300 });
    const raw = await rawConnect(port);
    raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    // One byte every 50 ms never completes the head and never lets the socket go idle for 300 ms.
    const trickle = setInterval(() => raw.write('a'), 50);
    defer(() => clearInterval(trickle));
    // ~60 bytes in 3 s: far from any size limit, so only the handshake deadline can end it.
    await raw.waitClosed(3000);
  });

  it('answers 431 to a head larger than maxHeadSize (default 8192) and closes', async () => {
    const { port } = await startServer();
    const { raw, response } = await exchange(port, upgradeRequest('/', { headers: { 'X-Big': 'a'.repeat(9000) } }));
    expect(response.status).toBe(431);
    await raw.waitClosed();
  });

  it('answers 431 to a head larger than a configured maxHeadSize', async () => {
    const { port } = await startServer({ maxHeadSize: 1024 });
    const { raw, response } = await exchange(port, upgradeRequest('/', { headers: { 'X-Big': 'a'.repeat(1500) } }));
    expect(response.status).toBe(431);
    await raw.waitClosed();
  });

  it('answers 431 to more header fields than maxHeaderCount', async () => {
    const { port } = await startServer({ maxHeaderCount: 10 });
    const extraLines = Array.from({ length: 20 }, (_, i) => `X-Extra-${i}: ${i}`);
    const { raw, response } = await exchange(port, upgradeRequest('/', { extraLines }));
    expect(response.status).toBe(431);
    await raw.waitClosed();
  });

  it.each([['8'], ['14'], [null]])('answers 426 with Sec-WebSocket-Version: 13 to version %s', async (version) => {
    const { port } = await startServer();
    const { raw, response } = await exchange(port, upgradeRequest('/', { headers: { 'Sec-WebSocket-Version': version } }));
    expect(response.status).toBe(426);
    expect(response.headers['sec-websocket-version']).toBe('13');
    await raw.waitClosed();
  });

  it.each(['POST', 'PUT', 'HEAD'])('refuses a %s upgrade with 405 and closes', async (method) => {
    const { port } = await startServer();
    const { raw, response } = await exchange(port, upgradeRequest('/', { method }));
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET');
    await raw.waitClosed();
  });

  it('refuses a missing or malformed Sec-WebSocket-Key with 400', async () => {
    const { port } = await startServer();
    const { response } = await exchange(port, upgradeRequest('/', { headers: { 'Sec-WebSocket-Key': 'short' } }));
    expect(response.status).toBe(400);
  });

  it('accepts Connection: keep-alive, Upgrade', async () => {
    const { port } = await startServer();
    const { response } = await exchange(port, upgradeRequest('/', { headers: { Connection: 'keep-alive, Upgrade' } }));
    expect(response.status).toBe(101);
    expect(response.headers.upgrade?.toLowerCase()).toBe('websocket');
  });

  it('answers 404 outside the path option', async () => {
    const { port } = await startServer({ path: '/ws' });
    expect((await exchange(port, upgradeRequest('/elsewhere'))).response.status).toBe(404);
    expect((await exchange(port, upgradeRequest('/ws?x=1'))).response.status).toBe(101);
  });
});

describe('the server fails the connection on a protocol error (§7.1.7)', () => {
  const cases: Array<[string, number, (raw: RawClient) => void]> = [
    ['a message larger than maxMessageSize (decided from the header alone)', 1009, (raw) => raw.write(frameHeader(Op.BINARY, 2000))],
    [
      'a fragmented message growing past maxMessageSize',
      1009,
      (raw) => {
        raw.send(Op.TEXT, 'a'.repeat(600), { fin: false });
        raw.send(Op.CONTINUATION, 'a'.repeat(600));
      },
    ],
    ['an unmasked frame (§5.1)', 1002, (raw) => raw.send(Op.TEXT, 'hello', { mask: false })],
    ['RSV1 without a negotiated extension (§5.2)', 1002, (raw) => raw.send(Op.TEXT, 'hello', { rsv: RSV1 })],
    ['invalid UTF-8 in a text message (§8.1)', 1007, (raw) => raw.send(Op.TEXT, Buffer.from([0x68, 0xff, 0xfe]))],
    ['a reserved data opcode (0x3)', 1002, (raw) => raw.send(0x3, 'x')],
    ['a reserved control opcode (0xB)', 1002, (raw) => raw.send(0xb, 'x')],
    ['a continuation frame with no message started', 1002, (raw) => raw.send(Op.CONTINUATION, 'x')],
    ['a fragmented ping (§5.5)', 1002, (raw) => raw.send(Op.PING, 'x', { fin: false })],
    ['a ping with a 126-byte payload (§5.5)', 1002, (raw) => raw.send(Op.PING, Buffer.alloc(126))],
    ['a close frame with code 1005, which must not be sent (§7.4.1)', 1002, (raw) => raw.send(Op.CLOSE, closePayload(1005))],
  ];

  it.each(cases)('on %s: close frame %i, then TCP close', async (_name, code, sendBad) => {
    const { port, connections } = await startServer({ maxMessageSize: 1000 });
    const raw = await rawOpen(port);
    sendBad(raw);
    const close = await raw.nextFrameOf(Op.CLOSE);
    expect(close.closeCode).toBe(code);
    expect(close.masked).toBe(false);
    await raw.waitClosed();
    expect(raw.endReceived).toBe(true);
    expect(connections).toHaveLength(1);
    await withTimeout(connections[0]!.whenClosed(), 5000, 'server side closed');
    expect(connections[0]!.closeCode).toBe(code);
    expect(connections[0]!.wasClean).toBe(false);
  });

  it('accepts a message of exactly maxMessageSize bytes', async () => {
    const { port, connections } = await startServer({ maxMessageSize: 1000 });
    const raw = await rawOpen(port);
    raw.send(Op.BINARY, Buffer.alloc(1000, 3));
    await expect.poll(() => connections.length).toBe(1);
    expect(await withTimeout(connections[0]!.recv(), 5000, 'message')).toEqual(Buffer.alloc(1000, 3));
  });
});

describe('timeouts after the handshake', () => {
  it('drops a peer that never answers our close frame after closeTimeout', async () => {
    const { port, connections } = await startServer({ closeTimeout: 300 });
    const raw = await rawOpen(port);
    await expect.poll(() => connections.length).toBe(1);
    const closing = connections[0]!.close(1000, 'bye');
    const close = await raw.nextFrameOf(Op.CLOSE);
    expect([close.closeCode, close.closeReason]).toEqual([1000, 'bye']);
    // The raw client never answers: the server must give up and close TCP.
    await raw.waitClosed(5000);
    await withTimeout(closing, 5000, 'close() to resolve');
    expect(connections[0]!.readyState).toBe(3);
    expect(connections[0]!.wasClean).toBe(false);
  });

  it('server.close() sends 1001 and drops a peer that never answers after closeTimeout', async () => {
    const { server, port } = await startServer({ closeTimeout: 300 });
    const raw = await rawOpen(port);
    await expect.poll(() => server.clients.size).toBe(1);
    const closing = server.close();
    const close = await raw.nextFrameOf(Op.CLOSE);
    expect(close.closeCode).toBe(1001);
    await raw.waitClosed(5000);
    await withTimeout(closing, 5000, 'server.close() to resolve');
    expect(server.clients.size).toBe(0);
  });

  it('the heartbeat drops a peer that stops answering pings (pingInterval 100, pongTimeout 200)', async () => {
    const { port, connections } = await startServer({ pingInterval: 100, pongTimeout: 200 });
    const raw = await rawOpen(port);
    const ping = await raw.nextFrameOf(Op.PING);
    expect(ping.masked).toBe(false);
    await raw.waitClosed(5000);
    await withTimeout(connections[0]!.whenClosed(), 5000, 'server side closed');
    expect(connections[0]!.closeCode).toBe(1006);
    expect(connections[0]!.wasClean).toBe(false);
  });

  it('the heartbeat keeps a peer that answers pings for several intervals', async () => {
    const { server, port } = await startServer({ pingInterval: 100, pongTimeout: 200 });
    const raw = await rawOpen(port);
    raw.autoPong = true;
    // Counting pings instead of measuring time: after five, more than two pongTimeouts passed.
    await expect.poll(() => raw.pingsReceived, { timeout: 5000 }).toBeGreaterThanOrEqual(5);
    expect(raw.isDestroyed).toBe(false);
    expect(server.clients.size).toBe(1);
    raw.send(Op.PING, 'still here');
    const pong = await raw.nextFrameOf(Op.PONG);
    expect(pong.payload.toString()).toBe('still here');
  });
});

describe('control frames from a raw client', () => {
  it.each([
    ['empty', Buffer.alloc(0)],
    ['text', Buffer.from('ping payload')],
    ['125-byte', Buffer.alloc(125, 0xab)],
  ])('answers a ping with a %s payload with a pong carrying the same bytes (§5.5.2)', async (_name, payload) => {
    const { port } = await startServer();
    const raw = await rawOpen(port);
    raw.send(Op.PING, payload);
    const pong = await raw.nextFrame();
    expect(pong.opcode).toBe(Op.PONG);
    expect(pong.fin).toBe(true);
    expect(pong.payload.equals(payload)).toBe(true);
  });

  it('answers a ping sent between two fragments of a message, then delivers the message', async () => {
    const { port, connections } = await startServer();
    const raw = await rawOpen(port);
    raw.send(Op.TEXT, 'frag', { fin: false });
    raw.send(Op.PING, 'mid');
    raw.send(Op.CONTINUATION, 'ment');
    const pong = await raw.nextFrame();
    expect([pong.opcode, pong.payload.toString()]).toEqual([Op.PONG, 'mid']);
    await expect.poll(() => connections.length).toBe(1);
    expect(await withTimeout(connections[0]!.recv(), 5000, 'message')).toBe('fragment');
  });

  it('echoes a client close frame with its code, then closes TCP (§5.5.1, §7.1.1)', async () => {
    const { port, connections } = await startServer();
    const raw = await rawOpen(port);
    raw.send(Op.CLOSE, closePayload(4321, 'client done'));
    const close = await raw.nextFrame();
    expect([close.opcode, close.closeCode]).toEqual([Op.CLOSE, 4321]);
    await raw.waitClosed();
    await withTimeout(connections[0]!.whenClosed(), 5000, 'server side closed');
    expect([connections[0]!.closeCode, connections[0]!.closeReason, connections[0]!.wasClean]).toEqual([4321, 'client done', true]);
  });
});

describe('verify', () => {
  it.each([
    ['false', false, 403],
    ['401', 401, 401],
    ['403', 403, 403],
    ['{ status: 404 }', { status: 404 }, 404],
    ['a promise of 503', Promise.resolve(503), 503],
  ])('returning %s refuses the upgrade with that status', async (_name, verdict, status) => {
    const { server, port } = await startServer({ verify: () => verdict });
    const { raw, response } = await exchange(port, upgradeRequest('/'));
    expect(response.status).toBe(status);
    await raw.waitClosed();
    expect(server.clients.size).toBe(0);
  });

  it('can add headers and a body to the refusal', async () => {
    const { port } = await startServer({
      verify: () => ({ status: 401, message: 'who are you?', headers: { 'WWW-Authenticate': 'Bearer' } }),
    });
    const { response } = await exchange(port, upgradeRequest('/'));
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.body).toBe('who are you?');
  });

  it('sees the request (path, query, headers, offered subprotocols, address) and may accept asynchronously', async () => {
    const seen: UpgradeInfo[] = [];
    const { port } = await startServer({
      verify: async (info) => {
        seen.push(info);
        await sleep(10);
        return info.query.get('token') === 'secret';
      },
    });
    const headers = { Authorization: 'Bearer abc', 'Sec-WebSocket-Protocol': 'a, b' };
    expect((await exchange(port, upgradeRequest('/chat?token=wrong', { headers }))).response.status).toBe(403);
    expect((await exchange(port, upgradeRequest('/chat?token=secret', { headers }))).response.status).toBe(101);
    expect(seen[1]).toMatchObject({ method: 'GET', path: '/chat', url: '/chat?token=secret', offeredProtocols: ['a', 'b'], remoteAddress: '127.0.0.1' });
    expect(seen[1]!.headers.authorization).toBe('Bearer abc');
  });

  it('throwing answers 500 and reports the error on the server', async () => {
    const { server, port } = await startServer({
      verify: () => {
        throw new Error('verify broke');
      },
    });
    const error = nextEvent<[Error]>(server, 'error');
    const { response } = await exchange(port, upgradeRequest('/'));
    expect(response.status).toBe(500);
    expect((await error)[0].message).toBe('verify broke');
  });
});

describe('attach(httpServer, { path })', () => {
  async function httpWithWebSockets(extraUpgradeListener = false): Promise<{ http: HttpServer; wss: WebSocketServer; port: number }> {
    const http = createHttpServer((_req, res) => res.end('plain http'));
    const wss = new WebSocketServer(
      async (ws) => {
        for await (const message of ws) await ws.send(`echo: ${message}`);
      },
      { pingInterval: 0 },
    ).attach(http, { path: '/ws' });
    if (extraUpgradeListener) {
      http.on('upgrade', (req, socket) => {
        if (req.url === '/other') socket.end('HTTP/1.1 418 I\'m a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      });
    }
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    defer(
      () =>
        new Promise<void>((resolve) => {
          http.closeAllConnections();
          http.close(() => resolve());
        }),
    );
    defer(() => wss.close());
    return { http, wss, port: (http.address() as AddressInfo).port };
  }

  it('upgrades on the path and leaves plain HTTP requests to the HTTP server', async () => {
    const { wss, port } = await httpWithWebSockets();
    const client = await openWs(`ws://127.0.0.1:${port}/ws?room=1`);
    defer(() => client.terminate());
    client.send('hi');
    expect(await Inbox.of(client).next()).toEqual({ data: 'echo: hi', isBinary: false });
    expect(wss.clients.size).toBe(1);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(await response.text()).toBe('plain http');
  });

  it('answers 404 to an upgrade on another path when no other upgrade listener exists', async () => {
    const { port } = await httpWithWebSockets();
    const { raw, response } = await exchange(port, upgradeRequest('/other'));
    expect(response.status).toBe(404);
    await raw.waitClosed();
  });

  it('leaves an upgrade on another path to another upgrade listener', async () => {
    const { port } = await httpWithWebSockets(true);
    const { response } = await exchange(port, upgradeRequest('/other'));
    expect(response.status).toBe(418);
    expect((await exchange(port, upgradeRequest('/ws'))).response.status).toBe(101);
  });

  it('applies the handshake checks to attached upgrades too (426 for a bad version)', async () => {
    const { port } = await httpWithWebSockets();
    const { response } = await exchange(port, upgradeRequest('/ws', { headers: { 'Sec-WebSocket-Version': '8' } }));
    expect(response.status).toBe(426);
    expect(response.headers['sec-websocket-version']).toBe('13');
  });
});

describe('read backpressure', () => {
  it('stops reading from a flooding client while nobody consumes, and resumes as messages are read', async () => {
    const { port, connections } = await startServer({ maxQueuedMessages: 4 });
    const raw = await rawOpen(port);
    await expect.poll(() => connections.length).toBe(1);
    const conn = connections[0]!;

    // 64 MiB: more than loopback socket buffers can hold (tcp_rmem + tcp_wmem maxima), so the
    // client cannot finish writing unless the server keeps reading.
    const COUNT = 1024;
    const SIZE = 64 * 1024;
    const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
    const filler = Buffer.alloc(SIZE - 4, 0x61);
    const maskedFiller = maskBytes(filler, key); // offset 4 keeps the key aligned
    const header = frameHeader(Op.BINARY, SIZE, { maskKey: key });
    const frameBytes = header.length + SIZE;
    for (let i = 0; i < COUNT; i++) {
      const index = Buffer.alloc(4);
      index.writeUInt32BE(i);
      raw.write(header);
      raw.write(maskBytes(index, key));
      raw.write(maskedFiller);
    }
    const total = COUNT * frameBytes;

    await expect.poll(() => conn.socket.isPaused(), { timeout: 5000 }).toBe(true);
    await sleep(300); // a quiet period: were the server still reading, it would read on now
    expect((conn.socket as Socket).bytesRead).toBeLessThan(total / 4);
    expect(raw.socket.writableLength).toBeGreaterThan(0);

    // Reading the queue resumes the socket, and every message arrives intact and in order.
    await withTimeout(
      (async () => {
        for (let i = 0; i < COUNT; i++) {
          const message = (await conn.recv()) as Buffer;
          expect(message.length).toBe(SIZE);
          expect(message.readUInt32BE(0)).toBe(i);
          expect(message.subarray(4).equals(filler)).toBe(true);
        }
      })(),
      20_000,
      'every flooded message to be received',
    );
    expect((conn.socket as Socket).bytesRead).toBeGreaterThanOrEqual(total);
    await expect.poll(() => raw.socket.writableLength).toBe(0);
  });
});
