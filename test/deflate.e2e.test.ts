/**
 * permessage-deflate end to end over real sockets: our server and our client with compression
 * negotiated (every window size, takeover on and off both ways, fragments, large messages,
 * per-send opt-out, threshold), and the failure paths a peer can trigger from the wire — a
 * decompression bomb (1009), RSV1 where it is not allowed (1002), invalid UTF-8 inside compressed
 * text (1007 before the message ends), a repeated parameter (declined, not 400), and every kind of
 * bad answer a client must refuse during the handshake.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { constants, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { connect, serve, type ClientOptions, type ServerOptions, type WebSocketConnection, type WebSocketServer } from '../src/index.js';
import { liveZlibHandles } from '../src/extensions/index.js';
import { cleanupAfterEach, withTimeout } from './helpers/async.js';
import { Op, RawClient, RSV1 } from './helpers/raw.js';

const defer = cleanupAfterEach();

async function echoServer(options: ServerOptions = {}): Promise<WebSocketServer> {
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { pingInterval: 0, perMessageDeflate: true, ...options },
  );
  defer(() => server.close());
  return server;
}

async function client(url: string, options: ClientOptions = {}): Promise<WebSocketConnection> {
  const ws = await withTimeout(connect(url, { perMessageDeflate: true, pingInterval: 0, ...options }), 5000, 'connect');
  defer(() => ws.terminate());
  return ws;
}

function port(server: WebSocketServer): number {
  return Number(new URL(server.url).port);
}

/** Compresses like a permessage-deflate sender: raw deflate, sync flush, tail stripped (RFC 7692 §7.2.1). */
function compress(data: Buffer | string, options: { windowBits?: number; level?: number } = {}): Buffer {
  const out = deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, { finishFlush: constants.Z_SYNC_FLUSH, ...options });
  return out.subarray(0, out.length - 4);
}

/** Realistic-ish JSON of about `size` bytes. */
function json(size: number, seed = 1): string {
  const items: string[] = [];
  let length = 12;
  for (let i = seed; length < size; i++) {
    const item = JSON.stringify({ id: i, user: `user-${i % 97}`, kind: ['join', 'msg', 'leave'][i % 3], text: `hello number ${i * 7919}`, at: 1700000000 + i });
    items.push(item);
    length += item.length + 1;
  }
  return `{"events":[${items.join(',')}]}`;
}

