/**
 * §5.4 at the I/O layer (issue 9): while `sendFragments()` waits between fragments, `send()`,
 * `broadcast()`, `publish()` and another `sendFragments()` wait for the fragmented message to
 * end instead of putting a complete data frame inside it. Before the fix they went straight to
 * the wire and the peer failed the connection with 1002 (FD_ERR_EXPECTED_CONTINUATION).
 *
 * Every scenario runs twice: over real sockets on 127.0.0.1 (serve + connect) and over an
 * in-memory duplex pair (sessions built directly, the server-side one adopted by a
 * WebSocketServer so broadcast and publish reach it). The peer is a fullduplex client: its parser
 * fails the connection on any interleaving, and it records messages in arrival order.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connect,
  ConnectionClosedError,
  serve,
  WebSocketConnection,
  WebSocketServer,
  type Message,
} from '../src/index.js';
import { cleanupAfterEach, withTimeout } from './helpers/async.js';
import { sessionPair, until } from './helpers/duplex-pair.js';
import { Op, RawClient } from './helpers/raw.js';

interface Setup {
  server: WebSocketServer;
  serverWs: WebSocketConnection;
  clientWs: WebSocketConnection;
}

const cleanup = cleanupAfterEach();

async function overSockets(): Promise<Setup> {
  let resolveWs!: (ws: WebSocketConnection) => void;
  const accepted = new Promise<WebSocketConnection>((resolve) => (resolveWs = resolve));
  const server = await serve((ws) => resolveWs(ws), { port: 0, pingInterval: 0 });
  cleanup(() => server.close());
  const clientWs = await connect(server.url);
  cleanup(() => clientWs.terminate());
  const serverWs = await withTimeout(accepted, 5000, 'the server-side connection');
  return { server, serverWs, clientWs };
}

async function overMemory(): Promise<Setup> {
  const server = new WebSocketServer();
  cleanup(() => server.close());
  const pair = sessionPair();
  const serverWs = server.adopt(pair.server);
  const clientWs = new WebSocketConnection(pair.client);
  cleanup(() => clientWs.terminate());
  return { server, serverWs, clientWs };
}

/** Records what the peer receives, and any error it reports. */
function record(ws: WebSocketConnection): { messages: Message[]; errors: Error[]; closes: number[] } {
  const seen = { messages: [] as Message[], errors: [] as Error[], closes: [] as number[] };
  ws.on('message', (data) => void seen.messages.push(data));
  ws.on('error', (error) => void seen.errors.push(error));
  ws.on('close', (code) => void seen.closes.push(code));
  return seen;
}

/** A gate an async generator waits on, and a flag telling when it got there. */
function gate(): { reached: boolean; open(): void; wait(): Promise<void> } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  const g = {
    reached: false,
    open: () => release(),
    wait: () => {
      g.reached = true;
      return promise;
    },
  };
  return g;
}

