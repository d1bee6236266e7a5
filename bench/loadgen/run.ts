/**
 * Runs the C load generator as a child process, pinned to CPU 1 with `taskset` when there is one
 * (the server under test is pinned to CPU 0), and parses the JSON it prints.
 */
import { execFileSync, spawn } from 'node:child_process';

/** CPU the load generator runs on; the server gets {@link SERVER_CPU}. */
export const LOADGEN_CPU = 1;
/** CPU the server under test runs on. */
export const SERVER_CPU = 0;

let tasksetAvailable: boolean | undefined;

/** Whether `taskset` exists and this machine has at least two CPUs to pin to. */
export function canPin(cpuCount: number): boolean {
  if (tasksetAvailable === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetAvailable = true;
    } catch {
      tasksetAvailable = false;
    }
  }
  return tasksetAvailable && cpuCount >= 2;
}

/**
 * Pins every thread of a running process (Node's main thread and its helper threads) to `cpu`.
 * Returns false when it could not (no taskset): the run goes on unpinned.
 */
export function pinProcess(pid: number, cpu: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What the load generator reports for a timed run (echo, broadcast, handshake). */
export interface LoadgenResult {
  mode: string;
  conns: number;
  inflight: number;
  size: number;
  text: boolean;
  /** Length of the measured window, s. */
  window_s: number;
  /** Operations in the window: verified echoes, verified deliveries or completed handshake cycles. */
  ops: number;
  /** Broadcast: messages every receiver got, in the window. */
  completed: number;
  /** Data frames received over the whole run (warm-up and drain included). */
  received: number;
  /** Data frames whose every byte and sequence number matched. */
  verified: number;
  reads: number;
  opened: number;
  errors: number;
  first_error: string;
  latency_us: { p50: number; p99: number; max: number; n: number };
  /** This process's CPU time (getrusage, user + system) in the window, µs. */
  loadgen_cpu_us: number;
  loadgen_total_cpu_us: number;
  /** The server's CPU time in the window (all its threads), µs; -1 if unknown. */
  server_cpu_us: number;
  /** Busy time of the whole machine in the window (all CPUs), µs; -1 if unknown. */
  machine_busy_us: number;
  setup_s: number;
  wall_s: number;
}

/** Options of one load generator run, mapped onto its command line. */
export interface LoadgenOptions {
  mode: 'echo' | 'broadcast' | 'handshake' | 'idle';
  port: number;
  conns: number;
  inflight?: number;
  size?: number;
  text?: boolean;
  warmup?: number;
  duration?: number;
  /** Hard limit on the run; the process ends by itself after it. */
  maxSeconds: number;
  serverPid?: number;
  /** The raw ceiling server sends our masked frames back as they came. */
  allowMasked?: boolean;
  /** Echo: stop after this many verified messages instead of after `duration`. */
  count?: number;
  /** Pin to {@link LOADGEN_CPU}. */
  pin: boolean;
}

function commandLine(binary: string, o: LoadgenOptions): { file: string; args: string[] } {
  const args = ['--mode', o.mode, '--port', String(o.port), '--conns', String(o.conns), '--max-seconds', String(o.maxSeconds)];
  if (o.inflight !== undefined) args.push('--inflight', String(o.inflight));
  if (o.size !== undefined) args.push('--size', String(o.size));
  if (o.text) args.push('--text');
  if (o.warmup !== undefined) args.push('--warmup', String(o.warmup));
  if (o.duration !== undefined) args.push('--duration', String(o.duration));
  if (o.serverPid !== undefined) args.push('--server-pid', String(o.serverPid));
  if (o.allowMasked) args.push('--allow-masked');
  if (o.count !== undefined) args.push('--count', String(o.count));
  return o.pin ? { file: 'taskset', args: ['-c', String(LOADGEN_CPU), binary, ...args] } : { file: binary, args };
}

/** Runs a timed load (echo, broadcast, handshake) to the end and returns its report. */
export function runLoadgen(binary: string, options: LoadgenOptions): Promise<LoadgenResult> {
  const { file, args } = commandLine(binary, options);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // The C program stops itself at --max-seconds; this is the backstop if it hangs anyway.
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.maxSeconds + 15) * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as LoadgenResult);
      } catch {
        reject(new Error(`load generator exited with ${code ?? signal} without a report: ${err || out}`));
      }
    });
  });
}

/** Idle connections held open by a load generator until {@link IdleConnections.close}. */
export interface IdleConnections {
  opened: number;
  errors: number;
  firstError: string;
  /** Closes the connections (the process exits) and resolves with how many were still open. */
  close(): Promise<{ stillOpen: number; errors: number; firstError: string }>;
}

/** Opens `options.conns` upgraded connections and resolves once they are all open (or failed). */
export function openIdle(binary: string, options: LoadgenOptions): Promise<IdleConnections> {
  const { file, args } = commandLine(binary, { ...options, mode: 'idle' });
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done: ((value: { stillOpen: number; errors: number; firstError: string }) => void) | null = null;
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.maxSeconds + 15) * 1000);
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      if (lines.length === 1 && out.endsWith('\n') && done === null) {
        const first = JSON.parse(lines[0]!) as { opened: number; errors: number; first_error: string };
        resolve({
          opened: first.opened,
          errors: first.errors,
          firstError: first.first_error,
          close: () =>
            new Promise((resolveClose) => {
              done = resolveClose;
              child.stdin.end(); // stdin EOF tells the load generator to close everything and exit
            }),
        });
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out.trim().split('\n');
      if (lines.length < 1 || lines[0] === '') {
        reject(new Error(`idle load generator exited with ${code ?? signal} before opening: ${err}`));
        return;
      }
      const last = JSON.parse(lines[lines.length - 1]!) as { still_open?: number; errors: number; first_error: string };
      (done as ((value: { stillOpen: number; errors: number; firstError: string }) => void) | null)?.({
        stillOpen: last.still_open ?? 0,
        errors: last.errors,
        firstError: last.first_error,
      });
    });
  });
}