describe('our client and server, compression negotiated', () => {
  it('negotiates by default options and reports the header on both sides', async () => {
    let serverSide!: WebSocketConnection;
    const server = await serve(
      async (ws) => {
        serverSide = ws;
        for await (const message of ws) await ws.send(message);
      },
      { pingInterval: 0, perMessageDeflate: true },
    );
    defer(() => server.close());
    const ws = await client(server.url);
    expect(ws.extensions).toBe('permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    await ws.send('x');
    expect(await ws.recv()).toBe('x');
    expect(serverSide.extensions).toBe(ws.extensions);
  });

  it('round-trips text and binary, empty, small and large, and really compresses on the wire', async () => {
    const server = await echoServer();
    const ws = await client(server.url);
    const socket = ws.socket as unknown as Socket;
    const big = json(1 << 20);
    const binary = Buffer.from(json(100_000, 5));
    const written = socket.bytesWritten;
    const read = socket.bytesRead;
    for (const message of ['', 'a', 'héllo wörld ✓', big]) {
      await ws.send(message);
      expect(await ws.recv()).toBe(message);
    }
    await ws.send(binary);
    expect(Buffer.from((await ws.recv()) as Buffer).equals(binary)).toBe(true);
    const payload = big.length + binary.length + 20;
    // JSON this repetitive shrinks well below a fifth both ways.
    expect(socket.bytesWritten - written).toBeLessThan(payload / 5);
    expect(socket.bytesRead - read).toBeLessThan(payload / 5);
  });

  it('sends fragmented compressed messages both ways', async () => {
    const server = await serve(
      async (ws) => {
        for await (const message of ws) {
          const text = message as string;
          const parts = [text.slice(0, 10), text.slice(10, 5000), text.slice(5000)];
          await ws.sendFragments(parts);
        }
      },
      { pingInterval: 0, perMessageDeflate: true },
    );
    defer(() => server.close());
    const ws = await client(server.url);
    const message = json(50_000);
    await ws.sendFragments([message.slice(0, 3), message.slice(3, 20_000), '', message.slice(20_000)]);
    expect(await ws.recv()).toBe(message);
    await ws.sendFragments([message]);
    expect(await ws.recv()).toBe(message);
  });

  const takeover = [
    { server: false, client: false },
    { server: true, client: false },
    { server: false, client: true },
    { server: true, client: true },
  ];
  for (const bits of [8, 9, 10, 11, 12, 13, 14, 15]) {
    for (const t of takeover) {
      it(`window ${bits}, no_context_takeover server=${t.server} client=${t.client}: many messages with shared history`, async () => {
        const server = await echoServer({
          perMessageDeflate: { serverMaxWindowBits: bits, clientMaxWindowBits: bits, serverNoContextTakeover: t.server, clientNoContextTakeover: t.client },
        });
        const ws = await client(server.url, { perMessageDeflate: { windowBits: 15 } });
        const expected = ['permessage-deflate'];
        if (t.server) expected.push('server_no_context_takeover');
        if (t.client) expected.push('client_no_context_takeover');
        expected.push(`client_max_window_bits=${bits}`);
        if (bits < 15) expected.push(`server_max_window_bits=${bits}`);
        expect(ws.extensions.split('; ').sort()).toEqual(expected.sort());
        // Repeats across messages exercise back-references into earlier messages' history.
        for (let i = 0; i < 12; i++) {
          const message = i % 3 === 2 ? Buffer.from(json(3000 + i * 500, i)) : json(200 + i * 900, i % 4);
          await ws.send(message);
          const got = await ws.recv();
          if (typeof message === 'string') expect(got).toBe(message);
          else expect(Buffer.from(got as Buffer).equals(message)).toBe(true);
        }
      });
    }
  }

  it('send(data, { compress: false }) goes out with RSV1 clear; the threshold leaves small messages uncompressed', async () => {
    const server = await serve(
      async (ws) => {
        await ws.send('plain plain plain plain', { compress: false });
        await ws.send('small');
        await ws.send('large large large large large large large large large');
      },
      { pingInterval: 0, perMessageDeflate: { threshold: 16 } },
    );
    defer(() => server.close());
    const raw = await RawClient.open(port(server), '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    defer(() => raw.destroy());
    const frames = [await raw.nextFrame(), await raw.nextFrame(), await raw.nextFrame()];
    expect(frames.map((f) => f.rsv)).toEqual([0, 0, RSV1]);
    expect(frames[0]!.payload.toString()).toBe('plain plain plain plain');
    expect(frames[1]!.payload.toString()).toBe('small');
    const { inflateRawSync } = await import('node:zlib');
    expect(inflateRawSync(Buffer.concat([frames[2]!.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH }).toString()).toBe(
      'large large large large large large large large large',
    );
  });

  it('our client honours compress: false and the server still receives it', async () => {
    const server = await echoServer();
    const ws = await client(server.url);
    await ws.send('not compressed', { compress: false });
    expect(await ws.recv()).toBe('not compressed');
    await ws.send('compressed');
    expect(await ws.recv()).toBe('compressed');
  });

  it('client with perMessageDeflate: false against a deflate server: no extension, messages flow', async () => {
    const server = await echoServer();
    const ws = await client(server.url, { perMessageDeflate: false });
    expect(ws.extensions).toBe('');
    await ws.send('plain');
    expect(await ws.recv()).toBe('plain');
  });

  it('every zlib handle is released when the connections end', async () => {
    const before = liveZlibHandles();
    const server = await echoServer();
    const clients = await Promise.all(Array.from({ length: 20 }, () => client(server.url)));
    await Promise.all(
      clients.map(async (ws, i) => {
        await ws.send(json(2000, i));
        await ws.recv();
      }),
    );
    expect(liveZlibHandles()).toBeGreaterThan(before);
    await Promise.all(clients.map((ws) => ws.close()));
    await server.close();
    expect(liveZlibHandles()).toBe(before);
  });
});

describe('what a peer can do on the wire', () => {
  async function rawDeflate(options: ServerOptions = {}): Promise<{ raw: RawClient; server: WebSocketServer }> {
    const server = await echoServer(options);
    const raw = await RawClient.open(port(server), '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    defer(() => raw.destroy());
    return { raw, server };
  }

  it('a compressed message is echoed compressed (sanity for the raw helpers)', async () => {
    const { raw } = await rawDeflate();
    raw.send(Op.TEXT, compress('hello'), { rsv: RSV1 });
    const frame = await raw.nextFrame();
    expect([frame.opcode, frame.rsv]).toEqual([Op.TEXT, RSV1]);
  });

  it('decompression bomb: 32 MiB of zeros in ~32 KiB fails with 1009 at the limit, memory bounded', async () => {
    const { raw } = await rawDeflate({ maxMessageSize: 1 << 20 });
    const bomb = compress(Buffer.alloc(32 << 20), { level: 9 });
    expect(bomb.length).toBeLessThan(64 << 10);
    const rss = process.memoryUsage().rss;
    raw.send(Op.BINARY, bomb, { rsv: RSV1 });
    const close = await raw.nextFrameOf(Op.CLOSE);
    expect(close.closeCode).toBe(1009);
    // The server never held the inflated 32 MiB (the limit is 1 MiB; allow for GC noise).
    expect(process.memoryUsage().rss - rss).toBeLessThan(24 << 20);
    await raw.waitClosed();
  });

  it('a fragmented bomb is caught at its first fragments, before the rest is sent', async () => {
    const { raw } = await rawDeflate({ maxMessageSize: 1 << 20 });
    const bomb = compress(Buffer.alloc(8 << 20), { level: 9 });
    raw.send(Op.BINARY, bomb.subarray(0, bomb.length >> 1), { rsv: RSV1, fin: false });
    const close = await raw.nextFrameOf(Op.CLOSE);
    expect(close.closeCode).toBe(1009);
  });

  it('RSV1 on a continuation frame is 1002', async () => {
    const { raw } = await rawDeflate();
    const data = compress('hello world');
    raw.send(Op.TEXT, data.subarray(0, 3), { rsv: RSV1, fin: false });
    raw.send(Op.CONTINUATION, data.subarray(3), { rsv: RSV1 });
    expect((await raw.nextFrameOf(Op.CLOSE)).closeCode).toBe(1002);
  });

  it('RSV1 on a control frame is 1002', async () => {
    const { raw } = await rawDeflate();
    raw.send(Op.PING, compress('hi'), { rsv: RSV1 });
    expect((await raw.nextFrameOf(Op.CLOSE)).closeCode).toBe(1002);
  });

  it('RSV1 without negotiation is 1002', async () => {
    const server = await echoServer({ perMessageDeflate: false });
    const raw = await RawClient.open(port(server), '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    defer(() => raw.destroy());
    expect(raw.frames.length).toBe(0);
    raw.send(Op.TEXT, compress('hello'), { rsv: RSV1 });
    expect((await raw.nextFrameOf(Op.CLOSE)).closeCode).toBe(1002);
  });

  it('invalid UTF-8 inside compressed text is 1007 as soon as it inflates, before the message ends', async () => {
    const { raw } = await rawDeflate();
    const bad = compress(Buffer.concat([Buffer.from('fine so far '), Buffer.from([0xc0, 0xaf]), Buffer.from(' more text')]));
    raw.send(Op.TEXT, bad, { rsv: RSV1, fin: false });
    // No final frame is ever sent: the close must come from the first fragment alone.
    expect((await raw.nextFrameOf(Op.CLOSE)).closeCode).toBe(1007);
  });

  it('invalid DEFLATE data is a failure with a close code, not a crash', async () => {
    const { raw } = await rawDeflate();
    raw.send(Op.BINARY, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]), { rsv: RSV1 });
    const close = await raw.nextFrameOf(Op.CLOSE);
    expect([1007, 1002]).toContain(close.closeCode);
  });

  it('a repeated parameter declines that offer (101 without the extension), the next offer is taken', async () => {
    const server = await echoServer();
    const raw = await RawClient.connect(port(server));
    defer(() => raw.destroy());
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    raw.write(
      `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_no_context_takeover\r\n\r\n',
    );
    const response = await raw.readResponse();
    expect(response.status).toBe(101);
    expect(response.headers['sec-websocket-extensions']).toBeUndefined();
    raw.send(Op.TEXT, 'plain');
    const frame = await raw.nextFrame();
    expect([frame.rsv, frame.payload.toString()]).toEqual([0, 'plain']);

    const second = await RawClient.open(port(server), '/', {
      'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=0x9, permessage-deflate; client_max_window_bits=09, permessage-deflate; server_no_context_takeover',
    });
    defer(() => second.destroy());
    second.send(Op.TEXT, compress("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), { rsv: RSV1 });
    const echoed = await second.nextFrame();
    expect(echoed.rsv).toBe(RSV1);
  });
});

describe('our client refuses bad answers during the handshake', () => {
  /** A server that completes the handshake with `extensions` as its answer, then stays silent. */
  async function answering(extensions: string): Promise<string> {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      let head = '';
      socket.on('data', (chunk) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)![1]!;
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: ${extensions}\r\n\r\n`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    const address = server.address() as { port: number };
    return `ws://127.0.0.1:${address.port}/`;
  }

  const cases: Array<[string, string, string, ClientOptions['perMessageDeflate']?]> = [
    ['an unknown parameter', 'permessage-deflate; foo=1', 'FD_ERR_EXTENSION_REJECTED'],
    ['a repeated parameter', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover', 'FD_ERR_HANDSHAKE_EXTENSIONS'],
    ['server_max_window_bits out of range (16)', 'permessage-deflate; server_max_window_bits=16', 'FD_ERR_EXTENSION_REJECTED'],
    ['server_max_window_bits out of range (7)', 'permessage-deflate; server_max_window_bits=7', 'FD_ERR_EXTENSION_REJECTED'],
    ['server_max_window_bits in hex', 'permessage-deflate; server_max_window_bits=0x9', 'FD_ERR_EXTENSION_REJECTED'],
    ['server_max_window_bits with a leading zero', 'permessage-deflate; server_max_window_bits=09', 'FD_ERR_EXTENSION_REJECTED'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits', 'FD_ERR_EXTENSION_REJECTED'],
    ['client_max_window_bits out of range', 'permessage-deflate; client_max_window_bits=16', 'FD_ERR_EXTENSION_REJECTED'],
    ['client_max_window_bits when we did not offer it', 'permessage-deflate; client_max_window_bits=10', 'FD_ERR_EXTENSION_REJECTED', { clientMaxWindowBits: false }],
    ['client_max_window_bits above what we offered', 'permessage-deflate; client_max_window_bits=12', 'FD_ERR_EXTENSION_REJECTED', { clientMaxWindowBits: 10 }],
    ['server_max_window_bits above what we asked', 'permessage-deflate; server_max_window_bits=12', 'FD_ERR_EXTENSION_REJECTED', { serverMaxWindowBits: 10 }],
    ['a value on server_no_context_takeover', 'permessage-deflate; server_no_context_takeover=1', 'FD_ERR_EXTENSION_REJECTED'],
    ['an extension we never offered', 'x-webkit-deflate-frame', 'FD_ERR_HANDSHAKE_EXTENSIONS'],
    ['permessage-deflate twice', 'permessage-deflate, permessage-deflate', 'FD_ERR_HANDSHAKE_EXTENSIONS'],
  ];
  for (const [what, answer, code, options] of cases) {
    it(`${what}: ${code}`, async () => {
      const url = await answering(answer);
      await expect(connect(url, { perMessageDeflate: options ?? true, handshakeTimeout: 3000 })).rejects.toMatchObject({ name: 'ConnectError', code });
    });
  }

  it('an answer when we offered nothing is refused too', async () => {
    const url = await answering('permessage-deflate');
    await expect(connect(url, { perMessageDeflate: false, handshakeTimeout: 3000 })).rejects.toMatchObject({ name: 'ConnectError', code: 'FD_ERR_HANDSHAKE_EXTENSIONS' });
  });

  it('a valid answer with server_no_context_takeover and a smaller window is accepted', async () => {
    const server = await echoServer({ perMessageDeflate: { serverNoContextTakeover: true, serverMaxWindowBits: 9 } });
    const ws = await client(server.url);
    expect(ws.extensions).toContain('server_no_context_takeover');
    const text = json(20_000);
    await ws.send(text);
    expect(await ws.recv()).toBe(text);
  });
});
