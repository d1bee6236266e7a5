/**
 * Compress once for publish: a message published to subscribers with permessage-deflate is
 * compressed once per window class (not once per subscriber) and each subscriber's own
 * compressor is told at the moment the message becomes its next data message, so echoes
 * compressed with context takeover, interleaved with publishes, still inflate correctly at peers
 * we did not write: `ws` and python-websockets (context takeover on, their defaults), plus our own
 * clients with other window sizes, without context takeover, and without compression at all.
 */
import { describe, expect, it, vi } from 'vitest';
import WsWebSocket from 'ws';
import { connect, serve, type ClientOptions, type WebSocketConnection, type WebSocketServer } from '../src/index.js';
import { SharedMessage } from '../src/extensions/index.js';
import { cleanupAfterEach, withTimeout } from './helpers/async.js';
import { describeWithPeer } from './helpers/peers.js';
import { spawnPython } from './helpers/process.js';

const defer = cleanupAfterEach();

/** A publish: about 1 KiB of JSON carrying its sequence number. */
function publication(seq: number): string {
  const items = Array.from({ length: 12 }, (_, j) => ({ id: seq * 100 + j, user: `user-${(seq + j) % 13}`, status: j % 2 ? 'online' : 'away' }));
  return JSON.stringify({ pub: seq, topic: 'news', items });
}

function echoRequest(who: string, i: number): string {
  return JSON.stringify({ echo: i, from: who, items: Array.from({ length: (i % 7) + 3 }, (_, j) => ({ id: j, name: `item-${j}`, tags: ['a', 'b'] })) });
}

interface Scenario {
  server: WebSocketServer;
  /** Resolves when `n` connections are subscribed; then tells them all "go". */
  go(n: number): Promise<void>;
  published(): number;
}

/** Every connection subscribes to `news`; each message it sends is echoed and triggers one publish. */
async function pubsubServer(): Promise<Scenario> {
  let seq = 0;
  const connections: WebSocketConnection[] = [];
  let waiting: { n: number; resolve: () => void } | null = null;
  const server = await serve(
    (ws) => {
      ws.subscribe('news');
      ws.on('message', (message) => {
        server.publish('news', publication(seq++));
        void ws.send(message as string).catch(() => {});
      });
      connections.push(ws);
      if (waiting !== null && connections.length >= waiting.n) waiting.resolve();
    },
    { pingInterval: 0, perMessageDeflate: true },
  );
  defer(() => server.close());
  return {
    server,
    go: async (n) => {
      if (connections.length < n) await withTimeout(new Promise<void>((resolve) => (waiting = { n, resolve })), 10_000, `${n} connections`);
      for (const ws of connections) await ws.send('go');
    },
    published: () => seq,
  };
}

/** Our client or a `ws` client, doing what the Python script does; resolves with its extension header. */
async function jsPeer(kind: 'ours' | 'ws', url: string, echoes: number, total: () => number, options: ClientOptions = {}): Promise<{ run: Promise<void>; extensions: string }> {
  const received: string[] = [];
  let notify: (() => void) | null = null;
  const arrived = (data: string): void => {
    received.push(data);
    notify?.();
  };
  let send: (text: string) => void;
  let extensions: string;
  if (kind === 'ours') {
    const ws = await connect(url, { pingInterval: 0, perMessageDeflate: true, ...options });
    defer(() => ws.terminate());
    ws.on('message', (data) => arrived(data as string));
    send = (text) => void ws.send(text);
    extensions = ws.extensions;
  } else {
    const ws = new WsWebSocket(url, { perMessageDeflate: true });
    defer(() => ws.terminate());
    ws.on('message', (data: Buffer) => arrived(data.toString()));
    let answer = '';
    ws.once('upgrade', (response) => (answer = String(response.headers['sec-websocket-extensions'] ?? '')));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    send = (text) => ws.send(text);
    // ws's own `extensions` lists names only; the answer it accepted shows the parameters.
    expect(ws.extensions).toBe('permessage-deflate');
    extensions = answer;
  }
  const next = async (): Promise<string> => {
    while (received.length === 0) await new Promise<void>((resolve) => (notify = resolve));
    return received.shift()!;
  };
  const run = (async () => {
    expect(await next()).toBe('go');
    const sent: string[] = [];
    for (let i = 0; i < echoes; i++) {
      sent.push(echoRequest(kind, i));
      send(sent[i]!);
    }
    const echoed: string[] = [];
    let nextPub = 0;
    while (echoed.length < echoes || nextPub < total()) {
      const message = await next();
      const data = JSON.parse(message) as { pub?: number };
      if (data.pub !== undefined) {
        expect(data.pub).toBe(nextPub);
        expect(message).toBe(publication(nextPub));
        nextPub++;
      } else {
        echoed.push(message);
      }
    }
    expect(echoed).toEqual(sent);
  })();
  return { run, extensions };
}

