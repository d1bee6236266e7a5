/**
 * src/client/reconnecting.ts: ReconnectingWebSocket against in-process servers that go away and
 * come back — backoff with jitter, the attempt cap, the bounded send queue flushed in order, what
 * is and is not retried, the heartbeat noticing a silent server, events and the iterator, and a
 * clean stop.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectError,
  ReconnectingError,
  ReconnectingWebSocket,
  Router,
  serve,
  type ReconnectingEvent,
  type ReconnectingOptions,
  type ServerOptions,
  type WebSocketConnection,
  type WebSocketServer,
} from '../src/index.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server that records what it receives, restartable on the same port. */
class Recorder {
  received: string[] = [];
  connections: WebSocketConnection[] = [];
  server: WebSocketServer | null = null;
  port = 0;

  async start(options: ServerOptions = {}): Promise<this> {
    this.server = await serve(
      async (ws) => {
        this.connections.push(ws);
        for await (const message of ws) this.received.push(String(message));
      },
      { port: this.port, pingInterval: 0, ...options },
    );
    this.port = this.server.address().port;
    const server = this.server;
    cleanups.push(() => server.close());
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }
}

function client(url: string, options: ReconnectingOptions = {}): ReconnectingWebSocket {
  const rws = new ReconnectingWebSocket(url, {
    pingInterval: 0,
    ...options,
    reconnect: { initialDelay: 20, maxDelay: 100, ...options.reconnect },
  });
  cleanups.push(() => rws.stop());
  return rws;
}

