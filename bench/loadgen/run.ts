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
  mode: 'echo' | 'broadcast' | 'handshake' | 'idle' | 'rooms';
  port: number;
  conns: number;
  inflight?: number;
  size?: number;
  text?: boolean;
  warmup?: number;
  duration?: number;
  /** Hard limit on the run; the process ends by itself after it. */
  maxSeconds: number;
  /** Processes whose CPU is summed into `server_cpu_us`. */
  serverPid?: number | readonly number[];
  /** Broadcast: every other receiver connects to this port instead (a second server node). */
  port2?: number;
  /** Broadcast: seconds between the last receiver's handshake and the sender's connect. */
  settle?: number;
  /** Broadcast: send `inflight` messages at once, the next batch when all are complete. */
  lockstep?: boolean;
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
  if (o.serverPid !== undefined) args.push('--server-pid', [o.serverPid].flat().join(','));
  if (o.port2 !== undefined) args.push('--port2', String(o.port2));
  if (o.settle !== undefined) args.push('--settle', String(o.settle));
  if (o.lockstep) args.push('--lockstep');
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

/**
 * Starts a load generator that prints one line once its connections are open and holds them until
 * its stdin closes, then prints its final report (idle and rooms modes).
 */
function hold<Report>(binary: string, options: LoadgenOptions): Promise<Held<Report>> {
  const { file, args } = commandLine(binary, options);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let started = false;
    let done: ((value: Report) => void) | null = null;
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.maxSeconds + 15) * 1000);
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      if (lines.length === 1 && out.endsWith('\n') && !started) {
        started = true;
        const first = JSON.parse(lines[0]!) as { opened: number; errors: number; first_error: string };
        resolve({
          opened: first.opened,
          errors: first.errors,
          firstError: first.first_error,
          finish: () =>
            new Promise((resolveFinish) => {
              done = resolveFinish;
              child.stdin.end(); // stdin EOF tells the load generator to close everything and report
            }),
        });
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out.trim().split('\n');
      if (lines.length < 1 || lines[0] === '') {
        reject(new Error(`${options.mode} load generator exited with ${code ?? signal} before opening: ${err}`));
        return;
      }
      (done as ((value: Report) => void) | null)?.(JSON.parse(lines[lines.length - 1]!) as Report);
    });
  });
}

/** Connections a holding load generator opened; `finish()` closes them and resolves with its report. */
export interface Held<Report> {
  opened: number;
  errors: number;
  firstError: string;
  finish(): Promise<Report>;
}

/** Opens `options.conns` upgraded connections and resolves once they are all open (or failed). */
export async function openIdle(binary: string, options: LoadgenOptions): Promise<IdleConnections> {
  const { finish, ...opened } = await hold<{ still_open?: number; errors: number; first_error: string }>(binary, { ...options, mode: 'idle' });
  return {
    ...opened,
    close: async () => {
      const last = await finish();
      return { stillOpen: last.still_open ?? 0, errors: last.errors, firstError: last.first_error };
    },
  };
}

/** A latency distribution in µs, as the rooms mode reports it. */
export interface Distribution {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** What the rooms mode reports when its stdin closes. */
export interface RoomsReport {
  opened: number;
  errors: number;
  first_error: string;
  /** Messages with an id at or above `count` (warm-up). */
  ignored: number;
  duplicates: number;
  publish_to_a_us: Distribution;
  publish_to_b_us: Distribution;
  /** Receive on B minus receive on A, per message both got. */
  added_us: Distribution;
  loadgen_total_cpu_us: number;
}

/**
 * Opens 2 × `options.conns` receivers, room i's on `port` and on `port2` (`/?sub=room-i`); they
 * record each message id below `options.count` (see loadgen.c, rooms mode).
 */
export function openRooms(binary: string, options: LoadgenOptions): Promise<Held<RoomsReport>> {
  return hold<RoomsReport>(binary, { ...options, mode: 'rooms' });
}