/** Counts distinct compressions made for shared messages (one per message per window class). */
function countCompressions(): { distinct: () => number; restore: () => void } {
  const seen = new Set<Buffer>();
  const original = SharedMessage.prototype.compressedFor;
  const spy = vi.spyOn(SharedMessage.prototype, 'compressedFor').mockImplementation(function (this: SharedMessage, ...args) {
    const out = original.apply(this, args);
    seen.add(out);
    return out;
  });
  return { distinct: () => seen.size, restore: () => spy.mockRestore() };
}

const ECHOES = 20;

describe('compress once for publish (ours and ws clients)', () => {
  it('publishes interleaved with echoes arrive intact at ws and our clients; one compression per window class', async () => {
    const counter = countCompressions();
    defer(() => counter.restore());
    const scenario = await pubsubServer();
    const url = scenario.server.url;
    let total = 0;
    const peers = [
      await jsPeer('ws', url, ECHOES, () => total),
      await jsPeer('ws', url, ECHOES, () => total),
      await jsPeer('ours', url, ECHOES, () => total),
      await jsPeer('ours', url, ECHOES, () => total, { perMessageDeflate: { serverMaxWindowBits: 10 } }),
      await jsPeer('ours', url, ECHOES, () => total, { perMessageDeflate: { serverNoContextTakeover: true } }),
      await jsPeer('ours', url, ECHOES, () => total, { perMessageDeflate: false }),
    ];
    total = peers.length * ECHOES;
    expect(peers.map((p) => p.extensions)).toEqual([
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=12',
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12',
      '',
    ]);
    await scenario.go(peers.length);
    await withTimeout(Promise.all(peers.map((p) => p.run)), 20_000, 'every peer done');
    expect(scenario.published()).toBe(total);
    // Five deflate subscribers in two window classes (12 and 10): two compressions per publish.
    expect(counter.distinct()).toBe(2 * total);
  });
});

describeWithPeer('python3-websockets', 'compress once for publish with python-websockets', () => {
  it('python and ws clients (context takeover, their defaults) get publishes interleaved with their own compressed echoes', async () => {
    const counter = countCompressions();
    defer(() => counter.restore());
    const scenario = await pubsubServer();
    const url = scenario.server.url;
    const pythonCount = 2;
    let total = 0;
    const js = [await jsPeer('ws', url, ECHOES, () => total), await jsPeer('ours', url, ECHOES, () => total)];
    total = (pythonCount + js.length) * ECHOES;
    const children = Array.from({ length: pythonCount }, () => {
      const child = spawnPython('test/helpers/python/deflate_pubsub_client.py', [url, String(ECHOES), String(total)]);
      defer(() => child.stop());
      return child;
    });
    for (const child of children) {
      const [line] = await child.waitFor(/^extensions .*$/m);
      expect(line).toBe('extensions permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    }
    await scenario.go(pythonCount + js.length);
    await withTimeout(Promise.all(js.map((p) => p.run)), 20_000, 'js peers done');
    for (const child of children) {
      const exit = await child.waitExit(20_000);
      expect(exit, child.describe()).toEqual({ code: 0, signal: null });
      expect(child.lines.at(-1), child.describe()).toBe('ok');
    }
    expect(counter.distinct()).toBe(total);
  });
});

describe('compress once while a fragmented message is being sent', () => {
  it('a publish/broadcast to a deflate receiver waits for the open fragmented message and is encoded then', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let accepted!: (ws: WebSocketConnection) => void;
    const arrived = new Promise<WebSocketConnection>((resolve) => (accepted = resolve));
    const server = await serve(
      (ws) => {
        ws.subscribe('t');
        accepted(ws);
      },
      { pingInterval: 0, perMessageDeflate: true },
    );
    defer(() => server.close());
    const client = await connect(server.url, { pingInterval: 0, perMessageDeflate: true });
    defer(() => client.terminate());
    const serverSide = await withTimeout(arrived, 5000, 'the server side');
    const before = publication(0);
    await serverSide.send(before); // context takeover: the compressor now holds this
    async function* parts(): AsyncGenerator<string> {
      yield publication(1).slice(0, 100);
      await gate;
      yield publication(1).slice(100);
    }
    const fragments = serverSide.sendFragments(parts());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.publish('t', publication(2))).toBe(1);
    server.broadcast(publication(3));
    release();
    await fragments;
    await serverSide.send(publication(1)); // compressed with (reset) context after the shared ones
    const got = [await client.recv(), await client.recv(), await client.recv(), await client.recv(), await client.recv()];
    expect(got).toEqual([before, publication(1), publication(2), publication(3), publication(1)]);
  });
});