function next<K extends 'open' | 'disconnect' | 'reconnecting' | 'stop' | 'message'>(
  rws: ReconnectingWebSocket,
  event: K,
  timeout = 5000,
): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeout} ms`)), timeout);
    rws.once(event, ((...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    }) as never);
  });
}

async function until(condition: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('ReconnectingWebSocket', () => {
  it('connects, sends, and reports messages through events', async () => {
    const server = await new Recorder().start();
    const rws = client(server.url);
    const [ws, info] = await next(rws, 'open');
    expect(info).toEqual({ reconnected: false });
    expect(rws.ws).toBe(ws);
    expect(rws.connected).toBe(true);
    await rws.send('hello');
    await until(() => server.received.length === 1);
    expect(server.received).toEqual(['hello']);

    const message = next(rws, 'message');
    void server.connections[0]!.send('welcome');
    expect(await message).toEqual(['welcome', false]);
  });

  it('reconnects after the server restarts and flushes what was sent meanwhile, in order', async () => {
    const server = await new Recorder().start();
    const rws = client(server.url);
    await rws.whenOpen();
    await rws.send('before');
    await until(() => server.received.length === 1);

    const disconnected = next(rws, 'disconnect');
    await server.stop();
    expect(await disconnected).toEqual([1001, 'Server shutting down']);
    expect(rws.connected).toBe(false);
    const sent = ['one', 'two', 'three'].map((text) => rws.send(text));
    expect(rws.queued).toBe(3);
    await next(rws, 'reconnecting');

    const reopened = next(rws, 'open');
    await server.start();
    const [, info] = await reopened;
    expect(info).toEqual({ reconnected: true });
    await Promise.all(sent);
    expect(rws.queued).toBe(0);
    await rws.send('after');
    await until(() => server.received.length === 5);
    expect(server.received).toEqual(['before', 'one', 'two', 'three', 'after']);
  });

  it('queues the first messages until the first connection opens', async () => {
    const server = await new Recorder().start();
    const rws = client(server.url);
    const sent = [rws.send('a'), rws.send(Buffer.from('b'), { binary: false })];
    expect(rws.queued).toBe(2);
    await Promise.all(sent);
    await until(() => server.received.length === 2);
    expect(server.received).toEqual(['a', 'b']);
  });

  it('bounds the queue: sending beyond maxQueued rejects with FD_ERR_QUEUE_FULL', async () => {
    const port = await deadPort();
    const rws = client(`ws://127.0.0.1:${port}/`, { reconnect: { maxQueued: 2 } });
    const first = rws.send('1');
    const second = rws.send('2');
    const third = rws.send('3');
    await expect(third).rejects.toMatchObject({ name: 'ReconnectingError', code: 'FD_ERR_QUEUE_FULL' });
    expect(rws.queued).toBe(2);
    // They are delivered once a server shows up on that port.
    const server = new Recorder();
    server.port = port;
    await server.start();
    await Promise.all([first, second]);
    await until(() => server.received.length === 2);
    expect(server.received).toEqual(['1', '2']);
  });

  it('backs off exponentially up to maxDelay, with jitter taking up to `jitter` off each delay', async () => {
    const port = await deadPort();
    const delays: number[] = [];
    const rws = client(`ws://127.0.0.1:${port}/`, {
      reconnect: { initialDelay: 10, factor: 2, maxDelay: 40, jitter: 0, maxAttempts: 5 },
    });
    rws.on('reconnecting', ({ delay }) => delays.push(delay));
    await next(rws, 'stop');
    expect(delays).toEqual([10, 20, 40, 40]);
    expect(rws.backoff(1)).toBe(10);
    expect(rws.backoff(3)).toBe(40);
    expect(rws.backoff(30)).toBe(40);

    const jittered: number[] = [];
    const halved = client(`ws://127.0.0.1:${port}/`, {
      reconnect: { initialDelay: 10, factor: 3, maxDelay: 1000, jitter: 0.5, maxAttempts: 4, random: () => 1 },
    });
    halved.on('reconnecting', ({ delay }) => jittered.push(delay));
    await next(halved, 'stop');
    expect(jittered).toEqual([5, 15, 45]);

    const randomized: number[] = [];
    const random = client(`ws://127.0.0.1:${port}/`, {
      reconnect: { initialDelay: 100, factor: 1, jitter: 0.5, maxAttempts: 20, random: Math.random },
    });
    random.on('reconnecting', ({ delay }) => randomized.push(delay));
    const stopped = next(random, 'stop', 10_000);
    await until(() => randomized.length >= 5, 10_000);
    await random.stop();
    await stopped;
    for (const delay of randomized) expect(delay).toBeGreaterThanOrEqual(50);
    for (const delay of randomized) expect(delay).toBeLessThanOrEqual(100);
  });

  it('gives up after maxAttempts consecutive failures: stop event, rejected sends, the iterator throws', async () => {
    const port = await deadPort();
    const rws = client(`ws://127.0.0.1:${port}/`, { reconnect: { initialDelay: 5, maxAttempts: 3 } });
    const pending = rws.send('never');
    const events: ReconnectingEvent['type'][] = [];
    let thrown: unknown;
    try {
      for await (const event of rws) events.push(event.type);
    } catch (error) {
      thrown = error;
    }
    expect(events).toEqual(['reconnecting', 'reconnecting']);
    expect(thrown).toBeInstanceOf(ReconnectingError);
    expect(thrown).toMatchObject({ code: 'FD_ERR_GAVE_UP' });
    expect((thrown as Error).message).toMatch(/after 3 failed attempts: Could not connect/);
    expect((thrown as Error).cause).toBeInstanceOf(ConnectError);
    await expect(pending).rejects.toMatchObject({ code: 'FD_ERR_GAVE_UP' });
    await expect(rws.send('later')).rejects.toMatchObject({ code: 'FD_ERR_GAVE_UP' });
    await expect(rws.whenOpen()).rejects.toMatchObject({ code: 'FD_ERR_GAVE_UP' });
    expect(rws.isStopped).toBe(true);
  });

  it('does not retry a 404 (a path with no route): stops with the ConnectError', async () => {
    const server = await serve(new Router().route('/light/{status}', () => {}), { port: 0, pingInterval: 0 });
    cleanups.push(() => server.close());
    const rws = client(`${server.url}switch/on`);
    let reconnecting = 0;
    rws.on('reconnecting', () => reconnecting++);
    const [error] = await next(rws, 'stop');
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).status).toBe(404);
    expect((error as ConnectError).message).toContain('404 Not Found');
    expect(reconnecting).toBe(0);
  });

  it('retries a 503 until the server accepts', async () => {
    let refusals = 2;
    const server = await new Recorder().start({ verify: () => (refusals-- > 0 ? 503 : true) });
    const rws = client(server.url);
    const errors: Array<Error | undefined> = [];
    rws.on('reconnecting', ({ error }) => errors.push(error));
    await next(rws, 'open');
    expect(errors.map((error) => (error as ConnectError).status)).toEqual([503, 503]);
  });

  it("the client's heartbeat drops a server that stops answering, then it reconnects", async () => {
    // (closeTimeout: the paused server-side socket never reads the close, so the final
    // server.close() would otherwise wait its full default 10 s for it.)
    const server = await new Recorder().start({ closeTimeout: 200 });
    const rws = client(server.url, { pingInterval: 50, pongTimeout: 50 });
    await rws.whenOpen();
    await until(() => server.connections.length === 1);
    // The server stops reading: pings go unanswered, though TCP is fine.
    server.connections[0]!.socket.pause();
    const [code, reason] = await next(rws, 'disconnect');
    expect(code).toBe(1006);
    expect(reason).toBe('keepalive ping timeout');
    const [, info] = await next(rws, 'open');
    expect(info).toEqual({ reconnected: true });
    expect(server.connections).toHaveLength(2);
  });

  it('shouldReconnect can decline: the client then stops without error', async () => {
    const server = await new Recorder().start();
    const closes: Array<[number, string]> = [];
    const rws = client(server.url, {
      reconnect: {
        shouldReconnect: (code, reason) => {
          closes.push([code, reason]);
          return code !== 4000;
        },
      },
    });
    await rws.whenOpen();
    await until(() => server.connections.length === 1);
    const stopped = next(rws, 'stop');
    await server.connections[0]!.close(4000, 'go away for good');
    expect(await stopped).toEqual([null]);
    expect(closes).toEqual([[4000, 'go away for good']]);
    await expect(rws.send('x')).rejects.toMatchObject({ code: 'FD_ERR_STOPPED' });
  });

  it('stop() closes the open connection normally and rejects what is still queued', async () => {
    const server = await new Recorder().start();
    const rws = client(server.url);
    const ws = await rws.whenOpen();
    await until(() => server.connections.length === 1);
    let stopEvents = 0;
    rws.on('stop', () => stopEvents++);
    await rws.stop(1000, 'done');
    expect(ws.closeCode).toBe(1000);
    await server.connections[0]!.whenClosed();
    expect(server.connections[0]!.closeReason).toBe('done');
    expect(rws.ws).toBeNull();
    expect(stopEvents).toBe(1);
    await expect(rws.send('x')).rejects.toMatchObject({ code: 'FD_ERR_STOPPED' });
    await rws.stop(); // idempotent
    expect(stopEvents).toBe(1);
  });

  it('stop() cancels a pending retry at once', async () => {
    const port = await deadPort();
    const rws = client(`ws://127.0.0.1:${port}/`, { reconnect: { initialDelay: 60_000, maxDelay: 60_000 } });
    const queued = rws.send('x');
    await next(rws, 'reconnecting');
    const started = Date.now();
    await rws.stop();
    expect(Date.now() - started).toBeLessThan(500);
    await expect(queued).rejects.toMatchObject({ code: 'FD_ERR_STOPPED' });
  });

  it('stop() aborts a connection attempt stuck in the opening handshake', async () => {
    // Accepts TCP but never answers the upgrade request.
    const sockets = new Set<Socket>();
    const silent: NetServer = createServer((socket) => {
      sockets.add(socket);
      socket.resume(); // read (and ignore) the request, so the client's FIN is seen
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => silent.close(resolve)));
    const { port } = silent.address() as { port: number };
    const rws = client(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 60_000 });
    await until(() => sockets.size === 1);
    const started = Date.now();
    await rws.stop();
    expect(Date.now() - started).toBeLessThan(500);
    await until(() => sockets.size === 0);
  });

  it('iterating reports opens, messages, disconnects and reconnects in order, and ends after stop()', async () => {
    const server = await new Recorder().start();
    const rws = client(server.url);
    const seen: string[] = [];
    const iteration = (async () => {
      for await (const event of rws) {
        if (event.type === 'open') {
          seen.push(`open reconnected=${event.reconnected}`);
          if (event.reconnected) void rws.stop();
          else void event.ws.send('hi');
        } else if (event.type === 'message') {
          seen.push(`message ${event.data}`);
          void server.stop();
        } else if (event.type === 'disconnect') {
          seen.push(`disconnect ${event.code}`);
          void server.start();
        } else {
          seen.push(`reconnecting attempt=${event.attempt}`);
        }
      }
    })();
    // The server echoes nothing; push one message from its side once the client said hi.
    await until(() => server.received.length === 1);
    void server.connections[0]!.send('from server');
    await iteration;
    expect(seen[0]).toBe('open reconnected=false');
    expect(seen[1]).toBe('message from server');
    expect(seen[2]).toBe('disconnect 1001');
    expect(seen.at(-1)).toBe('open reconnected=true');
    expect(seen.slice(3, -1).every((entry) => entry.startsWith('reconnecting'))).toBe(true);
  });

  it('stops reading while an iterator lags behind, without losing or reordering messages', async () => {
    const server = await new Recorder().start();
    const rws = client(server.url, { maxQueuedMessages: 4 });
    const iterator = rws[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ type: 'open' });
    const ws = rws.ws!;
    await until(() => server.connections.length === 1);
    for (let i = 0; i < 50; i++) void server.connections[0]!.send(`m${i}`);
    await until(() => ws.socket.isPaused());
    const messages: string[] = [];
    while (messages.length < 50) {
      const { value } = await iterator.next();
      if (value?.type === 'message') messages.push(String(value.data));
    }
    expect(messages).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    expect(ws.socket.isPaused()).toBe(false);
    await iterator.return?.();
  });

  it('rejects a URL it cannot use without retrying', async () => {
    const rws = client('not a url');
    const [error] = await next(rws, 'stop');
    expect(error).toBeInstanceOf(TypeError);
  });
});
