/**
 * WebSockets over HTTP/2 (RFC 8441) vs HTTP/1.1 upgrades, cleartext on 127.0.0.1:
 *
 * - open N sockets (default 1000) from one client: over HTTP/2 all are streams of one pooled
 *   connection, over HTTP/1.1 each is its own TCP connection; time to open them all;
 * - the server process's RSS and open file descriptors with the N sockets open (the server runs in
 *   a child process, so the figures are its own), and the client's descriptors;
 * - echo throughput of one socket (16 KiB binary messages, 16 in flight), and of all N sockets
 *   echoing small messages at once.
 *
 *   npx tsx bench/h2.ts [sockets=1000]
 *
 * Prints a table; the same figures as JSON on the last line.
 */
import { fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect, serve, type WebSocketConnection } from '../src/index.js';
import { http2PoolSize } from '../src/client/http2.js';

type Mode = 'h1' | 'h2';

function fds(): number {
  return readdirSync('/proc/self/fd').length;
}

async function runServer(mode: Mode): Promise<void> {
  const server = await serve(
    (ws) => {
      ws.on('message', (data: Buffer | string) => void ws.send(data).catch(() => {}));
    },
    { pingInterval: 0, ...(mode === 'h2' ? { h2c: true } : {}) },
  );
  process.on('message', (message: string) => {
    if (message === 'stats') {
      global.gc?.();
      process.send!({ rss: process.memoryUsage().rss, fds: fds(), clients: server.clients.size });
    } else if (message === 'stop') {
      void server.close().then(() => process.exit(0));
    }
  });
  process.send!({ port: server.address().port, rss: process.memoryUsage().rss, fds: fds() });
}

interface Stats {
  rss: number;
  fds: number;
  clients?: number;
  port?: number;
}

async function measure(mode: Mode, count: number): Promise<Record<string, number | string>> {
  const child = fork(fileURLToPath(import.meta.url), ['server', mode], { execArgv: [...process.execArgv, '--expose-gc'] });
  const replies: Stats[] = [];
  const waiters: Array<(stats: Stats) => void> = [];
  child.on('message', (message: Stats) => {
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else replies.push(message);
  });
  const reply = (): Promise<Stats> => (replies.length > 0 ? Promise.resolve(replies.shift()!) : new Promise((resolve) => waiters.push(resolve)));
  const idle = await reply();
  const url = `ws://127.0.0.1:${idle.port}/`;
  const options = { pingInterval: 0, handshakeTimeout: 60_000, ...(mode === 'h2' ? { http2: true as const } : {}) };
  const clientFdsBefore = fds();

  const started = process.hrtime.bigint();
  const sockets: WebSocketConnection[] = [];
  // 100 handshakes in flight at a time: the listen backlog, not the protocol, would limit more.
  for (let i = 0; i < count; i += 100) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => connect(url, options)))));
  }
  const openMs = Number(process.hrtime.bigint() - started) / 1e6;
  child.send('stats');
  const loaded = await reply();
  const clientFds = fds() - clientFdsBefore;

  // One socket: 16 KiB binary, 16 in flight, 4000 messages (64 MiB each way).
  const one = sockets[0]!;
  const piece = Buffer.alloc(16 * 1024, 7);
  const total = 4000;
  let received = 0;
  const t1 = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    let sent = 0;
    const sendOne = (): void => {
      if (sent < total) {
        sent++;
        void one.send(piece);
      }
    };
    one.on('message', () => {
      received++;
      if (received === total) resolve();
      else sendOne();
    });
    for (let i = 0; i < 16; i++) sendOne();
  });
  const oneSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
  one.removeAllListeners('message');

  // All sockets: each echoes 20 messages of 64 bytes, one at a time.
  const small = Buffer.alloc(64, 1);
  const t2 = process.hrtime.bigint();
  await Promise.all(
    sockets.map(async (ws) => {
      for (let i = 0; i < 20; i++) {
        await ws.send(small);
        await ws.recv();
      }
    }),
  );
  const allSeconds = Number(process.hrtime.bigint() - t2) / 1e9;

  await Promise.all(sockets.map((ws) => ws.close()));
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  return {
    mode: mode === 'h2' ? 'HTTP/2 (h2c, one connection)' : 'HTTP/1.1 (one TCP each)',
    sockets: count,
    openMs: Math.round(openMs),
    serverRssIdleMiB: +(idle.rss / 2 ** 20).toFixed(1),
    serverRssLoadedMiB: +(loaded.rss / 2 ** 20).toFixed(1),
    serverRssPerSocketKiB: +((loaded.rss - idle.rss) / 1024 / count).toFixed(1),
    serverFds: loaded.fds - idle.fds,
    clientFds,
    oneSocketMiBps: +((total * piece.length * 2) / 2 ** 20 / oneSeconds).toFixed(0),
    allSocketsRoundTripsPerSec: Math.round((count * 20) / allSeconds),
    pooledConnections: mode === 'h2' ? 1 : 0,
  };
}

if (process.argv[2] === 'server') {
  await runServer(process.argv[3] as Mode);
} else {
  const count = Number(process.argv[2] ?? 1000);
  const results = [];
  for (const mode of ['h1', 'h2', 'h1', 'h2'] as const) {
    results.push(await measure(mode, count));
    if (http2PoolSize() !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.table(results);
  console.log(JSON.stringify(results));
}
