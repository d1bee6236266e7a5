/**
 * The `fullduplex` command, run as a child process from source: `echo` and `broadcast` servers
 * checked with ws clients, and `connect` used in a pipe (lines in on stdin, `< reply` lines out
 * on stdout) against our server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type ServerOptions, type WebSocketConnection, type WebSocketServer } from '../src/index.js';
import { cleanupAfterEach, unusedPort, withTimeout } from './helpers/async.js';
import { spawnTsx, type Child } from './helpers/process.js';
import { Inbox, openWs, wsClosed, type WsWebSocket } from './helpers/ws.js';

const CLI = 'test/fixtures/cli.ts';
const LISTENING = /^fullduplex (echo|broadcast) server listening on (ws:\/\/127\.0\.0\.1:\d+\/)$/m;

const defer = cleanupAfterEach();

function cli(args: string[]): Child {
  const proc = spawnTsx(CLI, args);
  defer(() => proc.stop());
  return proc;
}

/** Starts `fullduplex <kind> --port 0` and returns it with the URL it printed. */
async function startCliServer(kind: 'echo' | 'broadcast'): Promise<{ proc: Child; url: string }> {
  const proc = spawnTsx(CLI, [kind, '--port', '0']);
  const match = await proc.waitFor(LISTENING);
  return { proc, url: match[2]! };
}

async function wsClient(url: string): Promise<WsWebSocket> {
  const ws = await openWs(url);
  defer(() => ws.terminate());
  return ws;
}

describe('fullduplex echo', () => {
  let server: { proc: Child; url: string };
  beforeAll(async () => {
    server = await startCliServer('echo');
  });
  afterAll(async () => {
    await server?.proc.stop();
  });

  it('prints the ws:// URL it listens on, with the port it got', () => {
    const match = LISTENING.exec(server.proc.stdout)!;
    expect(match[1]).toBe('echo');
    expect(Number(new URL(match[2]!).port)).toBeGreaterThan(0);
  });

  it('echoes text as text', async () => {
    const client = await wsClient(server.url);
    client.send('hello cli');
    client.send('héllo €');
    expect(await Inbox.of(client).next()).toEqual({ data: 'hello cli', isBinary: false });
    expect(await Inbox.of(client).next()).toEqual({ data: 'héllo €', isBinary: false });
  });

  it('echoes binary as binary, large messages included', async () => {
    const client = await wsClient(server.url);
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    client.send(Buffer.from([0, 1, 255]));
    client.send(big);
    expect(await Inbox.of(client).next()).toEqual({ data: Buffer.from([0, 1, 255]), isBinary: true });
    const echoed = await Inbox.of(client).next();
    expect(echoed.isBinary).toBe(true);
    expect((echoed.data as Buffer).equals(big)).toBe(true);
  });
});

describe('fullduplex broadcast', () => {
  let server: { proc: Child; url: string };
  beforeAll(async () => {
    server = await startCliServer('broadcast');
  });
  afterAll(async () => {
    await server?.proc.stop();
  });

  it('sends a message from client A to every client, A included', async () => {
    const a = await wsClient(server.url);
    const b = await wsClient(server.url);
    a.send('from A');
    expect(await Inbox.of(a).next()).toEqual({ data: 'from A', isBinary: false });
    expect(await Inbox.of(b).next()).toEqual({ data: 'from A', isBinary: false });
    b.send(Buffer.from([1, 2, 3]));
    expect(await Inbox.of(a).next()).toEqual({ data: Buffer.from([1, 2, 3]), isBinary: true });
    expect(await Inbox.of(b).next()).toEqual({ data: Buffer.from([1, 2, 3]), isBinary: true });
  });
});

describe('fullduplex echo, stopping', () => {
  it('closes its clients with 1001 and exits 0 on SIGTERM', async () => {
    const { proc, url } = await startCliServer('echo');
    defer(() => proc.stop());
    const client = await wsClient(url);
    const closed = wsClosed(client);
    proc.kill('SIGTERM');
    expect((await closed).code).toBe(1001);
    expect(await proc.waitExit(5000)).toEqual({ code: 0, signal: null });
  });
});

