/**
 * Graceful shutdown: `await server.close()` closes every connection with 1001 (going away), waits
 * for their closing handshakes, drops sockets still in the opening handshake, and leaves nothing
 * behind — checked in-process, and in child processes that must exit on their own afterwards
 * (server side and client side).
 */
import { describe, expect, it } from 'vitest';
import { connect, ConnectError, serve, type WebSocketConnection, type WebSocketServer } from '../src/index.js';
import { cleanupAfterEach, withTimeout } from './helpers/async.js';
import { spawnTsx, type Child } from './helpers/process.js';
import { RawClient } from './helpers/raw.js';
import { openWs, wsClosed } from './helpers/ws.js';

const defer = cleanupAfterEach();

/** A child must exit by itself within this; it is killed (and the test fails) otherwise. */
const EXIT_DEADLINE = 8000;

async function echoServer(): Promise<WebSocketServer> {
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { pingInterval: 0 },
  );
  defer(() => server.close());
  return server;
}

function child(script: string, args: string[]): Child {
  const proc = spawnTsx(script, args);
  defer(() => proc.stop());
  return proc;
}

/** The JSON object on the last line of the child's stdout. */
function lastJson(proc: Child): Record<string, unknown> {
  const line = proc.lines.at(-1);
  if (line === undefined) throw new Error(`no output\n${proc.describe()}`);
  return JSON.parse(line) as Record<string, unknown>;
}

describe('server.close() in process', () => {
  it('closes every connection with 1001 and resolves once they are all closed', async () => {
    const server = await echoServer();
    const clients = await Promise.all([1, 2, 3].map(() => openWs(server.url)));
    for (const client of clients) defer(() => client.terminate());
    await expect.poll(() => server.clients.size).toBe(3);
    const serverSide: WebSocketConnection[] = [...server.clients];
    const seen = clients.map((client) => wsClosed(client));
    let closeEvent = false;
    server.once('close', () => (closeEvent = true));
    await withTimeout(server.close(), 5000, 'server.close()');
    expect(closeEvent).toBe(true);
    expect(server.clients.size).toBe(0);
    expect(serverSide.map((ws) => [ws.readyState, ws.closeCode, ws.wasClean])).toEqual([
      [3, 1001, true],
      [3, 1001, true],
      [3, 1001, true],
    ]);
    expect(await Promise.all(seen)).toEqual([
      { code: 1001, reason: 'Server shutting down' },
      { code: 1001, reason: 'Server shutting down' },
      { code: 1001, reason: 'Server shutting down' },
    ]);
  });

  it('uses the code and reason it is given', async () => {
    const server = await echoServer();
    const client = await openWs(server.url);
    defer(() => client.terminate());
    const seen = wsClosed(client);
    await withTimeout(server.close(4000, 'maintenance'), 5000, 'server.close()');
    expect(await seen).toEqual({ code: 4000, reason: 'maintenance' });
  });

  it('drops sockets still in the opening handshake', async () => {
    const server = await echoServer();
    const raw = await RawClient.connect(server.address().port);
    defer(() => raw.destroy());
    raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await withTimeout(server.close(), 5000, 'server.close()');
    await raw.waitClosed();
    expect(raw.frames).toEqual([]);
  });

  it('refuses new connections afterwards, and a second close() resolves too', async () => {
    const server = await echoServer();
    const url = server.url;
    await withTimeout(server.close(), 5000, 'server.close()');
    const error = await connect(url, { handshakeTimeout: 3000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe('FD_ERR_CONNECT');
    await withTimeout(server.close(), 1000, 'second server.close()');
  });

  it('a python-websockets style handler ends quietly on 1001: no server error', async () => {
    const errors: Error[] = [];
    const server = await echoServer();
    server.on('error', (error) => errors.push(error));
    const client = await withTimeout(connect(server.url), 5000, 'connect');
    defer(() => client.terminate());
    await client.send('x');
    await client.recv();
    await withTimeout(server.close(), 5000, 'server.close()');
    await withTimeout(client.whenClosed(), 5000, 'client closed');
    expect([client.closeCode, client.closeReason, client.wasClean]).toEqual([1001, 'Server shutting down', true]);
    expect(errors).toEqual([]);
  });
});

describe('nothing is left behind: the process exits on its own', () => {
  it.each(['handler', 'events', 'handshaking'])('after server.close() with three clients (%s)', async (mode) => {
    const proc = child('test/fixtures/close-server.ts', [mode]);
    const exit = await proc.waitExit(EXIT_DEADLINE);
    expect(exit, proc.describe()).toEqual({ code: 0, signal: null });
    const result = lastJson(proc);
    expect(result).toEqual({
      seen: [
        [1001, 'Server shutting down'],
        [1001, 'Server shutting down'],
        [1001, 'Server shutting down'],
      ],
      serverClients: 0,
      states: [3, 3, 3],
    });
  });

  it.each(['connection', 'whatwg'])('after a client (%s) closes', async (mode) => {
    const server = await echoServer();
    const proc = child('test/fixtures/close-client.ts', [server.url, mode]);
    const exit = await proc.waitExit(EXIT_DEADLINE);
    expect(exit, proc.describe()).toEqual({ code: 0, signal: null });
    expect(proc.lines.map((line) => JSON.parse(line) as unknown)).toEqual([
      { received: 'hello' },
      { code: 1000, wasClean: true },
    ]);
    await expect.poll(() => server.clients.size).toBe(0);
  });
});
