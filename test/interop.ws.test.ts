/**
 * Interop with `ws`, the de facto reference in Node: our server against ws's client, our client
 * against ws's server, and our WHATWG `WebSocket` class against ws's server, over real sockets on
 * 127.0.0.1. Messages of every length class (§5.2: 7-bit, 16-bit and 64-bit lengths), fragments
 * (§5.4), control frames (§5.5) and the closing handshake (§7) in both directions.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  connect,
  ConnectionClosedError,
  serve,
  WebSocket,
  WebSocketServer,
  type CloseEvent,
  type ConnectionHandler,
  type ServerOptions,
  type WebSocketConnection,
} from '../src/index.js';
import { cleanupAfterEach, nextEvent, withTimeout } from './helpers/async.js';
import { Op, RawClient, serverFrame, startRawServer } from './helpers/raw.js';
import { Inbox, openWs, startWsServer, stopWsServer, wsClosed, WsWebSocket, type Received } from './helpers/ws.js';

const defer = cleanupAfterEach();

const MiB = 1024 * 1024;
/** The boundaries of the three payload length encodings (§5.2), plus the empty message. */
const SIZES = [0, 125, 126, 65535, 65536];
/** Close codes a peer may send (§7.4): normal, going away, registered (3000) and private (4999). */
const CLOSE_CASES: Array<[number, string]> = [
  [1000, 'normal closure'],
  [1001, 'going away'],
  [3000, 'registered by a library'],
  [4999, 'private use, with UTF-8: é€'],
];

/** An echo handler in python-websockets style: text stays text, binary stays binary. */
const echo: ConnectionHandler = async (ws) => {
  for await (const message of ws) await ws.send(message);
};

/** Text of exactly `bytes` UTF-8 bytes, ending with a 3-byte character when there is room. */
function textOfBytes(bytes: number): string {
  return bytes < 3 ? 'x'.repeat(bytes) : `${'x'.repeat(bytes - 3)}€`;
}

function expectBinary(received: Received, expected: Buffer): void {
  expect(received.isBinary).toBe(true);
  const data = received.data as Buffer;
  expect(data.length).toBe(expected.length);
  expect(data.equals(expected)).toBe(true);
}

function expectText(received: Received, expected: string): void {
  expect(received.isBinary).toBe(false);
  expect(typeof received.data).toBe('string');
  expect((received.data as string).length).toBe(expected.length);
  expect(received.data === expected).toBe(true);
}

/** Our server on a free port, closed after the test. */
async function ourServer(handler: ConnectionHandler, options: ServerOptions = {}): Promise<WebSocketServer> {
  const server = await serve(handler, { pingInterval: 0, ...options });
  defer(() => server.close());
  return server;
}

/** A ws client, terminated after the test. */
async function wsClient(url: string, protocols?: string | string[]): Promise<WsWebSocket> {
  const ws = await openWs(url, protocols);
  defer(() => ws.terminate());
  return ws;
}

/** A ws server that echoes every message with its type, stopped after the test. */
/** Our server (no heartbeat) with one ws client connected: both ends of the connection. */
async function wsClientOnOurServer(): Promise<{ server: WebSocketServer; client: WsWebSocket; conn: WebSocketConnection }> {
  const server = new WebSocketServer(undefined, { pingInterval: 0 });
  await server.listen();
  defer(() => server.close());
  const connection = nextEvent<[WebSocketConnection]>(server, 'connection');
  const client = await wsClient(server.url);
  const [conn] = await connection;
  return { server, client, conn };
}

async function wsEchoServer(options: Parameters<typeof startWsServer>[0] = {}): Promise<Awaited<ReturnType<typeof startWsServer>>> {
  const started = await startWsServer(options);
  started.wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  defer(() => stopWsServer(started.wss));
  return started;
}

/** Our client, dropped after the test. */
async function ourClient(url: string, options: Parameters<typeof connect>[1] = {}): Promise<WebSocketConnection> {
  const ws = await withTimeout(connect(url, options), 5000, `connect(${url})`);
  defer(() => ws.terminate());
  return ws;
}

/**
 * Bounds an `await ws.send()`: it resolves once the data is handed to the socket (or below the
 * high-water mark), so a hang here is a bug, not a slow peer.
 */
function sent(promise: Promise<void>): Promise<void> {
  return withTimeout(promise, 3000, 'send() to resolve');
}