describe('fullduplex connect', () => {
  /** An in-process server answering each message with `reply: …`, `bin` with 3 bytes, `close` with 4000. */
  async function replyServer(options: ServerOptions = {}): Promise<{ server: WebSocketServer; connections: WebSocketConnection[] }> {
    const connections: WebSocketConnection[] = [];
    const server = await serve(
      async (ws) => {
        connections.push(ws);
        for await (const message of ws) {
          if (message === 'bin') await ws.send(Buffer.from([0xde, 0xad, 0x01]));
          else if (message === 'close') await ws.close(4000, 'closed by server');
          else await ws.send(`reply: ${message}`);
        }
      },
      { pingInterval: 0, ...options },
    );
    defer(() => server.close());
    return { server, connections };
  }

  it('in a pipe: sends each stdin line, prints each reply as "< …", closes normally at end of input', async () => {
    const { server, connections } = await replyServer();
    const proc = cli(['connect', server.url]);
    proc.process.stdin!.write('hello\n');
    await proc.waitFor(/^< reply: hello$/m);
    proc.process.stdin!.write('wörld €\nbin\n');
    await proc.waitFor(/^< \(binary 3 bytes\) dead01$/m);
    proc.process.stdin!.end();
    expect(await proc.waitExit(5000)).toEqual({ code: 0, signal: null });
    expect(proc.lines).toEqual(['< reply: hello', '< reply: wörld €', '< (binary 3 bytes) dead01']);
    expect(connections).toHaveLength(1);
    await withTimeout(connections[0]!.whenClosed(), 5000, 'server side closed');
    expect([connections[0]!.closeCode, connections[0]!.wasClean]).toEqual([1000, true]);
  });

  it('in a pipe whose input ends at once: replies that arrive after our close frame are still printed', async () => {
    // `printf 'hello\n' | fullduplex connect URL`: stdin ends before any reply can arrive, so the
    // client sends its close frame right after the message. The peer's replies sent before its
    // own close frame are still its messages (RFC 6455 §7.1.2): printed, then a clean exit.
    // An event-style echo (as `fullduplex echo`) answers each message before it sees our close.
    const connections: WebSocketConnection[] = [];
    const server = await serve(() => {}, { pingInterval: 0 });
    defer(() => server.close());
    server.on('connection', (ws) => {
      connections.push(ws);
      ws.on('message', (message) => void ws.send(`reply: ${String(message)}`).catch(() => {}));
    });
    const proc = cli(['connect', server.url]);
    proc.process.stdin!.end('hello\nwörld\n');
    expect(await proc.waitExit(8000)).toEqual({ code: 0, signal: null });
    expect(proc.lines).toEqual(['< reply: hello', '< reply: wörld']);
    await withTimeout(connections[0]!.whenClosed(), 5000, 'server side closed');
    expect([connections[0]!.closeCode, connections[0]!.wasClean]).toEqual([1000, true]);
  });

  it('passes --protocol and --header to the server', async () => {
    const seen: Array<{ authorization: string | undefined; offered: string[] }> = [];
    const { server, connections } = await replyServer({
      selectProtocol: (offered) => offered.at(-1) ?? null,
      verify: (info) => void seen.push({ authorization: info.headers.authorization, offered: info.offeredProtocols }),
    });
    const proc = cli(['connect', server.url, '--protocol', 'chat.v1', '--protocol', 'chat.v2', '--header', 'Authorization: Bearer t0k3n']);
    proc.process.stdin!.write('hi\n');
    await proc.waitFor(/^< reply: hi$/m);
    expect(seen).toEqual([{ authorization: 'Bearer t0k3n', offered: ['chat.v1', 'chat.v2'] }]);
    expect(connections[0]!.protocol).toBe('chat.v2');
    proc.process.stdin!.end();
    expect((await proc.waitExit(5000)).code).toBe(0);
  });

  it('exits 1 and says why when the server closes with an error code', async () => {
    const { server } = await replyServer();
    const proc = cli(['connect', server.url]);
    proc.process.stdin!.write('close\n');
    expect((await proc.waitExit(5000)).code).toBe(1);
    expect(proc.stderr).toMatch(/Connection closed: 4000 closed by server/);
  });

  it('exits non-zero with a clear error on stderr when the port refuses connections', async () => {
    const port = await unusedPort();
    const proc = cli(['connect', `ws://127.0.0.1:${port}/`]);
    const exit = await proc.waitExit(8000);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(proc.stderr).toMatch(/^fullduplex: Could not connect to ws:\/\/127\.0\.0\.1:\d+\/: ECONNREFUSED$/m);
    expect(proc.stdout).toBe('');
  });

  it('exits 2 with the usage for an unknown command', async () => {
    const proc = cli(['frobnicate']);
    expect((await proc.waitExit(8000)).code).toBe(2);
    expect(proc.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(proc.stderr).toMatch(/Usage:/);
  });
});
