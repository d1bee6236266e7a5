/**
 * Broadcast and topics on a live server: `server.clients`, `server.broadcast(data, { except })`,
 * `ws.subscribe/unsubscribe/subscriptions`, `server.publish(topic, data, { except })` — who gets
 * what, in which order, and that a frame is encoded once for all its receivers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, serve, WebSocketConnection, type WebSocketServer } from '../src/index.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server whose connections stay open (no handler), and a way to get its side of each client. */
async function startServer(): Promise<{ server: WebSocketServer; accept(): Promise<[client: WebSocketConnection, peer: WebSocketConnection]> }> {
  const server = await serve(() => {}, { port: 0, pingInterval: 0 });
  cleanups.push(() => server.close());
  const accept = async (): Promise<[WebSocketConnection, WebSocketConnection]> => {
    const peer = new Promise<WebSocketConnection>((resolve) => server.once('connection', resolve));
    const client = await connect(server.url, { pingInterval: 0 });
    cleanups.push(() => client.close());
    return [client, await peer];
  };
  return { server, accept };
}

/** Resolves with the next message, or `null` if none arrives within `ms`. */
function nextOrNothing(ws: WebSocketConnection, ms = 100): Promise<string | Buffer | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      resolve(null);
    }, ms);
    const onMessage = (data: string | Buffer): void => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(data);
    };
    ws.on('message', onMessage);
  });
}

describe('server.clients', () => {
  it('holds the open connections and forgets closed ones', async () => {
    const { server, accept } = await startServer();
    expect(server.clients.size).toBe(0);
    const [a, peerA] = await accept();
    const [, peerB] = await accept();
    expect([...server.clients]).toEqual([peerA, peerB]);
    await a.close();
    await peerA.whenClosed();
    expect([...server.clients]).toEqual([peerB]);
  });
});

describe('closing', () => {
  it('subscribe() after the connection closed is refused: no stale subscriber', async () => {
    const { server, accept } = await startServer();
    const [client, peer] = await accept();
    await client.close();
    await peer.whenClosed();
    expect(peer.subscribe('t')).toBe(false);
    expect(server.subscriberCount('t')).toBe(0);
  });

  it('a second server.close() resolves only once everything is closed', async () => {
    const { server, accept } = await startServer();
    await accept();
    const first = server.close();
    await server.close();
    expect(server.clients.size).toBe(0);
    await first;
  });
});

describe('server.broadcast', () => {
  it('sends to every client, or every client but one, and returns how many', async () => {
    const { server, accept } = await startServer();
    const pairs = [await accept(), await accept(), await accept()];
    expect(server.broadcast('to all')).toBe(3);
    for (const [client] of pairs) expect(await client.recv()).toBe('to all');

    const [, sender] = pairs[1]!;
    expect(server.broadcast('not to the sender', { except: sender })).toBe(2);
    expect(await pairs[0]![0].recv()).toBe('not to the sender');
    expect(await pairs[2]![0].recv()).toBe('not to the sender');
    expect(await nextOrNothing(pairs[1]![0])).toBeNull();
  });

  it('sends strings as text and bytes as binary, unless told otherwise', async () => {
    const { server, accept } = await startServer();
    const [client] = await accept();
    const received: Array<[string | Buffer, boolean]> = [];
    client.on('message', (data, isBinary) => received.push([data, isBinary]));
    server.broadcast('text');
    server.broadcast(Buffer.from([1, 2, 3]));
    server.broadcast(new Uint8Array([4, 5]));
    server.broadcast('bytes after all', { binary: true });
    server.broadcast(Buffer.from('text after all'), { binary: false });
    await vi.waitFor(() => expect(received).toHaveLength(5));
    expect(received).toEqual([
      ['text', false],
      [Buffer.from([1, 2, 3]), true],
      [Buffer.from([4, 5]), true],
      [Buffer.from('bytes after all'), true],
      ['text after all', false],
    ]);
  });

  it('skips connections that are closing', async () => {
    const { server, accept } = await startServer();
    const [, closing] = await accept();
    const [open] = await accept();
    void closing.close();
    expect(server.broadcast('late')).toBe(1);
    expect(await open.recv()).toBe('late');
  });

  it('encodes the frame once: every connection is handed the same bytes', async () => {
    const { server, accept } = await startServer();
    const clients = [await accept(), await accept(), await accept()].map(([client]) => client);
    const sendShared = vi.spyOn(WebSocketConnection.prototype, 'sendShared');
    server.broadcast('x'.repeat(1000));
    expect(sendShared).toHaveBeenCalledTimes(3);
    // The same region of the same buffer, by reference: encoded once, never copied per receiver.
    const [buffer, start, end] = sendShared.mock.calls[0]!;
    for (const call of sendShared.mock.calls) expect(call).toEqual([buffer, start, end]);
    for (const call of sendShared.mock.calls) expect(call[0]).toBe(buffer);
    for (const client of clients) expect(await client.recv()).toBe('x'.repeat(1000));
  });
});