function closeOf(ws: WebSocketConnection): Promise<[number, string]> {
  return nextEvent<[number, string]>(ws, 'close');
}

describe('our server, ws client', () => {
  it('echoes text as text and binary as binary', async () => {
    const server = await ourServer(echo);
    const client = await wsClient(server.url);
    const inbox = Inbox.of(client);
    client.send('hello');
    client.send(Buffer.from([0, 1, 2, 255]));
    expectText(await inbox.next(), 'hello');
    expectBinary(await inbox.next(), Buffer.from([0, 1, 2, 255]));
  });

  it.each(SIZES)('echoes %i-byte binary and text messages intact', async (size) => {
    const server = await ourServer(echo);
    const client = await wsClient(server.url);
    const inbox = Inbox.of(client);
    const bytes = randomBytes(size);
    const text = textOfBytes(size);
    expect(Buffer.byteLength(text)).toBe(size);
    client.send(bytes);
    client.send(text);
    expectBinary(await inbox.next(), bytes);
    expectText(await inbox.next(), text);
  });

  it('echoes a 16 MiB message, the default size limit, intact', async () => {
    const server = await ourServer(echo);
    const client = await wsClient(server.url);
    const inbox = Inbox.of(client);
    const bytes = randomBytes(16 * MiB);
    client.send(bytes);
    expectBinary(await inbox.next(20_000), bytes);
  });

  it('await send() of one message above sendHighWaterMark resolves once the socket has taken it', async () => {
    let resolved = false;
    const server = await ourServer(
      async (ws) => {
        await ws.send(Buffer.alloc(2000, 7));
        resolved = true;
        await ws.whenClosed();
      },
      { sendHighWaterMark: 1000 },
    );
    const client = await wsClient(server.url);
    expectBinary(await Inbox.of(client).next(), Buffer.alloc(2000, 7));
    // The bytes arrived, so the socket took them all: nothing is left to wait for.
    await expect.poll(() => resolved, { timeout: 2000 }).toBe(true);
  });

  it('reassembles a text message ws sends in fragments, with a character split across them and a ping between', async () => {
    const { client, conn } = await wsClientOnOurServer();
    const inbox = Inbox.of(conn);
    const euro = Buffer.from('€'); // e2 82 ac
    client.send(Buffer.concat([Buffer.from('hé'), euro.subarray(0, 1)]), { binary: false, fin: false });
    client.ping(Buffer.from('between'));
    client.send(euro.subarray(1, 2), { binary: false, fin: false });
    client.send(Buffer.concat([euro.subarray(2), Buffer.from('llo')]), { binary: false, fin: true });
    client.send(Buffer.from([1, 2]), { fin: false });
    client.send(Buffer.from([3]), { fin: false });
    client.send(Buffer.from([4, 5]), { fin: true });
    const [pong] = await nextEvent<[Buffer]>(client, 'pong');
    expect(pong.toString()).toBe('between');
    expectText(await inbox.next(), 'hé€llo');
    expectBinary(await inbox.next(), Buffer.from([1, 2, 3, 4, 5]));
  });

  it('sends fragmented messages with sendFragments that ws reassembles', async () => {
    const server = await ourServer(async (ws) => {
      await ws.sendFragments(['ab', 'cd', 'ef']);
      await ws.sendFragments([Buffer.from([1, 2]), new Uint8Array([3]), Buffer.from([4, 5])]);
      await ws.sendFragments(
        (async function* () {
          yield 'as';
          yield 'ync';
        })(),
      );
      await ws.send('after');
      await ws.whenClosed();
    });
    const client = await wsClient(server.url);
    const inbox = Inbox.of(client);
    expectText(await inbox.next(), 'abcdef');
    expectBinary(await inbox.next(), Buffer.from([1, 2, 3, 4, 5]));
    expectText(await inbox.next(), 'async');
    expectText(await inbox.next(), 'after');
  });

  it('puts sendFragments on the wire as one frame per item: TEXT, CONTINUATION..., FIN on the last', async () => {
    const server = await ourServer(async (ws) => {
      await ws.sendFragments(['ab', 'cd', 'ef']);
      await ws.whenClosed();
    });
    const raw = await RawClient.open(server.address().port);
    defer(() => raw.destroy());
    const frames = [await raw.nextFrame(), await raw.nextFrame(), await raw.nextFrame()];
    expect(frames.map((f) => [f.opcode, f.fin, f.masked, f.payload.toString()])).toEqual([
      [Op.TEXT, false, false, 'ab'],
      [Op.CONTINUATION, false, false, 'cd'],
      [Op.CONTINUATION, true, false, 'ef'],
    ]);
  });

  it('answers a ws ping with a pong carrying the same payload', async () => {
    const { client, conn } = await wsClientOnOurServer();
    const serverPing = nextEvent<[Buffer]>(conn, 'ping');
    const pong = nextEvent<[Buffer]>(client, 'pong');
    client.ping(Buffer.from('are you there?'));
    expect((await pong)[0].toString()).toBe('are you there?');
    expect((await serverPing)[0].toString()).toBe('are you there?');
  });

  it('pings ws and resolves with the round-trip time once ws pongs', async () => {
    const { client, conn } = await wsClientOnOurServer();
    const clientPing = nextEvent<[Buffer]>(client, 'ping');
    const rtt = await withTimeout(conn.ping('hello'), 5000, 'ping RTT');
    expect(typeof rtt).toBe('number');
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect((await clientPing)[0].toString()).toBe('hello');
  });

  it.each(CLOSE_CASES)('ws closes with %i: our server sees that code and reason, ws gets the code echoed', async (code, reason) => {
    const { server, client, conn } = await wsClientOnOurServer();
    const serverClose = closeOf(conn);
    const clientClose = wsClosed(client);
    client.close(code, reason);
    expect(await serverClose).toEqual([code, reason]);
    expect((await clientClose).code).toBe(code);
    expect(conn.closeCode).toBe(code);
    expect(conn.closeReason).toBe(reason);
    expect(conn.wasClean).toBe(true);
    expect(server.clients.size).toBe(0);
  });

  it.each(CLOSE_CASES)('our server closes with %i: ws sees that code and reason', async (code, reason) => {
    const server = await ourServer(async (ws) => {
      await ws.recv();
      await ws.close(code, reason);
    });
    const client = await wsClient(server.url);
    const clientClose = wsClosed(client);
    client.send('close please');
    expect(await clientClose).toEqual({ code, reason });
  });

  it('a handler returning a promise closes the connection with 1000 when it settles', async () => {
    const server = await ourServer(async (ws) => {
      await ws.send(`I got your message: ${await ws.recv()}`);
    });
    const client = await wsClient(server.url);
    const inbox = Inbox.of(client);
    const clientClose = wsClosed(client);
    client.send('hello world');
    expectText(await inbox.next(), 'I got your message: hello world');
    expect((await clientClose).code).toBe(1000);
  });

  it('selectProtocol sees every offered subprotocol in order and its pick is used by both sides', async () => {
    const offers: string[][] = [];
    let serverSide: WebSocketConnection | undefined;
    const server = await ourServer(
      (ws) => {
        serverSide = ws;
      },
      {
        selectProtocol: (offered) => {
          offers.push(offered);
          return offered.includes('chat.v1') ? 'chat.v1' : null;
        },
      },
    );
    const client = await wsClient(server.url, ['chat.v2', 'chat.v1', 'superchat']);
    expect(client.protocol).toBe('chat.v1');
    expect(offers).toEqual([['chat.v2', 'chat.v1', 'superchat']]);
    await expect.poll(() => serverSide?.protocol).toBe('chat.v1');
  });

  it('a client offering no subprotocol gets none, and selectProtocol is not consulted', async () => {
    let calls = 0;
    const server = await ourServer(echo, {
      selectProtocol: () => {
        calls++;
        return 'chat';
      },
    });
    const client = await wsClient(server.url);
    expect(client.protocol).toBe('');
    expect(calls).toBe(0);
  });
});

