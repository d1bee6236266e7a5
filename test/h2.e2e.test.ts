/**
 * WebSockets over HTTP/2 end to end, our client against our server on 127.0.0.1: cleartext h2c
 * and TLS with ALPN (one port for HTTP/1.1 upgrades and HTTP/2 streams; certificate from
 * openssl), the per-origin connection pool, 'auto' fallback and `true` refusal, how closing maps
 * to END_STREAM / RST_STREAM(CANCEL) / 1006, flow control both ways, topics and broadcast, and
 * shutdown (GOAWAY, then 1001).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http2PoolSize } from '../src/client/http2.js';
import { Http2StreamTransport } from '../src/io/http2-transport.js';
import { connect, ConnectError, serve, type WebSocketConnection, type WebSocketServer } from '../src/index.js';
import { cleanupAfterEach, nextEvent, withTimeout } from './helpers/async.js';
import { describeWithPeer } from './helpers/peers.js';

const defer = cleanupAfterEach();

async function echoServer(options: Parameters<typeof serve>[1]): Promise<WebSocketServer> {
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { pingInterval: 0, ...options },
  );
  defer(() => server.close());
  return server;
}

/** Opens `n` sockets and registers their cleanup. */
async function open(url: string, n: number, options: Parameters<typeof connect>[1] = {}): Promise<WebSocketConnection[]> {
  const sockets = await Promise.all(Array.from({ length: n }, () => connect(url, { pingInterval: 0, ...options })));
  for (const ws of sockets) defer(() => ws.close());
  return sockets;
}

function isHttp2(ws: WebSocketConnection): boolean {
  return ws.socket instanceof Http2StreamTransport;
}

/** A raw extended CONNECT by node:http2 to `port`, for watching what happens to the stream. */
async function rawStream(port: number, path = '/'): Promise<ClientHttp2Stream> {
  const session = h2connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  defer(() => session.destroy());
  await withTimeout(new Promise((resolve) => session.once('remoteSettings', resolve)), 5000, 'SETTINGS');
  const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': path, 'sec-websocket-version': '13' }, { endStream: false });
  stream.on('error', () => {});
  const [headers] = await nextEvent<[Record<string, unknown>]>(stream, 'response');
  expect(headers[':status']).toBe(200);
  return stream;
}

