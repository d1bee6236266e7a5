/**
 * Child processes for end-to-end tests: TypeScript fixtures run through tsx, and Python scripts
 * run with the system interpreter that has `websockets`. Output is collected line by line so a
 * test can wait for a line matching a pattern.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './async.js';
import { pythonCommand, requirePeer } from './peers.js';

/** The repository root (the cwd children run in). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Debian's interpreter: the one with `python3-websockets` (the `python3` on PATH has none);
 * `FULLDUPLEX_PYTHON` overrides it, as for the peer probe in peers.ts.
 */
export const PYTHON = pythonCommand();

/** How a child ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running child with its output collected. */
export class Child {
  readonly process: ChildProcess;
  stdout = '';
  stderr = '';
  /** Settles when the child has exited and its output streams are closed. */
  readonly exited: Promise<Exit>;
  private exit: Exit | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(command: string, args: string[], options: SpawnOptions = {}) {
    this.process = spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.process.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text;
      this.notify();
    });
    this.process.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      this.notify();
    });
    this.process.stdin!.on('error', () => {}); // EPIPE when the child exits first
    this.exited = new Promise((resolve) =>
      this.process.once('close', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      }),
    );
  }

  /** Lines of stdout so far (complete lines only). */
  get lines(): string[] {
    const lines = this.stdout.split('\n');
    lines.pop();
    return lines;
  }

  /**
   * The first `match` of `pattern` in stdout, waiting up to `ms`. Rejects early, with the child's
   * output, if it exits without printing it.
   */
  waitFor(pattern: RegExp, ms = 10_000): Promise<RegExpExecArray> {
    return withTimeout(
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(this.stdout);
          if (match) {
            this.listeners.delete(check);
            resolve(match);
          } else if (this.exit) {
            this.listeners.delete(check);
            reject(new Error(`Child exited (${JSON.stringify(this.exit)}) without printing ${pattern}\n${this.describe()}`));
          }
        };
        this.listeners.add(check);
        check();
      }),
      ms,
      `${pattern} on stdout\n${this.describe()}`,
    );
  }

  /** Waits for the child to exit by itself within `ms`; kills it (SIGKILL) and rejects otherwise. */
  async waitExit(ms: number): Promise<Exit> {
    try {
      return await withTimeout(this.exited, ms, `the child to exit on its own\n${this.describe()}`);
    } catch (error) {
      this.kill('SIGKILL');
      throw error;
    }
  }

  /** Sends `signal` if the child is still running. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exit === null && this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
  }

  /** Kills the child if needed and waits for it to be gone. */
  async stop(): Promise<void> {
    if (this.exit) return;
    this.kill('SIGTERM');
    try {
      await withTimeout(this.exited, 3000, 'the child to stop');
    } catch {
      this.kill('SIGKILL');
      await this.exited;
    }
  }

  describe(): string {
    return `--- stdout ---\n${this.stdout}--- stderr ---\n${this.stderr}`;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Runs a TypeScript file (path relative to the repository root) with tsx. */
export function spawnTsx(script: string, args: string[] = [], options: SpawnOptions = {}): Child {
  return new Child(process.execPath, ['--import', 'tsx', script, ...args], options);
}

/** Runs a Python script (path relative to the repository root) unbuffered with {@link PYTHON}. */
export function spawnPython(script: string, args: string[] = []): Child {
  requirePeer('python3-websockets'); // callers sit in describeWithPeer('python3-websockets', …)
  return new Child(PYTHON, ['-u', script, ...args]);
}