describe('our client, ws server', () => {
  it('round-trips text as text and binary as binary', async () => {
    const { url } = await wsEchoServer();
    const client = await ourClient(url);
    await sent(client.send('hello'));
    await sent(client.send(Buffer.from([0, 1, 2, 255])));
    await sent(client.send(new Uint8Array([7, 8]).buffer));
    expect(await client.recv()).toBe('hello');
    expect(await client.recv()).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await client.recv()).toEqual(Buffer.from([7, 8]));
  });

  it.each(SIZES)('round-trips %i-byte binary and text messages intact', async (size) => {
    const { url } = await wsEchoServer();
    const client = await ourClient(url);
    const inbox = Inbox.of(client);
    const bytes = randomBytes(size);
    const text = textOfBytes(size);
    await sent(client.send(bytes));
    await sent(client.send(text));
    expectBinary(await inbox.next(), bytes);
    expectText(await inbox.next(), text);
  });

  it('await send() of one message just above the default 64 KiB high-water mark resolves', async () => {
    const { url } = await wsEchoServer();
    const client = await ourClient(url);
    await sent(client.send(Buffer.alloc(64 * 1024, 1)));
    expect(await client.recv()).toEqual(Buffer.alloc(64 * 1024, 1));
  });

  it('round-trips a 16 MiB message, the default size limit, intact', async () => {
    const { url } = await wsEchoServer();
    const client = await ourClient(url);
    const inbox = Inbox.of(client);
    const bytes = randomBytes(16 * MiB);
    await sent(client.send(bytes));
    expectBinary(await inbox.next(20_000), bytes);
  });

  it('sends fragments with sendFragments that ws reassembles into one message each', async () => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    const serverSocket = nextEvent<[WsWebSocket]>(wss, 'connection');
    const client = await ourClient(url);
    const inbox = Inbox.of((await serverSocket)[0]);
    await sent(client.sendFragments(['ab', 'cd', 'ef']));
    await sent(client.sendFragments(
      (async function* () {
        yield Buffer.from([1, 2]);
        yield new Uint8Array([3]);
        yield Buffer.from([4, 5]);
      })(),
    ));
    await sent(client.send('whole'));
    expectText(await inbox.next(), 'abcdef');
    expectBinary(await inbox.next(), Buffer.from([1, 2, 3, 4, 5]));
    expectText(await inbox.next(), 'whole');
  });

  it('reassembles the fragments ws sends, with a ping between them', async () => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    wss.on('connection', (socket) => {
      socket.send('ab', { fin: false });
      socket.ping('x');
      socket.send('cd', { fin: false });
      socket.send('ef', { fin: true });
      socket.send(Buffer.from([1]), { fin: false });
      socket.send(Buffer.from([2, 3]), { fin: true });
    });
    const client = await ourClient(url);
    expect(await client.recv()).toBe('abcdef');
    expect(await client.recv()).toEqual(Buffer.from([1, 2, 3]));
  });

  it('answers a ws ping with a pong carrying the same payload', async () => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    const serverSocket = nextEvent<[WsWebSocket]>(wss, 'connection');
    const client = await ourClient(url);
    const clientPing = nextEvent<[Buffer]>(client, 'ping');
    const [socket] = await serverSocket;
    const pong = nextEvent<[Buffer]>(socket, 'pong');
    socket.ping(Buffer.from([1, 2, 3, 4, 5]));
    expect((await pong)[0]).toEqual(Buffer.from([1, 2, 3, 4, 5]));
    expect((await clientPing)[0]).toEqual(Buffer.from([1, 2, 3, 4, 5]));
  });

  it('pings ws and resolves with the round-trip time', async () => {
    const { url } = await wsEchoServer();
    const client = await ourClient(url);
    const rtt = await withTimeout(client.ping(), 5000, 'ping RTT');
    expect(rtt).toBeGreaterThanOrEqual(0);
    const rtt2 = await withTimeout(client.ping(Buffer.from('payload')), 5000, 'ping RTT');
    expect(rtt2).toBeGreaterThanOrEqual(0);
  });

  it.each(CLOSE_CASES)('our client closes with %i: ws sees that code and reason', async (code, reason) => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    const serverSocket = nextEvent<[WsWebSocket]>(wss, 'connection');
    const client = await ourClient(url);
    const [socket] = await serverSocket;
    const serverClose = wsClosed(socket);
    await withTimeout(client.close(code, reason), 5000, 'client.close()');
    expect(await serverClose).toEqual({ code, reason });
    expect(client.readyState).toBe(3);
    expect(client.closeCode).toBe(code);
    expect(client.wasClean).toBe(true);
  });

  it.each(CLOSE_CASES)('ws closes with %i: our client sees that code and reason', async (code, reason) => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    wss.on('connection', (socket) => socket.close(code, reason));
    const client = await ourClient(url);
    const [seenCode, seenReason] = await closeOf(client);
    expect([seenCode, seenReason]).toEqual([code, reason]);
    expect(client.closeCode).toBe(code);
    expect(client.closeReason).toBe(reason);
    expect(client.wasClean).toBe(true);
    // Iteration ends quietly after a normal close (1000/1001) and throws after any other.
    const iterate = async (): Promise<void> => {
      for await (const message of client) void message;
    };
    if (code === 1000 || code === 1001) {
      await expect(iterate()).resolves.toBeUndefined();
    } else {
      await expect(iterate()).rejects.toMatchObject({ name: 'ConnectionClosedError', code, reason });
    }
    await expect(client.recv()).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(client.send('late')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('offers subprotocols in order and uses the one ws selects', async () => {
    const offers: string[][] = [];
    const { url } = await wsEchoServer({
      handleProtocols: (protocols) => {
        offers.push([...protocols]);
        return 'b';
      },
    });
    const client = await ourClient(url, { protocols: ['a', 'b', 'c'] });
    expect(client.protocol).toBe('b');
    expect(offers).toEqual([['a', 'b', 'c']]);
  });

  it('offering no subprotocol gets none', async () => {
    let calls = 0;
    const { url } = await wsEchoServer({
      handleProtocols: () => {
        calls++;
        return 'b';
      },
    });
    const client = await ourClient(url);
    expect(client.protocol).toBe('');
    expect(calls).toBe(0);
  });
});

