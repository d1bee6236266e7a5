/**
 * Orchestration shared by the socket benchmarks (echo, broadcast, handshake): starts the servers
 * under test and the load generator as separate processes, takes a measured window, and turns
 * the counters into rates, CPU per operation and ratios.
 *
 * Knobs (environment): BENCH_LOAD_RUNS (interleaved runs per server, default 3), BENCH_DURATION
 * (measured seconds per run, default 3), BENCH_WARMUP (seconds before the window, default 1),
 * BENCH_PROFILE (a directory: the fullduplex server children write `--cpu-prof` profiles there,
 * summarize with `npx tsx bench/load/profile-summary.ts <file>`), BENCH_VERBOSE=1 (every run).
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Child } from './ipc.js';

export const LOAD_RUNS = Math.max(1, Number(process.env.BENCH_LOAD_RUNS ?? 3) | 0);
export const DURATION_S = Math.max(0.5, Number(process.env.BENCH_DURATION ?? 3));
export const WARMUP_S = Math.max(0, Number(process.env.BENCH_WARMUP ?? 1));
const PROFILE_DIR = process.env.BENCH_PROFILE;

// Children run from source through tsx, like the rest of the benchmarks.
const SERVER_SCRIPT = fileURLToPath(new URL('./server.ts', import.meta.url));
const LOADGEN_SCRIPT = fileURLToPath(new URL('./loadgen.ts', import.meta.url));

export type Impl = 'fd' | 'ws' | 'raw';

export interface CpuUsage {
  user: number;
  system: number;
}

export interface ServerStats {
  cpu: CpuUsage;
  memory: NodeJS.MemoryUsage;
  clients: number;
  unhandledRejections: number;
  lastRejection: string;
}

/** A server under test in its own process. */
export class ServerProcess {
  private constructor(
    readonly impl: Impl,
    readonly mode: string,
    private readonly child: Child,
    readonly port: number,
  ) {}

