/**
 * A tiny request/reply protocol over `child_process.fork`'s IPC channel, for the socket
 * benchmarks: the orchestrating parent starts the servers under test and the load generator as
 * separate processes and drives them with commands.
 *
 * Every child exits by itself: when the parent goes away (the IPC channel disconnects), on an
 * `exit` command, or after {@link CHILD_MAX_LIFETIME_MS} at the latest.
 */
import { fork, type ChildProcess } from 'node:child_process';

/** Hard cap on the life of any benchmark child, whatever happens to its parent. */
export const CHILD_MAX_LIFETIME_MS = 10 * 60_000;
/** Default time a command may take before the parent gives up on it. */
const CALL_TIMEOUT_MS = 60_000;

interface Request {
  id: number;
  cmd: string;
  args: unknown;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

type Handler = (args: any) => unknown;

/** Child side: answers the parent's commands with `handlers`, then says `ready` with `info`. */
export function serveCommands(handlers: Record<string, Handler>, info: Record<string, unknown> = {}): void {
  if (!process.send) throw new Error('This script runs as a child of the benchmark harness (it needs an IPC channel)');
  const lifetime = setTimeout(() => {
    console.error(`benchmark child ${process.pid}: exceeded ${CHILD_MAX_LIFETIME_MS} ms, exiting`);
    process.exit(2);
  }, CHILD_MAX_LIFETIME_MS);
  lifetime.unref();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: Request) => {
    const { id, cmd, args } = message;
    const handler = handlers[cmd];
    const reply = (r: Omit<Reply, 'id'>): void => {
      if (process.connected) process.send!({ id, ...r });
    };
    if (!handler) {
      reply({ ok: false, error: `unknown command ${cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(args))
      .then(
        (result) => reply({ ok: true, result }),
        (error: unknown) => reply({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  process.send({ id: 0, ok: true, result: info });
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Parent side: one forked benchmark child. */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  private exited = false;
  private stderr = '';

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
    readonly info: Record<string, unknown>,
  ) {}

  /**
   * Forks `script` (a .ts file, run through the same tsx loader as this process) and waits for
   * its `ready` message. `execArgv` adds Node flags (e.g. `--cpu-prof`).
   */
  static async start(name: string, script: string, args: string[], execArgv: string[] = []): Promise<Child> {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const child of children) child.kill('SIGKILL');
      });
    }
    const cp = fork(script, args, {
      // process.execArgv carries tsx's loader when the parent was started by tsx.
      execArgv: [...process.execArgv, ...execArgv],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'json',
    });
    children.add(cp);
    let stderr = '';
    cp.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 20_000) stderr = stderr.slice(-20_000);
    });
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no ready message within 30 s\n${stderr}`)), 30_000);
      cp.once('message', (m: Reply) => {
        clearTimeout(timer);
        resolve((m.result ?? {}) as Record<string, unknown>);
      });
      cp.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready\n${stderr}`));
      });
    });
    const child = new Child(name, cp, info);
    child.stderr = stderr;
    cp.stderr!.on('data', (chunk: Buffer) => {
      child.stderr += chunk.toString();
      if (child.stderr.length > 20_000) child.stderr = child.stderr.slice(-20_000);
    });
    cp.on('message', (m: Reply) => child.onReply(m));
    cp.on('exit', (code, signal) => {
      child.exited = true;
      children.delete(cp);
      for (const [, p] of child.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`${name} exited (${code ?? signal})\n${child.stderr}`));
      }
      child.pending.clear();
    });
    return child;
  }

  /** Sends a command and resolves with the child's answer. */
  call<T = unknown>(cmd: string, args: unknown = {}, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited\n${this.stderr}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: '${cmd}' took more than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.process.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Asks the child to exit, and kills it if it has not within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.call('exit', {}, graceMs).catch(() => {});
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** What the child wrote to stderr (last 20 kB). */
  get errorOutput(): string {
    return this.stderr;
  }

  private onReply(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${this.name}: ${m.error}`));
  }
}