describe('WHATWG WebSocket against a ws server', () => {
  function nextDomEvent<E extends Event>(target: EventTarget, type: string, ms = 5000): Promise<E> {
    return withTimeout(
      new Promise<E>((resolve) => target.addEventListener(type, (event) => resolve(event as E), { once: true })),
      ms,
      `DOM '${type}' event`,
    );
  }

  function thrown(fn: () => unknown): unknown {
    try {
      fn();
    } catch (error) {
      return error;
    }
    return undefined;
  }

  /** Opens our WHATWG socket, recording events through the `on…` attributes. */
  async function openBrowserSocket(url: string, protocols?: string[]): Promise<{ ws: WebSocket; messages: MessageEvent[]; closed: Promise<CloseEvent>; events: string[] }> {
    const ws = new WebSocket(url, protocols);
    defer(() => ws.close());
    const messages: MessageEvent[] = [];
    const events: string[] = [];
    let resolveClosed!: (event: CloseEvent) => void;
    const closed = new Promise<CloseEvent>((resolve) => (resolveClosed = resolve));
    const opened = new Promise<void>((resolve) => {
      ws.onopen = () => {
        events.push('open');
        resolve();
      };
    });
    ws.onmessage = (event) => {
      events.push('message');
      messages.push(event);
    };
    ws.onerror = () => events.push('error');
    ws.onclose = (event) => {
      events.push('close');
      resolveClosed(event);
    };
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    await withTimeout(opened, 5000, 'onopen');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    return { ws, messages, closed, events };
  }

  it('fires onopen, onmessage for text, and onclose with the code and reason of a clean client close', async () => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    const serverSocket = nextEvent<[WsWebSocket]>(wss, 'connection');
    wss.on('connection', (socket) => {
      socket.once('message', () => socket.send('welcome'));
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    const { ws, messages, closed, events } = await openBrowserSocket(url);
    const [socket] = await serverSocket;
    const serverClose = wsClosed(socket);
    ws.send('hello');
    await expect.poll(() => messages.length).toBe(2);
    expect(messages.map((m) => m.data)).toEqual(['welcome', 'hello']);
    ws.send('echo me');
    await expect.poll(() => messages.length).toBe(3);
    expect(messages[2]!.data).toBe('echo me');
    ws.close(1000, 'done');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const event = await withTimeout(closed, 5000, 'onclose');
    expect([event.code, event.reason, event.wasClean]).toEqual([1000, 'done', true]);
    expect(await serverClose).toEqual({ code: 1000, reason: 'done' });
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    expect(events).toEqual(['open', 'message', 'message', 'message', 'close']);
  });

  it('reports a server close (4000) in onclose with wasClean true', async () => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    wss.on('connection', (socket) => socket.on('message', () => socket.close(4000, 'bye')));
    const { ws, closed, events } = await openBrowserSocket(url);
    ws.send('go');
    const event = await withTimeout(closed, 5000, 'onclose');
    expect([event.code, event.reason, event.wasClean]).toEqual([4000, 'bye', true]);
    expect(events).toEqual(['open', 'close']);
  });

  it("delivers binary messages as ArrayBuffer with binaryType 'arraybuffer' and as Blob by default", async () => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
    const { ws, messages } = await openBrowserSocket(url);
    expect(ws.binaryType).toBe('blob');
    ws.send(new Uint8Array([1, 2, 3, 255]));
    await expect.poll(() => messages.length).toBe(1);
    const blob = messages[0]!.data as Blob;
    expect(blob).toBeInstanceOf(Blob);
    expect(Buffer.from(await blob.arrayBuffer())).toEqual(Buffer.from([1, 2, 3, 255]));
    ws.binaryType = 'arraybuffer';
    ws.send(new Uint8Array([9, 8, 7]).buffer);
    await expect.poll(() => messages.length).toBe(2);
    const buffer = messages[1]!.data as ArrayBuffer;
    expect(buffer).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(buffer)).toEqual(Buffer.from([9, 8, 7]));
  });

  it('close() throws InvalidAccessError for 1001 and other reserved codes, SyntaxError for a reason over 123 bytes', async () => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    const serverSocket = nextEvent<[WsWebSocket]>(wss, 'connection');
    wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
    const { ws, messages, closed } = await openBrowserSocket(url);
    for (const code of [1001, 1005, 2999, 5000]) {
      const error = thrown(() => ws.close(code));
      expect(error, `close(${code})`).toBeInstanceOf(DOMException);
      expect((error as DOMException).name, `close(${code})`).toBe('InvalidAccessError');
    }
    const tooLong = 'é'.repeat(62); // 124 bytes of UTF-8, 62 characters
    const error = thrown(() => ws.close(1000, tooLong));
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('SyntaxError');
    // Nothing was closed by the refused calls.
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.send('still open');
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]!.data).toBe('still open');
    // 123 bytes exactly is allowed.
    const [socket] = await serverSocket;
    const serverClose = wsClosed(socket);
    const longest = `${'é'.repeat(61)}x`;
    expect(Buffer.byteLength(longest)).toBe(123);
    ws.close(3000, longest);
    expect(await serverClose).toEqual({ code: 3000, reason: longest });
    expect((await withTimeout(closed, 5000, 'onclose')).code).toBe(3000);
  });

  it('send() throws InvalidStateError while CONNECTING', async () => {
    const { wss, url } = await startWsServer();
    defer(() => stopWsServer(wss));
    const ws = new WebSocket(url);
    defer(() => ws.close());
    const error = thrown(() => ws.send('too early'));
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('InvalidStateError');
    await nextDomEvent(ws, 'open');
  });

  it('negotiates a subprotocol with ws', async () => {
    const { wss, url } = await startWsServer({ handleProtocols: (protocols) => (protocols.has('v2') ? 'v2' : false) });
    defer(() => stopWsServer(wss));
    const { ws } = await openBrowserSocket(url, ['v1', 'v2']);
    expect(ws.protocol).toBe('v2');
  });
});

