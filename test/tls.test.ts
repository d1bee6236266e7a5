/**
 * wss:// end to end: our server on `node:tls` with a self-signed certificate made by `openssl`
 * for localhost and 127.0.0.1, reached by our client (trusting it through `tls.ca`, or refusing
 * it without) and by ws's client. Without openssl the tests are skipped with a line naming the
 * Debian package; in CI they run (test/helpers/peers.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, ConnectError, serve, WebSocket, type WebSocketServer } from '../src/index.js';
import { cleanupAfterEach, withTimeout } from './helpers/async.js';
import { describeWithPeer } from './helpers/peers.js';
import { Inbox, openWs } from './helpers/ws.js';

let dir: string;
let cert: Buffer;
let key: Buffer;

const defer = cleanupAfterEach();

/** What `connect` rejects with (null if it unexpectedly opened), within 5 s. */
function connectError(attempt: Promise<unknown>): Promise<unknown> {
  return withTimeout(
    attempt.then(
      () => null,
      (e: unknown) => e,
    ),
    5000,
    'connect to fail',
  );
}

async function secureEchoServer(): Promise<{ server: WebSocketServer; port: number }> {
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { tls: { cert, key }, pingInterval: 0 },
  );
  defer(() => server.close());
  return { server, port: server.address().port };
}

describeWithPeer('openssl', 'wss://', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fullduplex-tls-'));
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'));
    key = readFileSync(join(dir, 'key.pem'));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('our server reports a wss:// URL', async () => {
    const { server, port } = await secureEchoServer();
    expect(server.url).toBe(`wss://127.0.0.1:${port}/`);
  });

  it('our client trusting the certificate through tls.ca talks to wss://localhost', async () => {
    const { port } = await secureEchoServer();
    const ws = await withTimeout(connect(`wss://localhost:${port}/`, { tls: { ca: cert } }), 5000, 'connect');
    defer(() => ws.terminate());
    await ws.send('over TLS');
    await ws.send(Buffer.from([1, 2, 3]));
    expect(await ws.recv()).toBe('over TLS');
    expect(await ws.recv()).toEqual(Buffer.from([1, 2, 3]));
    await withTimeout(ws.close(), 5000, 'close');
    expect([ws.closeCode, ws.wasClean]).toEqual([1000, true]);
  });

  it('our client also verifies an IP address against the certificate (wss://127.0.0.1)', async () => {
    const { port } = await secureEchoServer();
    const ws = await withTimeout(connect(`wss://127.0.0.1:${port}/`, { tls: { ca: cert } }), 5000, 'connect');
    defer(() => ws.terminate());
    await ws.send('by IP');
    expect(await ws.recv()).toBe('by IP');
  });

  it("our client without the CA fails with ConnectError 'FD_ERR_TLS'", async () => {
    const { port } = await secureEchoServer();
    const error = await connectError(connect(`wss://localhost:${port}/`));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe('FD_ERR_TLS');
    expect((error as ConnectError).message).toMatch(/TLS/);
  });

  it("our client with a CA for another name fails with 'FD_ERR_TLS' (servername mismatch)", async () => {
    const { port } = await secureEchoServer();
    const error = await connectError(connect(`wss://localhost:${port}/`, { tls: { ca: cert, servername: 'example.com' } }));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe('FD_ERR_TLS');
  });

  it('our client with rejectUnauthorized: false connects without the CA', async () => {
    const { port } = await secureEchoServer();
    const ws = await withTimeout(connect(`wss://localhost:${port}/`, { tls: { rejectUnauthorized: false } }), 5000, 'connect');
    defer(() => ws.terminate());
    await ws.send('insecure');
    expect(await ws.recv()).toBe('insecure');
  });

  it('ws with the CA talks to our wss server', async () => {
    const { port } = await secureEchoServer();
    const client = await openWs(`wss://localhost:${port}/`, undefined, { ca: cert });
    defer(() => client.terminate());
    const inbox = Inbox.of(client);
    client.send('from ws');
    client.send(Buffer.alloc(70_000, 9));
    expect(await inbox.next()).toEqual({ data: 'from ws', isBinary: false });
    const big = await inbox.next();
    expect(big.isBinary).toBe(true);
    expect((big.data as Buffer).equals(Buffer.alloc(70_000, 9))).toBe(true);
  });

  it('the WHATWG WebSocket takes client options as its third argument', async () => {
    const { port } = await secureEchoServer();
    const ws = new WebSocket(`wss://localhost:${port}/`, [], { tls: { ca: cert } });
    defer(() => ws.close());
    const received = new Promise<unknown>((resolve) => (ws.onmessage = (event) => resolve(event.data)));
    await withTimeout(new Promise((resolve) => (ws.onopen = resolve)), 5000, 'onopen');
    ws.send('browser style');
    expect(await withTimeout(received, 5000, 'onmessage')).toBe('browser style');
  });

  it('a plain TCP client speaking HTTP to the TLS port is dropped without harming the server', async () => {
    const { server, port } = await secureEchoServer();
    const error = await connectError(connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 3000 }));
    expect(error).toBeInstanceOf(ConnectError);
    // The server still serves TLS clients.
    const ws = await withTimeout(connect(`wss://localhost:${port}/`, { tls: { ca: cert } }), 5000, 'connect');
    defer(() => ws.terminate());
    await ws.send('still fine');
    expect(await ws.recv()).toBe('still fine');
    expect(server.clients.size).toBe(1);
  });
});
