/**
 * Every example in examples/ run as its own process (`node --import tsx`), driven through its real
 * socket and standard input/output, exactly as the README tells a reader to run it — plus
 * `npm start`, stopped with Ctrl-C.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, ConnectError } from '../src/index.js';
import { ensureCertificate } from '../examples/05-wss/cert.js';
import { freePort, killAll, Proc } from './fixtures/seed/processes.js';
import { describeWithPeer } from './helpers/peers.js';

afterEach(killAll);

const scratch = mkdtempSync(join(tmpdir(), 'fullduplex-examples-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('01-echo', () => {
  it('answers "I got your message: …"; the client sends hello world and prints the reply', async () => {
    const server = Proc.ts('examples/01-echo/server.ts', ['0']);
    const url = await server.url();
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);

    const client = Proc.ts('examples/01-echo/client.ts', [url]);
    expect(await client.exit()).toBe(0);
    expect(client.stdout).toBe('> hello world\n< I got your message: hello world\n');

    const several = Proc.ts('examples/01-echo/client.ts', [url, 'one', 'two']);
    expect(await several.exit()).toBe(0);
    expect(several.stdout).toBe('> one\n< I got your message: one\n> two\n< I got your message: two\n');
  });

  it('takes the port from PORT and stops cleanly on SIGINT', async () => {
    const port = await freePort();
    const server = Proc.ts('examples/01-echo/server.ts', [], { PORT: String(port) });
    expect(await server.url()).toBe(`ws://127.0.0.1:${port}/`);
    const client = Proc.ts('examples/01-echo/client.ts', [], { PORT: String(port) });
    expect(await client.exit()).toBe(0);
    server.signal('SIGINT');
    expect(await server.exit()).toBe(0);
  });
});

describe('02-push', () => {
  it('pushes each line of the server’s stdin to the client over one long-lived connection', async () => {
    const server = Proc.ts('examples/02-push/server.ts', ['0']);
    const url = await server.url();
    const client = Proc.ts('examples/02-push/client.ts', [url]);
    await server.waitFor(/client connected/);
    server.writeLine('first line');
    server.writeLine('second line');
    await client.waitFor(/first line\nsecond line\n/);
    await server.waitFor(/pushed to 1 client\n[\s\S]*pushed to 1 client\n/);
    // The end of the server's input closes the connection normally and ends both programs.
    server.endInput();
    expect(await client.exit()).toBe(0);
    expect(client.stdout).toMatch(/connection closed \(1000\)\n$/);
    expect(await server.exit()).toBe(0);
  });
});

describe('03-broadcast', () => {
  it('publishes each stdin line to every connected client through a topic', async () => {
    const server = Proc.ts('examples/03-broadcast/server.ts', ['0']);
    const url = await server.url();
    const alice = Proc.ts('examples/03-broadcast/client.ts', [url]);
    await server.waitFor(/1 online/);
    const bob = Proc.ts('examples/03-broadcast/client.ts', [url]);
    await server.waitFor(/2 online/);

    server.writeLine('hello everyone');
    await server.waitFor(/published to 2 clients/);
    await alice.waitFor(/^hello everyone$/m);
    await bob.waitFor(/^hello everyone$/m);

    // Ctrl-C on one client: it closes; the server notices and publishes to the other only.
    alice.signal('SIGINT');
    expect(await alice.exit()).toBe(0);
    await server.waitFor(/client left: 1 online/);
    server.writeLine('just bob');
    await bob.waitFor(/^just bob$/m);
    await server.waitFor(/published to 1 client\n/);
    expect(alice.stdout).not.toContain('just bob');

    server.endInput();
    expect(await bob.exit()).toBe(0);
    expect(await server.exit()).toBe(0);
  });
});

describe('04-router', () => {
  it('answers /light/on, /light/off and /light/1 as the seed does, and refuses /switch/on with 404', async () => {
    const server = Proc.ts('examples/04-router/server.ts', ['0'], { LIGHT_DELAY_MS: '0' });
    const url = await server.url();
    const port = new URL(url).port;
    const client = Proc.ts('examples/04-router/client.ts', [], { PORT: port });
    expect(await client.exit()).toBe(0);
    const base = `ws://127.0.0.1:${port}`;
    expect(client.stdout).toBe(
      [
        `${base}/light/on: the light has turned on`,
        `${base}/light/off: the light has turned off`,
        `${base}/light/1: invalid params`,
        `${base}/switch/on: refused: Unexpected server response: 404 Not Found`,
        '',
      ].join('\n'),
    );
    // The server printed what the seed's prints: the message, then the status.
    await server.waitFor(/got a message:00-12-4b-01\non\n[\s\S]*got a message:00-12-4b-01\noff\n/);
  });

  it('takes 2 s to "operate the light" by default, as in the seed', async () => {
    const server = Proc.ts('examples/04-router/server.ts', ['0']);
    const url = await server.url();
    const ws = await connect(`${url}light/off`);
    const started = Date.now();
    await ws.send('00-12-4b-01');
    expect(await ws.recv()).toBe('the light has turned off');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    await ws.close();
  });
});

// The example makes its certificate with openssl.
describeWithPeer('openssl', '05-wss', () => {
  const certFile = join(scratch, 'localhost.pem');

  it('creates a self-signed localhost certificate, and the client that trusts it gets the greeting', async () => {
    const server = Proc.ts('examples/05-wss/server.ts', ['0'], { CERT_FILE: certFile });
    const url = await server.url();
    expect(url).toMatch(/^wss:\/\/localhost:\d+\/$/);
    expect(server.stdout).toContain(`created a self-signed certificate for localhost in ${certFile}`);

    const client = Proc.ts('examples/05-wss/client.ts', [url, 'Alice'], { CERT_FILE: certFile });
    expect(await client.exit()).toBe(0);
    expect(client.stdout).toBe('> Alice\n< Hello Alice!\n');
    await server.waitFor(/< Alice\n> Hello Alice!\n/);

    // The name can come from standard input, as the seed's input() prompt.
    const asking = Proc.ts('examples/05-wss/client.ts', [url], { CERT_FILE: certFile });
    await asking.waitFor(/What's your name\? /);
    asking.writeLine('Bob');
    expect(await asking.exit()).toBe(0);
    expect(asking.stdout).toContain('> Bob\n< Hello Bob!\n');
  });

  it('reuses the certificate on the next run, and clients that do not trust it are refused', async () => {
    ensureCertificate(certFile);
    const server = Proc.ts('examples/05-wss/server.ts', ['0'], { CERT_FILE: certFile });
    const url = await server.url();
    expect(server.stdout).not.toContain('created a self-signed certificate');
    // Default roots do not include it.
    const error = await connect(url).then(
      (ws) => ws.close().then(() => null),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe('FD_ERR_TLS');
  });
});

describe('06-counter', () => {
  it('serves the page over HTTP and the counter socket at /ws on the same port', async () => {
    const server = Proc.ts('examples/06-counter/server.ts', ['0']);
    const pageUrl = await server.url();
    expect(pageUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(pageUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<div class="plus button">+</div>');
    expect(html).toContain("location.host + '/ws'");
    expect((await fetch(`${pageUrl}nothing-here`)).status).toBe(404);

    const socketUrl = pageUrl.replace('http:', 'ws:') + 'ws';
    const watcher = await connect(socketUrl);
    expect(JSON.parse(String(await watcher.recv()))).toEqual({ type: 'users', count: 1 });
    expect(JSON.parse(String(await watcher.recv()))).toEqual({ type: 'state', value: 0 });

    // The command-line client: +1 +1 −1, seen by the other connection too.
    const client = Proc.ts('examples/06-counter/client.ts', [socketUrl, 'plus', 'plus', 'minus']);
    expect(await client.exit()).toBe(0);
    expect(client.stdout).toBe('users: 2\nstate: 0\nstate: 1\nstate: 2\nstate: 1\n');
    const seen: unknown[] = [];
    while (seen.length < 5) seen.push(JSON.parse(String(await watcher.recv())));
    expect(seen).toEqual([
      { type: 'users', count: 2 },
      { type: 'state', value: 1 },
      { type: 'state', value: 2 },
      { type: 'state', value: 1 },
      { type: 'users', count: 1 },
    ]);
    await watcher.close();

    const refused = await connect(pageUrl.replace('http:', 'ws:') + 'elsewhere').catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).status).toBe(404);

    server.signal('SIGINT');
    expect(await server.exit()).toBe(0);
  });
});

describe('07-reconnect', () => {
  it('reconnects by itself after the server restarts, and lines typed meanwhile arrive in order', async () => {
    const port = String(await freePort());
    let server = Proc.ts('examples/07-reconnect/server.ts', [port]);
    await server.url();
    const client = Proc.ts('examples/07-reconnect/client.ts', [], {
      PORT: port,
      RECONNECT_INITIAL_MS: '100',
      RECONNECT_MAX_MS: '400',
    });
    await client.waitFor(/connected to ws:\/\/127\.0\.0\.1:\d+/);
    client.writeLine('before');
    await server.waitFor(/< before\n/);

    // Kill the server hard: no close frame, the client sees 1006.
    server.signal('SIGKILL');
    await server.exited;
    await client.waitFor(/disconnected \(1006\)/);
    await client.waitFor(/reconnecting in \d+ ms \(attempt 2: Could not connect/);
    client.writeLine('while down 1');
    client.writeLine('while down 2');
    await client.waitFor(/queued: while down 2 \(2 waiting\)/);

    server = Proc.ts('examples/07-reconnect/server.ts', [port]);
    await client.waitFor(/reconnected to ws:\/\/127\.0\.0\.1:\d+/);
    await server.waitFor(/< while down 1\n< while down 2\n/);
    client.writeLine('after');
    await server.waitFor(/< after\n/);

    // Ctrl-C stops the client cleanly: a normal close, exit 0.
    client.signal('SIGINT');
    expect(await client.exit()).toBe(0);
    await server.waitFor(/client gone \(1000\)/);
  });

  it("the server's heartbeat drops a client that hangs; the client, once back, reconnects", async () => {
    const server = Proc.ts('examples/07-reconnect/server.ts', ['0'], { HEARTBEAT_MS: '200' });
    const url = await server.url();
    const client = Proc.ts('examples/07-reconnect/client.ts', [url], { HEARTBEAT_MS: '60000', RECONNECT_INITIAL_MS: '100' });
    await client.waitFor(/connected to/);
    await server.waitFor(/client connected/);
    client.signal('SIGSTOP'); // frozen: its pongs stop coming
    try {
      await server.waitFor(/client gone \(1006 keepalive ping timeout\)/, 10_000);
    } finally {
      client.signal('SIGCONT');
    }
    // The server's close frame (1011, as python-websockets sends) was waiting in the client's
    // socket buffer; a client frozen longer might see only the dropped TCP connection (1006).
    await client.waitFor(/disconnected \((1011 keepalive ping timeout|1006)\)/);
    await client.waitFor(/reconnected to/);
    client.writeLine('back again');
    await server.waitFor(/< back again\n/);
  });

  it('the heartbeat drops a server that hangs without closing, then reconnects when it is back', async () => {
    const server = Proc.ts('examples/07-reconnect/server.ts', ['0'], { HEARTBEAT_MS: '60000' });
    const url = await server.url();
    const client = Proc.ts('examples/07-reconnect/client.ts', [url], {
      HEARTBEAT_MS: '300',
      RECONNECT_INITIAL_MS: '100',
      RECONNECT_MAX_MS: '200',
    });
    await client.waitFor(/connected to/);
    server.signal('SIGSTOP'); // frozen: TCP stays up, nothing answers the pings
    try {
      await client.waitFor(/disconnected \(1006 keepalive ping timeout\)/, 10_000);
      await client.waitFor(/reconnecting in/);
    } finally {
      server.signal('SIGCONT');
    }
    await client.waitFor(/reconnected to/, 15_000);
  });
});

describe('npm start', () => {
  it('serves the counter page, the echo endpoint and the light router, and stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    // Detached: Ctrl-C in a terminal signals the whole process group (npm, tsx, node).
    const demo = new Proc('npm', ['start', '--silent'], { PORT: String(port), LIGHT_DELAY_MS: '0' }, { detached: true });
    const url = await demo.url();
    expect(url).toBe(`http://127.0.0.1:${port}/`);

    const html = await (await fetch(url)).text();
    expect(html).toContain('<span class="users">?</span> online');

    const echo = await connect(`ws://127.0.0.1:${port}/echo`);
    await echo.send('hello world');
    expect(await echo.recv()).toBe('I got your message: hello world');
    await echo.close();

    const light = await connect(`ws://127.0.0.1:${port}/light/on`);
    await light.send('00-12-4b-01');
    expect(await light.recv()).toBe('the light has turned on');
    await light.close();

    const counter = await connect(`ws://127.0.0.1:${port}/ws`);
    expect(JSON.parse(String(await counter.recv()))).toEqual({ type: 'users', count: 1 });
    expect(JSON.parse(String(await counter.recv()))).toEqual({ type: 'state', value: 0 });
    await counter.send(JSON.stringify({ action: 'plus' }));
    expect(JSON.parse(String(await counter.recv()))).toEqual({ type: 'state', value: 1 });

    const refused = await connect(`ws://127.0.0.1:${port}/switch/on`).catch((caught: unknown) => caught);
    expect((refused as ConnectError).status).toBe(404);
    expect((refused as ConnectError).message).toContain('404 Not Found');

    // Ctrl-C with a client still connected: the terminal signals the whole group; the client gets
    // a going-away close, the server prints its goodbye, and nothing is left running. (npm itself
    // then re-raises SIGINT — npm's own convention — so its status is the signal, not the demo's.)
    demo.signal('SIGINT');
    await counter.whenClosed();
    expect(counter.closeCode).toBe(1001);
    expect([0, 'SIGINT']).toContain(await demo.exit());
    expect(demo.stdout).toContain('demo stopped');
    await expect.poll(() => groupAlive(demo.child.pid!), { timeout: 5000 }).toBe(false);
  });

  it('the demo server itself exits 0 on SIGINT', async () => {
    const demo = Proc.ts('examples/demo/server.ts', [], { PORT: '0' });
    const url = await demo.url();
    const echo = await connect(`${url.replace('http:', 'ws:')}echo`);
    demo.signal('SIGINT');
    await echo.whenClosed();
    expect(await demo.exit()).toBe(0);
    expect(demo.stdout).toContain('demo stopped');
  });
});

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