/** A masked client frame (FIN set). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const length = payload.length;
  const head = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([head, mask, masked]);
}

describe('h2c (cleartext, prior knowledge)', () => {
  it('echoes text and binary, with permessage-deflate negotiated over HTTP/2', async () => {
    const server = await echoServer({ h2c: true, perMessageDeflate: true });
    const [ws] = await open(server.url, 1, { http2: true, perMessageDeflate: true });
    expect(isHttp2(ws!)).toBe(true);
    expect(ws!.extensions).toMatch(/^permessage-deflate/);
    await ws!.send('hello');
    expect(String(await ws!.recv())).toBe('hello');
    const big = Buffer.alloc(300_000, 7);
    await ws!.send(big);
    expect(Buffer.compare((await ws!.recv()) as Buffer, big)).toBe(0);
  });

  it('many sockets to one origin share one HTTP/2 connection; it closes after the last socket', async () => {
    const server = await echoServer({ h2c: true });
    const sockets = await open(server.url, 20, { http2: true });
    expect(server.clients.size).toBe(20);
    expect(http2PoolSize()).toBe(1);
    // One TCP connection on the server side for all twenty.
    expect((server as unknown as { http2: { connectionCount: number } }).http2.connectionCount).toBe(1);
    await Promise.all(sockets.map(async (ws, i) => {
      await ws.send(`n${i}`);
      expect(String(await ws.recv())).toBe(`n${i}`);
    }));
    await Promise.all(sockets.map((ws) => ws.close()));
    await expect.poll(() => http2PoolSize()).toBe(0);
    await expect.poll(() => (server as unknown as { http2: { connectionCount: number } }).http2.connectionCount).toBe(0);
  });

  it("http2: true against an HTTP/1.1-only server is a clear ConnectError; 'auto' falls back to HTTP/1.1", async () => {
    const server = await echoServer({});
    const error = await connect(server.url, { http2: true, pingInterval: 0, handshakeTimeout: 3000 }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe('FD_ERR_HTTP2_UNSUPPORTED');
    const [ws] = await open(server.url, 1, { http2: 'auto' });
    expect(isHttp2(ws!)).toBe(false);
    await ws!.send('via 1.1');
    expect(String(await ws!.recv())).toBe('via 1.1');
  });

  it("a server without SETTINGS_ENABLE_CONNECT_PROTOCOL: true → ConnectError, 'auto' → HTTP/1.1 on another port is not guessed (error)", async () => {
    const { createServer } = await import('node:http2');
    const plain = createServer();
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => plain.close(resolve)));
    const url = `ws://127.0.0.1:${(plain.address() as { port: number }).port}/`;
    const error = await connect(url, { http2: true, handshakeTimeout: 3000 }).then(() => null, (e: unknown) => e);
    expect((error as ConnectError).code).toBe('FD_ERR_HTTP2_UNSUPPORTED');
    expect((error as Error).message).toMatch(/SETTINGS_ENABLE_CONNECT_PROTOCOL/);
    expect(http2PoolSize()).toBe(0);
  });

  it('closing: the close handshake ends the stream (END_STREAM both ways, no reset)', async () => {
    const server = await echoServer({ h2c: true });
    const stream = await rawStream(server.address().port);
    const ended = nextEvent(stream, 'end');
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.write(clientFrame(0x8, Buffer.from([0x03, 0xe8]))); // close 1000
    await ended; // the server's END_STREAM after its close frame
    expect(Buffer.concat(chunks).subarray(0, 4)).toEqual(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
    stream.end();
    await nextEvent(stream, 'close');
    expect(stream.rstCode).toBe(0);
  });

  it('terminate() resets the stream with CANCEL', async () => {
    let serverSide: WebSocketConnection | undefined;
    const server = await serve((ws) => void (serverSide = ws), { h2c: true, pingInterval: 0 });
    defer(() => server.close());
    const stream = await rawStream(server.address().port);
    await expect.poll(() => serverSide).toBeDefined();
    const closed = nextEvent(stream, 'close');
    const serverClosed = nextEvent<[number]>(serverSide!, 'close');
    serverSide!.terminate();
    await closed;
    expect(stream.rstCode).toBe(8); // NGHTTP2_CANCEL
    expect((await serverClosed)[0]).toBe(1006);
  });

  it('a stream reset by the peer ends the connection with 1006, and the HTTP/2 connection lives on', async () => {
    const closes: number[] = [];
    const server = await serve((ws) => void ws.on('close', (code: number) => closes.push(code)), { h2c: true, pingInterval: 0 });
    defer(() => server.close());
    const stream = await rawStream(server.address().port);
    await expect.poll(() => server.clients.size).toBe(1);
    const session = stream.session as ClientHttp2Session;
    stream.close(8);
    await expect.poll(() => closes).toEqual([1006]);
    // Another WebSocket on the same HTTP/2 connection still opens.
    const again = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/', 'sec-websocket-version': '13' });
    const [headers] = await nextEvent<[Record<string, unknown>]>(again, 'response');
    expect(headers[':status']).toBe(200);
    again.close(8);
  });

  it('flow control: a server that stops reading pushes the client back (await send waits); resuming delivers everything in order', async () => {
    let serverSide: WebSocketConnection | undefined;
    const server = await serve((ws) => void (serverSide = ws), { h2c: true, pingInterval: 0, maxQueuedMessages: 4 });
    defer(() => server.close());
    const [client] = await open(server.url, 1, { http2: true, sendHighWaterMark: 64 * 1024 });
    await expect.poll(() => serverSide).toBeDefined();
    serverSide!.session.pause(); // the application stops reading: the stream is paused, no WINDOW_UPDATE
    const piece = Buffer.alloc(64 * 1024, 1);
    const total = 200; // 12.5 MiB, far beyond HTTP/2 windows and socket buffers
    let sent = 0;
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        piece.writeUInt32BE(i, 0);
        await client!.send(piece);
        sent++;
      }
    })();
    // The sender stalls: it is bounded by the windows, not by the message count.
    await expect.poll(() => client!.bufferedAmount > 0 && sent < total).toBe(true);
    const stalledAt = sent;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sent).toBeLessThan(total);
    expect(sent - stalledAt).toBeLessThan(5);
    expect((serverSide!.socket as Http2StreamTransport).stream.isPaused()).toBe(true);
    serverSide!.session.resume();
    for (let i = 0; i < total; i++) {
      const message = (await withTimeout(serverSide!.recv(), 10_000, `message ${i}`)) as Buffer;
      expect(message.readUInt32BE(0)).toBe(i);
    }
    await sending;
  });

  it('a client that does not read: the server send() waits for HTTP/2 window updates (read pausing on the client side)', async () => {
    let serverSide: WebSocketConnection | undefined;
    const server = await serve((ws) => void (serverSide = ws), { h2c: true, pingInterval: 0 });
    defer(() => server.close());
    const [client] = await open(server.url, 1, { http2: true, maxQueuedMessages: 2 });
    await expect.poll(() => serverSide).toBeDefined();
    const piece = Buffer.alloc(64 * 1024, 2);
    let sent = 0;
    const sending = (async () => {
      for (let i = 0; i < 100; i++) {
        await serverSide!.send(piece);
        sent++;
      }
    })();
    await expect.poll(() => serverSide!.bufferedAmount > 0 && sent < 100).toBe(true);
    expect((client!.socket as Http2StreamTransport).stream.isPaused()).toBe(true);
    for (let i = 0; i < 100; i++) await withTimeout(client!.recv(), 10_000, `message ${i}`);
    await sending;
    expect(sent).toBe(100);
  });

  it('topics and broadcast reach HTTP/2 and HTTP/1.1 sockets alike', async () => {
    const server = await serve((ws) => void ws.subscribe('news'), { h2c: true, pingInterval: 0 });
    defer(() => server.close());
    const sockets = await open(server.url, 3, { http2: true });
    await expect.poll(() => server.subscriberCount('news')).toBe(3);
    expect(server.publish('news', 'extra')).toBe(3);
    for (const ws of sockets) expect(String(await ws.recv())).toBe('extra');
    expect(server.broadcast('all', { except: server.clients.values().next().value })).toBe(2);
  });

  it('server.close() sends GOAWAY and closes every WebSocket with 1001', async () => {
    const server = await serve(() => {}, { h2c: true, pingInterval: 0 });
    const sockets = await open(server.url, 3, { http2: true });
    const codes = sockets.map((ws) => nextEvent<[number]>(ws, 'close'));
    const session = (sockets[0]!.socket as Http2StreamTransport).stream.session!;
    const goaway = nextEvent(session, 'goaway');
    await server.close();
    await goaway;
    expect((await Promise.all(codes)).map(([code]) => code)).toEqual([1001, 1001, 1001]);
  });
});

describeWithPeer('openssl', 'TLS with ALPN: HTTP/2 and HTTP/1.1 on one port', () => {
  let dir: string;
  let tls: { cert: Buffer; key: Buffer };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fullduplex-h2-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    tls = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('wss:// with http2: true opens extended CONNECT streams; without, an HTTP/1.1 upgrade; both echo', async () => {
    const server = await echoServer({ http2: true, tls });
    expect(server.url).toMatch(/^wss:/);
    const options = { tls: { ca: tls.cert } };
    const [h2a, h2b] = await open(server.url, 2, { ...options, http2: true });
    const [h1] = await open(server.url, 1, options);
    expect([isHttp2(h2a!), isHttp2(h2b!), isHttp2(h1!)]).toEqual([true, true, false]);
    expect(server.clients.size).toBe(3);
    const methods = [...server.clients].map((ws) => (ws.request as { method?: string }).method).sort();
    expect(methods).toEqual(['CONNECT', 'CONNECT', 'GET']);
    for (const ws of [h2a!, h2b!, h1!]) {
      await ws.send('ping over TLS');
      expect(String(await ws.recv())).toBe('ping over TLS');
    }
    expect(http2PoolSize()).toBe(1);
  });

  it("'auto' against a TLS server without HTTP/2 falls back to HTTP/1.1; a bad certificate is FD_ERR_TLS", async () => {
    const server = await echoServer({ tls });
    const [ws] = await open(server.url, 1, { tls: { ca: tls.cert }, http2: 'auto' });
    expect(isHttp2(ws!)).toBe(false);
    const h2server = await echoServer({ http2: true, tls });
    const error = await connect(h2server.url, { http2: true, pingInterval: 0 }).then(() => null, (e: unknown) => e);
    expect((error as ConnectError).code).toBe('FD_ERR_TLS');
  });
});
