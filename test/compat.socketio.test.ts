/**
 * socket.io end to end with `fullduplex/ws` as engine.io's `wsEngine` — and the same script with
 * `ws`, the engine socket.io ships with. The clients (socket.io-client, websocket transport only)
 * run on `ws` in both cases; the server side is what changes.
 */
import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import * as realWs from 'ws';
import * as ours from '../src/compat/ws/index.js';

const engines: Array<[string, unknown]> = [
  ['ws', realWs.WebSocketServer],
  ['fullduplex/ws', ours.WebSocketServer],
];

/** `events.once` for socket.io's typed emitters. */
function on1(emitter: { once(event: string, listener: (...args: never[]) => void): unknown }, event: string): Promise<unknown[]> {
  return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args)));
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(engines)('socket.io on %s', (_name, wsEngine) => {
  async function start(options: Record<string, unknown> = {}): Promise<{ io: Server; url: string; http: HttpServer }> {
    const http = createServer();
    const io = new Server(http, { wsEngine, transports: ['websocket'], maxHttpBufferSize: 2e6, ...options });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    return { io, http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
  }

  async function client(url: string, options: Record<string, unknown> = {}): Promise<ClientSocket> {
    const socket = ioClient(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...options });
    cleanups.push(() => socket.disconnect());
    await on1(socket, 'connect');
    return socket;
  }

  it('connects, emits with acknowledgements both ways', async () => {
    const { io, url } = await start();
    io.on('connection', (socket: ServerSocket) => {
      socket.on('add', (a: number, b: number, ack: (sum: number) => void) => ack(a + b));
      socket.emit('hello', 'world', (answer: string) => socket.emit('answered', answer));
    });
    const socket = ioClient(url, { transports: ['websocket'], forceNew: true, reconnection: false });
    cleanups.push(() => socket.disconnect());
    socket.on('hello', (text: string, ack: (answer: string) => void) => ack(`got ${text}`));
    await on1(socket, 'connect');
    const [answer] = await on1(socket, 'answered');
    expect(answer).toBe('got world');
    const sum = await socket.timeout(5000).emitWithAck('add', 2, 3);
    expect(sum).toBe(5);
  });

  it('rooms and broadcast excluding the sender', async () => {
    const { io, url } = await start();
    io.on('connection', (socket: ServerSocket) => {
      socket.on('join', (room: string, ack: () => void) => {
        void socket.join(room);
        ack();
      });
      socket.on('say', (room: string, text: string) => socket.to(room).emit('said', text));
    });
    const [a, b, c] = await Promise.all([client(url), client(url), client(url)]);
    await a.emitWithAck('join', 'r1');
    await b.emitWithAck('join', 'r1');
    const received: string[] = [];
    a.on('said', (text: string) => received.push(`a:${text}`));
    c.on('said', (text: string) => received.push(`c:${text}`));
    const atB = on1(b, 'said');
    a.emit('say', 'r1', 'hi room');
    expect((await atB)[0]).toBe('hi room');
    // A round trip on a and c shows nothing else was on its way to them.
    await a.emitWithAck('join', 'r1');
    await c.emitWithAck('join', 'other');
    expect(received).toEqual([]);
  });

  it('binary attachments and a 900 kB message', async () => {
    const { io, url } = await start();
    io.on('connection', (socket: ServerSocket) => {
      socket.on('echo', (payload: unknown, ack: (payload: unknown) => void) => ack(payload));
    });
    const socket = await client(url);
    const bytes = Buffer.from([0, 1, 2, 255]);
    const echoed = await socket.emitWithAck('echo', { name: 'file', data: bytes, nested: [bytes] });
    expect(Buffer.from(echoed.data)).toEqual(bytes);
    expect(Buffer.from(echoed.nested[0])).toEqual(bytes);
    const big = 'z'.repeat(900_000);
    expect(await socket.emitWithAck('echo', big)).toBe(big);
    const bigBinary = Buffer.alloc(900_000, 7);
    expect(Buffer.from(await socket.emitWithAck('echo', bigBinary)).equals(bigBinary)).toBe(true);
  });

  it('disconnect and reconnect', async () => {
    const { io, url } = await start();
    const disconnected: string[] = [];
    io.on('connection', (socket: ServerSocket) => socket.on('disconnect', (reason: string) => disconnected.push(reason)));
    const socket = ioClient(url, { transports: ['websocket'], forceNew: true, reconnectionDelay: 10, reconnectionDelayMax: 20 });
    cleanups.push(() => socket.disconnect());
    await on1(socket, 'connect');
    const firstId = socket.id;
    // Drop the server side: the client reconnects by itself.
    const reconnected = on1(socket.io, 'reconnect');
    for (const server of io.sockets.sockets.values()) server.conn.close();
    await reconnected;
    if (!socket.connected) await on1(socket, 'connect');
    expect(socket.connected).toBe(true);
    expect(socket.id).not.toBe(firstId);
    socket.disconnect();
    for (let i = 0; i < 50 && disconnected.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(disconnected).toEqual(['forced close', 'client namespace disconnect']);
  });

  it('perMessageDeflate on', async () => {
    const { io, url } = await start({ perMessageDeflate: { threshold: 0 } });
    io.on('connection', (socket: ServerSocket) => socket.on('echo', (payload: unknown, ack: (payload: unknown) => void) => ack(payload)));
    const socket = await client(url, { perMessageDeflate: { threshold: 0 } });
    const text = JSON.stringify({ items: Array.from({ length: 500 }, (_, i) => ({ i, name: `item ${i}` })) });
    expect(await socket.emitWithAck('echo', text)).toBe(text);
    const engineSocket = [...io.sockets.sockets.values()][0]!.conn as unknown as { transport: { socket: { extensions: unknown } } };
    expect(engineSocket.transport.socket.extensions).toBe('permessage-deflate');
  });
});
