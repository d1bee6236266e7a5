/**
 * Interop with python-websockets (Debian's `python3-websockets`, run with /usr/bin/python3): the
 * seed's example 1 — a Python client saying "hello world" to an echo server answering
 * `I got your message: …` — with our server, and our client against a Python echo server.
 * The scripts live in test/helpers/python/; ports go through argv, results come back on stdout.
 * Without python3-websockets the tests are skipped with a line naming the package; in CI they run
 * (test/helpers/peers.ts). `FULLDUPLEX_PYTHON` picks another interpreter.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, serve, type ConnectionHandler, type WebSocketConnection, type WebSocketServer } from '../src/index.js';
import { cleanupAfterEach, nextEvent, withTimeout } from './helpers/async.js';
import { describeWithPeer } from './helpers/peers.js';
import { PYTHON, spawnPython, type Child } from './helpers/process.js';

const CLIENT = 'test/helpers/python/client.py';
const SERVER = 'test/helpers/python/server.py';

const defer = cleanupAfterEach();

/** The seed's server in our API: every message answered with `I got your message: …`. */
const gotYourMessage: ConnectionHandler = async (ws) => {
  for await (const message of ws) await ws.send(`I got your message: ${message}`);
};

async function ourServer(handler: ConnectionHandler): Promise<WebSocketServer> {
  const server = await serve(handler, { pingInterval: 0 });
  defer(() => server.close());
  return server;
}

function python(script: string, args: string[]): Child {
  const child = spawnPython(script, args);
  defer(() => child.stop());
  return child;
}

/** Runs the Python client to completion and returns its stdout lines. */
async function runClient(url: string, mode: 'reply-each' | 'until-closed', messages: string[]): Promise<string[]> {
  const child = python(CLIENT, [url, mode, ...messages]);
  const exit = await child.waitExit(10_000);
  expect(exit, child.describe()).toEqual({ code: 0, signal: null });
  return child.lines;
}

/** Starts the Python echo server on a free port and returns its URL. */
async function pythonServer(): Promise<{ child: Child; url: string }> {
  const child = python(SERVER, ['0']);
  const [, port] = await child.waitFor(/^listening (\d+)$/m);
  return { child, url: `ws://127.0.0.1:${port}/` };
}

async function ourClient(url: string): Promise<WebSocketConnection> {
  const ws = await withTimeout(connect(url), 5000, `connect(${url})`);
  defer(() => ws.terminate());
  return ws;
}

