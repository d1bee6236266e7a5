/**
 * A throwaway Debian `redis-server` for backplane tests: a free loopback port (never 6379, where
 * the package may run its own daemon), no persistence, killed with SIGKILL (a crash, as in
 * production outages) and restartable on the same port so clients reconnect to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, unusedPort } from './async.js';
import { requirePeer } from './peers.js';

/** One redis-server process (restartable). */
export class RedisServer {
  readonly port: number;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly dir: string;
  private readonly command: string;

  private constructor(port: number) {
    this.port = port;
    this.command = requirePeer('redis-server'); // callers sit in describeWithPeer('redis-server', …)
    this.dir = mkdtempSync(join(tmpdir(), 'fd-redis-'));
  }

  /** Starts a server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await unusedPort());
    await server.restart();
    return server;
  }

  /** Reserves a port without starting anything (for "Redis absent at start"); call restart() later. */
  static async reserve(): Promise<RedisServer> {
    return new RedisServer(await unusedPort());
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.child !== null;
  }

  /** (Re)starts the server on the same port and waits for PONG. */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('redis-server is already running');
    const child = spawn(
      this.command,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
       '--daemonize', 'no', '--dir', this.dir, '--loglevel', 'warning'],
      // Redis prints warnings (overcommit) on stdout even at this level: not a failure.
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + 10_000;
    while (!(await ping(this.port))) {
      if (this.child !== child) throw new Error(`redis-server exited during start (port ${this.port})`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${this.port}`);
      await sleep(10);
    }
  }

  /** SIGKILL, then waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    child.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One inline PING over a fresh TCP connection: true on `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** The two Redis client libraries the drivers support. */
export type RedisLib = 'node-redis' | 'ioredis';

/** One client connection of either library, with what tests need around it. */
export interface RedisConn {
  /** The library's own client object (what `redisBackplane` takes). */
  client: object;
  /** Runs a raw command (admin use). */
  command(args: Array<string | Buffer>): Promise<unknown>;
  /** Drops the connection. */
  quit(): Promise<void>;
}

/**
 * One connection of `lib` to `port` on 127.0.0.1, reconnecting forever with a 500 ms cap (the
 * README's recommendation). With `wait` false the connect is not awaited (Redis may be absent).
 */
export async function connectRedis(lib: RedisLib, port: number, wait = true): Promise<RedisConn> {
  if (lib === 'node-redis') {
    const { createClient } = await import('@redis/client');
    const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: (n: number) => Math.min(n * 50, 500) } });
    client.on('error', () => {});
    const connecting = client.connect();
    if (wait) await connecting;
    else connecting.catch(() => {});
    return {
      client,
      command: (args) => client.sendCommand(args),
      quit: async () => {
        if (client.isOpen) client.destroy();
      },
    };
  }
  const { Redis } = await import('ioredis');
  const client = new Redis({ host: '127.0.0.1', port, retryStrategy: (n: number) => Math.min(n * 50, 500), lazyConnect: true });
  client.on('error', () => {});
  const connecting = client.connect();
  if (wait) await connecting;
  else connecting.catch(() => {});
  return {
    client,
    command: (args) => client.call(String(args[0]), ...args.slice(1)),
    quit: async () => {
      client.disconnect();
    },
  };
}