  static async start(impl: Impl, mode: string): Promise<ServerProcess> {
    const execArgv = ['--expose-gc'];
    if (PROFILE_DIR && impl === 'fd') execArgv.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`); // one file per thread (tsx's loader has its own)
    const child = await Child.start(`${impl} ${mode} server`, SERVER_SCRIPT, [impl, mode], execArgv);
    return new ServerProcess(impl, mode, child, child.info.port as number);
  }

  stats(): Promise<ServerStats> {
    return this.child.call<ServerStats>('stats');
  }

  gc(): Promise<NodeJS.MemoryUsage> {
    return this.child.call<NodeJS.MemoryUsage>('gc');
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

export interface Mark {
  time: number;
  counted: number;
  reads: number;
  completed: number;
  cpu: CpuUsage;
  errors: number;
  lastError: string;
}

export interface StopResult {
  latency: { p50: number; p99: number; max: number; n: number };
  counted: number;
  completed: number;
  errors: number;
  lastError: string;
}

/** The load generator process. */
export class LoadGenerator {
  private constructor(private readonly child: Child) {}

  static async start(): Promise<LoadGenerator> {
    return new LoadGenerator(await Child.start('load generator', LOADGEN_SCRIPT, []));
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs?: number): Promise<T> {
    return this.child.call<T>(cmd, args, timeoutMs);
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

/** What one measured window produced. */
export interface Window {
  seconds: number;
  /** Operations counted by the load generator in the window (messages, deliveries, handshakes). */
  ops: number;
  /** Broadcast: messages every receiver got. */
  completed: number;
  /** Server CPU time in the window, µs. */
  serverCpuUs: number;
  /** Load generator CPU time in the window, µs. */
  loadgenCpuUs: number;
  latency: StopResult['latency'];
  /** CPU time of everything else on the machine in the window (other processes, interrupts), µs. */
  otherCpuUs: number;
  /** Load generator reads (data events) in the window: ops / reads is the batch a read brings. */
  reads: number;
  errors: number;
  lastError: string;
  serverStats: ServerStats;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const cpuUs = (a: CpuUsage, b: CpuUsage): number => b.user - a.user + (b.system - a.system);

/** Busy CPU time of the whole machine so far, µs (all cores). */
function machineBusyUs(): number {
  let busy = 0;
  for (const { times } of cpus()) busy += times.user + times.nice + times.sys + times.irq;
  return busy * 1000;
}

/**
 * Lets the load run for the warm-up, then measures DURATION_S: server CPU from the server process,
 * counts and latency from the load generator, both sampled at the same moments. Stops the load.
 */
export async function measure(server: ServerProcess, loadgen: LoadGenerator): Promise<Window> {
  await sleep(WARMUP_S * 1000);
  const busy0 = machineBusyUs();
  const self0 = process.cpuUsage();
  const [s0, m0] = await Promise.all([server.stats(), loadgen.call<Mark>('mark', { record: true })]);
  await sleep(DURATION_S * 1000);
  const [s1, m1] = await Promise.all([server.stats(), loadgen.call<Mark>('mark', { record: false })]);
  const busy1 = machineBusyUs();
  const self1 = process.cpuUsage();
  const stopped = await loadgen.call<StopResult>('stop');
  const serverCpuUs = cpuUs(s0.cpu, s1.cpu);
  const loadgenCpuUs = cpuUs(m0.cpu, m1.cpu);
  return {
    otherCpuUs: Math.max(0, busy1 - busy0 - serverCpuUs - loadgenCpuUs - cpuUs(self0, self1)),
    reads: m1.reads - m0.reads,
    seconds: (m1.time - m0.time) / 1000,
    ops: m1.counted - m0.counted,
    completed: m1.completed - m0.completed,
    serverCpuUs,
    loadgenCpuUs,
    latency: stopped.latency,
    errors: stopped.errors,
    lastError: stopped.lastError,
    serverStats: s1,
  };
}

/** Lets the server settle between runs (sockets closed, no CPU spent). */
export async function settle(server: ServerProcess, expectedClients = 0, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const stats = await server.stats();
    if (stats.clients <= expectedClients) break;
    await sleep(20);
  }
  await sleep(100);
}

export function checkWindow(label: string, w: Window): string[] {
  const notes: string[] = [];
  if (w.errors > 0) notes.push(`${label}: ${w.errors} load generator errors (last: ${w.lastError})`);
  if (w.serverStats.unhandledRejections > 0) {
    notes.push(`${label}: ${w.serverStats.unhandledRejections} unhandled rejections in the server (last: ${w.serverStats.lastRejection})`);
  }
  if (w.ops === 0) notes.push(`${label}: nothing was counted in the window`);
  return notes;
}

/**
 * The open-file limit the children inherit (each socket is a descriptor: the load generator and
 * the server each hold one per connection). Returns a note, or null when `needed` fits.
 */
export function checkFdLimit(needed: number): string | null {
  let soft = Infinity;
  try {
    const out = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    if (out !== 'unlimited') soft = Number(out);
  } catch {
    return null;
  }
  console.log(`open-file limit (ulimit -n): ${Number.isFinite(soft) ? soft : 'unlimited'}; needed per process: about ${needed}`);
  if (soft >= needed) return null;
  return `ulimit -n is ${soft}, below the ${needed} descriptors a process needs here: raise it (ulimit -n ${needed * 2}) before running`;
}

// Formatting -------------------------------------------------------------------------------------

export function fmtRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`;
  return perSecond.toFixed(0);
}

export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return '-';
  if (us >= 10_000) return `${(us / 1000).toFixed(1)} ms`;
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  if (us >= 10) return `${us.toFixed(1)} µs`;
  return `${us.toFixed(2)} µs`;
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : '-';
}

export function fmtPct(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

export function fmtSpread(values: readonly number[], med: number): string {
  let worst = 0;
  for (const v of values) worst = Math.max(worst, Math.abs(v - med) / med);
  return `±${Math.round(worst * 100)}%`;
}

export function runHeader(what: string): void {
  console.log(
    `\n${what}\nServers and load generator are separate processes (2 cores: about one each). ` +
      `${LOAD_RUNS} interleaved runs per server (ws, fd, ws, fd, …), ${WARMUP_S} s warm-up + ${DURATION_S} s measured each; medians shown.\n` +
      `CPU = server process CPU (user+sys) over the window / operations; srv%/gen%/other% = CPU use of the server / load generator / ` +
      `everything else on the machine (100% = one core; other% well above 0 = other processes competed for the 2 cores).\n` +
      `Ratios are medians of the ratios of adjacent runs (ws run i vs fd run i), with their range.`,
  );
}