/**
 * A server may send right after its 101 (ws users often greet in their `connection` handler), so
 * the first frames can share a TCP chunk with the response. A hand-rolled server makes that
 * deterministic: one write holds the 101 and two frames.
 */
describe('our client, frames in the same TCP chunk as the 101', () => {
  async function greetingServer(): Promise<number> {
    const frames = Buffer.concat([serverFrame(Op.TEXT, 'welcome'), serverFrame(Op.BINARY, Buffer.from([1, 2, 3]))]);
    const { stop, port } = await startRawServer(frames);
    defer(stop);
    return port;
  }

  it('recv() returns them in order', async () => {
    const port = await greetingServer();
    const client = await ourClient(`ws://127.0.0.1:${port}/`);
    expect(await client.recv()).toBe('welcome');
    expect(await client.recv()).toEqual(Buffer.from([1, 2, 3]));
  });

  it("a 'message' listener attached as soon as connect() resolves gets them", async () => {
    const port = await greetingServer();
    const client = await ourClient(`ws://127.0.0.1:${port}/`);
    const inbox = Inbox.of(client);
    expectText(await inbox.next(2000), 'welcome');
    expectBinary(await inbox.next(2000), Buffer.from([1, 2, 3]));
  });

  it('the WHATWG WebSocket fires onmessage for them after onopen', async () => {
    const port = await greetingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.binaryType = 'arraybuffer';
    defer(() => ws.close());
    const events: unknown[] = [];
    ws.onopen = () => events.push('open');
    ws.onmessage = (event) => events.push(event.data instanceof ArrayBuffer ? [...new Uint8Array(event.data)] : event.data);
    await expect.poll(() => events, { timeout: 2000 }).toEqual(['open', 'welcome', [1, 2, 3]]);
  });
});