describeWithPeer('python3-websockets', 'python-websockets', () => {
  beforeAll(() => {
    const version = execFileSync(PYTHON, ['-c', 'import websockets; print(websockets.__version__)'], { encoding: 'utf8' }).trim();
    // websockets.connect/serve as async context managers and `server.sockets` need 10 or later.
    expect(Number(version.split('.')[0]), `websockets ${version}`).toBeGreaterThanOrEqual(10);
  });

  describe('a Python client against our server', () => {
    it('seed example 1: sends "hello world" and prints "I got your message: hello world"; we see its close 1000', async () => {
      let serverSide: WebSocketConnection | undefined;
      const server = await ourServer((ws) => {
        serverSide = ws;
        return gotYourMessage(ws);
      });
      const lines = await runClient(server.url, 'reply-each', ['hello world']);
      expect(lines).toEqual(['< hello world', '> I got your message: hello world', 'closed 1000 ']);
      await withTimeout(serverSide!.whenClosed(), 5000, 'server side closed');
      expect([serverSide!.closeCode, serverSide!.wasClean]).toEqual([1000, true]);
    });

    it('keeps the conversation going: several messages, non-ASCII text included', async () => {
      const server = await ourServer(gotYourMessage);
      const lines = await runClient(server.url, 'reply-each', ['one', 'héllo wörld €', 'three']);
      expect(lines).toEqual([
        '< one',
        '> I got your message: one',
        '< héllo wörld €',
        '> I got your message: héllo wörld €',
        '< three',
        '> I got your message: three',
        'closed 1000 ',
      ]);
    });

    it('when our handler returns, the Python client reading in a loop sees a normal close (1000)', async () => {
      const server = await ourServer(async (ws) => {
        const first = await ws.recv();
        const second = await ws.recv();
        await ws.send(`I got your message: ${first}`);
        await ws.send(`I got your message: ${second}`);
      });
      const lines = await runClient(server.url, 'until-closed', ['hello world', 'bye']);
      expect(lines).toEqual([
        '< hello world',
        '< bye',
        '> I got your message: hello world',
        '> I got your message: bye',
        'closed 1000 ',
      ]);
    });

    it('when our server closes with 1001 on shutdown, the Python client sees 1001 and the reason', async () => {
      const server = await serve(async (ws) => {
        await ws.recv();
        void server.close();
        await ws.whenClosed();
      }, { pingInterval: 0 });
      defer(() => server.close());
      const lines = await runClient(server.url, 'until-closed', ['hello world']);
      expect(lines).toEqual(['< hello world', 'closed 1001 Server shutting down']);
    });
  });

  describe('our client against a Python echo server', () => {
    it('round-trips text as text and binary as binary', async () => {
      const { url } = await pythonServer();
      const ws = await ourClient(url);
      await ws.send('hello world');
      await ws.send(Buffer.from([0, 1, 2, 254, 255]));
      await ws.send('héllo €');
      expect(await ws.recv()).toBe('hello world');
      expect(await ws.recv()).toEqual(Buffer.from([0, 1, 2, 254, 255]));
      expect(await ws.recv()).toBe('héllo €');
    });

    it('round-trips a 1 MiB binary message and a 1 MiB text message intact', async () => {
      const { url } = await pythonServer();
      const ws = await ourClient(url);
      const bytes = randomBytes(1024 * 1024);
      const text = 'abcdefghijklmnopqrstuvwxyz0123456789€'.repeat(27_000).slice(0, 1024 * 1024);
      // Not awaited: whether `await send()` resolves above the high-water mark is covered in
      // interop.ws.test.ts; here only the bytes matter.
      void ws.send(bytes).catch(() => {});
      void ws.send(text).catch(() => {});
      const echoed = (await withTimeout(ws.recv(), 10_000, 'binary echo')) as Buffer;
      expect(Buffer.isBuffer(echoed)).toBe(true);
      expect(echoed.length).toBe(bytes.length);
      expect(echoed.equals(bytes)).toBe(true);
      const echoedText = await withTimeout(ws.recv(), 10_000, 'text echo');
      expect(echoedText === text).toBe(true);
    });

    it('sends a fragmented message that Python reassembles', async () => {
      const { url } = await pythonServer();
      const ws = await ourClient(url);
      await withTimeout(ws.sendFragments(['hello', ' ', 'world']), 5000, 'sendFragments()');
      expect(await ws.recv()).toBe('hello world');
    });

    it('pings Python and resolves with the round-trip time', async () => {
      const { url } = await pythonServer();
      const ws = await ourClient(url);
      expect(await withTimeout(ws.ping(), 5000, 'pong')).toBeGreaterThanOrEqual(0);
    });

    it('closes with 4001 and a reason that Python reports', async () => {
      const { child, url } = await pythonServer();
      const ws = await ourClient(url);
      await withTimeout(ws.close(4001, 'done here'), 5000, 'close()');
      await child.waitFor(/^closed 4001 done here$/m, 5000);
      expect([ws.closeCode, ws.wasClean]).toEqual([4001, true]);
    });

    it('sees the code and reason when Python closes (4002)', async () => {
      const { child, url } = await pythonServer();
      const ws = await ourClient(url);
      const closed = nextEvent<[number, string]>(ws, 'close');
      await ws.send('close:4002:python says bye');
      expect(await closed).toEqual([4002, 'python says bye']);
      expect(ws.wasClean).toBe(true);
      // Python reports the code of the close frame it received: our echo repeats the code (§5.5.1).
      await child.waitFor(/^closed 4002 /m, 5000);
    });
  });
});