/** Lets a few event-loop turns pass so queued frames reach the wire (not a timing assertion). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe.each([
  ['sockets', overSockets],
  ['memory', overMemory],
] as const)('sends during sendFragments, over %s', (_name, open) => {
  it('every message arrives whole and in call order: send, broadcast, publish, a second sendFragments', async () => {
    const { server, serverWs, clientWs } = await open();
    const seen = record(clientWs);
    expect(serverWs.subscribe('news')).toBe(true);

    const first = gate();
    async function* slow(): AsyncGenerator<string> {
      yield 'a1-';
      await turns(2);
      yield 'a2-';
      await first.wait();
      yield 'a3';
    }
    async function* second(): AsyncGenerator<Buffer> {
      yield Buffer.from([1]);
      await turns(2);
      yield Buffer.from([2]);
    }

    const fragments = serverWs.sendFragments(slow());
    await until(() => first.reached, 'the generator to wait between fragments');
    await turns(); // the first fragment is on the wire now, the message unfinished
    const awaited = serverWs.send('m1');
    void serverWs.send('m2'); // not awaited, ws style
    expect(server.broadcast('b1')).toBe(1);
    expect(server.publish('news', 'p1')).toBe(1);
    const fragments2 = serverWs.sendFragments(second());
    const after = serverWs.send('m3');
    await turns();
    // Nothing but the open message's fragments may have gone out yet.
    expect(seen.messages).toEqual([]);

    first.open();
    await withTimeout(Promise.all([fragments, awaited, fragments2, after]), 5000, 'every send to finish');
    await until(() => seen.messages.length >= 7 || seen.errors.length > 0, 'seven messages at the peer');
    expect(seen.errors).toEqual([]);
    expect(seen.messages).toEqual(['a1-a2-a3', 'm1', 'm2', 'b1', 'p1', Buffer.from([1, 2]), 'm3']);
    expect(clientWs.readyState).toBe(1);
    expect(unhandled).toEqual([]);
  });

  it('three sendFragments started together do not interleave', async () => {
    const { serverWs, clientWs } = await open();
    const seen = record(clientWs);
    async function* parts(tag: string): AsyncGenerator<string> {
      for (let i = 0; i < 3; i++) {
        await turns(1);
        yield `${tag}${i}`;
      }
    }
    const all = [serverWs.sendFragments(parts('x')), serverWs.sendFragments(parts('y')), serverWs.sendFragments(parts('z'))];
    await withTimeout(Promise.all(all), 5000, 'three fragmented messages');
    await until(() => seen.messages.length >= 3 || seen.errors.length > 0, 'three messages at the peer');
    expect(seen.errors).toEqual([]);
    expect(seen.messages).toEqual(['x0x1x2', 'y0y1y2', 'z0z1z2']);
  });

  it('close while fragments are in progress rejects the queued sends with ConnectionClosedError', async () => {
    const { server, serverWs, clientWs } = await open();
    const seen = record(clientWs);
    serverWs.subscribe('news');
    const g = gate();
    async function* stuck(): AsyncGenerator<string> {
      yield 'part1';
      yield 'part2';
      await g.wait(); // opened only after the close
      yield 'part3';
    }
    const fragments = serverWs.sendFragments(stuck());
    await until(() => g.reached, 'the generator to wait');
    const queuedFragments = serverWs.sendFragments(['q1', 'q2']);
    const queued = [serverWs.send('late1'), serverWs.send(Buffer.from('late2')), queuedFragments];
    void serverWs.send('late3'); // not awaited: must not become an unhandled rejection
    server.broadcast('late-broadcast');
    server.publish('news', 'late-publish');

    const closing = serverWs.close(1000, 'done');
    const outcomes = await withTimeout(Promise.allSettled(queued), 5000, 'the queued sends to settle');
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(ConnectionClosedError);
    }
    await withTimeout(closing, 5000, 'the close handshake');
    g.open();
    await expect(withTimeout(fragments, 5000, 'sendFragments to settle')).rejects.toBeInstanceOf(ConnectionClosedError);
    await until(() => seen.closes.length > 0, 'the peer to see the close');
    expect(seen.closes).toEqual([1000]);
    // The unfinished message is dropped at the peer, not delivered, and is no protocol error.
    expect(seen.messages).toEqual([]);
    expect(seen.errors).toEqual([]);
    await turns();
    expect(unhandled).toEqual([]);
  });
});

describe('frames on the wire during sendFragments (raw reader over sockets)', () => {
  it('no data frame starts between a fragment without FIN and the continuation that ends it', async () => {
    let serverWs!: WebSocketConnection;
    const server = await serve((ws) => void (serverWs = ws), { port: 0, pingInterval: 0 });
    cleanup(() => server.close());
    const raw = await RawClient.open(Number(new URL(server.url).port));
    cleanup(() => raw.destroy());
    await until(() => serverWs !== undefined, 'the server-side connection');

    const g = gate();
    async function* slow(): AsyncGenerator<string> {
      yield 'f1';
      yield 'f2';
      await g.wait();
      yield 'f3';
    }
    const fragments = serverWs.sendFragments(slow());
    await until(() => g.reached, 'the generator to wait');
    void serverWs.send('s1');
    server.broadcast('b1');
    void serverWs.ping('between');
    await until(() => raw.frames.some((f) => f.opcode === Op.PING), 'the ping between fragments');
    g.open();
    await fragments;
    await until(() => raw.frames.filter((f) => f.opcode === Op.TEXT && f.fin).length >= 2, 's1 and b1 on the wire');

    // Walk the frames as a strict peer would.
    let open = false;
    const messages: string[] = [];
    let current = '';
    for (const frame of raw.frames) {
      if (frame.opcode >= 0x8) continue; // control frames may sit between fragments (§5.4)
      if (frame.opcode === Op.CONTINUATION) expect(open).toBe(true);
      else expect(open).toBe(false);
      current += frame.payload.toString();
      open = !frame.fin;
      if (frame.fin) {
        messages.push(current);
        current = '';
      }
    }
    expect(messages).toEqual(['f1f2f3', 's1', 'b1']);
    // The ping went out while the message was still open.
    const pingAt = raw.frames.findIndex((f) => f.opcode === Op.PING);
    const lastFragmentAt = raw.frames.findIndex((f) => f.opcode === Op.CONTINUATION && f.fin);
    expect(pingAt).toBeLessThan(lastFragmentAt);
  });
});