describe('topics', () => {
  it('publish reaches the subscribers of the topic only, and returns how many', async () => {
    const { server, accept } = await startServer();
    const [alice, peerAlice] = await accept();
    const [bob, peerBob] = await accept();
    const [carol, peerCarol] = await accept();
    expect(peerAlice.subscribe('news')).toBe(true);
    expect(peerBob.subscribe('news')).toBe(true);
    expect(peerCarol.subscribe('sport')).toBe(true);
    expect(server.subscriberCount('news')).toBe(2);
    expect(server.subscriberCount('sport')).toBe(1);
    expect(server.subscriberCount('weather')).toBe(0);

    expect(server.publish('news', 'extra!')).toBe(2);
    expect(await alice.recv()).toBe('extra!');
    expect(await bob.recv()).toBe('extra!');
    expect(await nextOrNothing(carol)).toBeNull();

    expect(server.publish('sport', 'goal', { except: peerAlice })).toBe(1);
    expect(await carol.recv()).toBe('goal');
    expect(server.publish('news', 'from alice', { except: peerAlice })).toBe(1);
    expect(await bob.recv()).toBe('from alice');
    expect(await nextOrNothing(alice)).toBeNull();

    expect(server.publish('weather', 'rain')).toBe(0);
  });

  it('subscribe/unsubscribe report changes, and subscriptions lists the topics', async () => {
    const { server, accept } = await startServer();
    const [client, peer] = await accept();
    expect(peer.subscriptions).toEqual([]);
    expect(peer.subscribe('a')).toBe(true);
    expect(peer.subscribe('a')).toBe(false);
    expect(peer.subscribe('b')).toBe(true);
    expect(peer.subscriptions).toEqual(['a', 'b']);
    expect(peer.unsubscribe('a')).toBe(true);
    expect(peer.unsubscribe('a')).toBe(false);
    expect(peer.unsubscribe('never')).toBe(false);
    expect(peer.subscriptions).toEqual(['b']);
    expect(server.publish('a', 'gone')).toBe(0);
    expect(server.publish('b', 'still here')).toBe(1);
    expect(await client.recv()).toBe('still here');
  });

  it('a closed connection leaves all its topics', async () => {
    const { server, accept } = await startServer();
    const [client, peer] = await accept();
    peer.subscribe('a');
    peer.subscribe('b');
    await client.close();
    await peer.whenClosed();
    expect(server.subscriberCount('a')).toBe(0);
    expect(server.subscriberCount('b')).toBe(0);
    expect(peer.subscriptions).toEqual([]);
    expect(server.publish('a', 'nobody')).toBe(0);
  });

  it('encodes a published frame once for all subscribers, and not at all with none', async () => {
    const { server, accept } = await startServer();
    const pairs = [await accept(), await accept(), await accept(), await accept()];
    for (const [, peer] of pairs) peer.subscribe('t');
    const sendShared = vi.spyOn(WebSocketConnection.prototype, 'sendShared');
    expect(server.publish('t', Buffer.alloc(300, 7))).toBe(4);
    const buffers = new Set(sendShared.mock.calls.map(([buffer]) => buffer));
    expect(buffers.size).toBe(1);
    const [buffer, start, end] = sendShared.mock.calls[0]!;
    for (const call of sendShared.mock.calls) expect(call.slice(1)).toEqual([start, end]);
    // The frame is a complete unmasked binary frame: FIN + opcode 2, 16-bit length 300.
    expect(end - start).toBe(304);
    expect([...buffer.subarray(start, start + 4)]).toEqual([0x82, 126, 0x01, 0x2c]);
    for (const [client] of pairs) expect(await client.recv()).toEqual(Buffer.alloc(300, 7));
    sendShared.mockClear();
    expect(server.publish('empty', 'x')).toBe(0);
    expect(sendShared).not.toHaveBeenCalled();
  });

  it('keeps per-connection order between published and directly sent messages', async () => {
    const { server, accept } = await startServer();
    const [client, peer] = await accept();
    peer.subscribe('t');
    server.publish('t', '1');
    void peer.send('2');
    server.publish('t', '3');
    server.broadcast('4');
    void peer.send('5');
    const received = [];
    for (let i = 0; i < 5; i++) received.push(await client.recv());
    expect(received).toEqual(['1', '2', '3', '4', '5']);
  });

  it('fans out to many subscribers', async () => {
    const { server, accept } = await startServer();
    const clients: WebSocketConnection[] = [];
    for (let i = 0; i < 40; i++) {
      const [client, peer] = await accept();
      peer.subscribe('room');
      clients.push(client);
    }
    for (let i = 0; i < 10; i++) expect(server.publish('room', `message ${i}`)).toBe(40);
    await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < 10; i++) expect(await client.recv()).toBe(`message ${i}`);
      }),
    );
  });

  it('are a server feature: subscribing a client connection throws', async () => {
    const { accept } = await startServer();
    const [client] = await accept();
    expect(() => client.subscribe('t')).toThrow('Topics are only available on server connections');
    expect(client.subscriptions).toEqual([]);
  });

  it('a server that closes leaves no subscribers behind', async () => {
    const { server, accept } = await startServer();
    const [client, peer] = await accept();
    peer.subscribe('t');
    await server.close();
    await client.whenClosed();
    expect(client.closeCode).toBe(1001);
    expect(server.subscriberCount('t')).toBe(0);
    expect(server.clients.size).toBe(0);
  });
});

describe('many publishes in one turn', () => {
  it('arrive complete and in order, interleaved with direct sends and broadcasts', async () => {
    const { server, accept } = await startServer();
    const pairs = [await accept(), await accept()];
    for (const [, peer] of pairs) peer.subscribe('t');
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      // Sizes cross the shared batch's growth steps (4 KiB up to 64 KiB) and one large frame.
      const text = `${i}:` + 'x'.repeat(i === 100 ? 70_000 : i * 7);
      if (i % 50 === 25) {
        for (const [, peer] of pairs) void peer.send(`direct ${i}`);
        expected.push(`direct ${i}`);
      }
      if (i % 40 === 5) {
        server.broadcast(`all ${i}`);
        expected.push(`all ${i}`);
      }
      server.publish('t', text);
      expected.push(text);
    }
    for (const [client] of pairs) {
      const got: string[] = [];
      for (let i = 0; i < expected.length; i++) got.push(String(await client.recv()));
      expect(got).toEqual(expected);
    }
  });
});
