/**
 * The socket benchmarks: servers under test in their own Node processes (bench/load/server.ts),
 * pinned to CPU 0, driven by the C load generator (bench/loadgen/loadgen.c) pinned to CPU 1.
 *
 * Every workload runs its servers interleaved (ws, fd, raw, ws, fd, raw, …) so a change in
 * background load hits all of them; each run opens fresh connections, warms up, measures a
 * window, and closes. The load generator verifies every byte and sequence number it gets back, so
 * a run with errors is reported as such rather than as a figure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Child } from './load/ipc.js';
import { SERVER_CPU, openIdle, pinProcess, runLoadgen, type LoadgenResult } from './loadgen/run.js';

/** How long and how often: `--quick` is the smoke run, the default the full one. */
export interface Settings {
  quick: boolean;
  /** Interleaved runs per server and workload. */
  repeats: number;
  /** Seconds of load before the measured window. */
  warmup: number;
  /** Seconds measured. */
  duration: number;
  /** Connections held open for the memory figure. */
  idleConnections: number;
  /** Memory runs per server (each on a fresh server process). */
  memoryRepeats: number;
  /** Pin servers to CPU 0 and the load generator to CPU 1. */
  pin: boolean;
  /** Substring filter on workload ids (BENCH_CASE); undefined runs all. */
  filter: string | undefined;
}

type Impl = 'fd' | 'ws' | 'raw';

/** A server under test: an implementation and what it does with messages. */
interface ServerSpec {
  /** Name in tables and JSON. */
  name: string;
  impl: Impl;
  mode: 'echo' | 'publish' | 'loop';
}

const ECHO_SERVERS: ServerSpec[] = [
  { name: 'ws', impl: 'ws', mode: 'echo' },
  { name: 'fd', impl: 'fd', mode: 'echo' },
  { name: 'raw', impl: 'raw', mode: 'echo' },
];
const BROADCAST_SERVERS: ServerSpec[] = [
  { name: 'ws', impl: 'ws', mode: 'loop' },
  { name: 'fd', impl: 'fd', mode: 'publish' },
  { name: 'fd loop', impl: 'fd', mode: 'loop' },
];

/**
 * BENCH_SERVERS=ws,raw (comma-separated implementations) limits the servers, e.g. to check the
 * harness while one implementation is broken; ws always runs, as the reference.
 */
function selectServers(specs: ServerSpec[]): ServerSpec[] {
  const wanted = process.env.BENCH_SERVERS?.split(',').map((x) => x.trim());
  return wanted ? specs.filter((s) => s.impl === 'ws' || wanted.includes(s.impl)) : specs;
}

/** One row of issue 10's table. */
export interface Workload {
  id: string;
  label: string;
  kind: 'echo' | 'broadcast' | 'handshake';
  /** What one operation is, for "per op" columns. */
  op: string;
  conns: number;
  inflight: number;
  size: number;
  text: boolean;
}

export const WORKLOADS: Workload[] = [
  { id: 'echo-64', label: 'echo 64 B binary, 100 conns x 8 in flight', kind: 'echo', op: 'msg', conns: 100, inflight: 8, size: 64, text: false },
  { id: 'echo-1k', label: 'echo 1 KiB binary, 100 x 8', kind: 'echo', op: 'msg', conns: 100, inflight: 8, size: 1024, text: false },
  { id: 'echo-16k', label: 'echo 16 KiB binary, 100 x 8', kind: 'echo', op: 'msg', conns: 100, inflight: 8, size: 16 * 1024, text: false },
  { id: 'echo-64k', label: 'echo 64 KiB binary, 100 x 8', kind: 'echo', op: 'msg', conns: 100, inflight: 8, size: 64 * 1024, text: false },
  { id: 'echo-1k-text', label: 'echo 1 KiB text, 1,000 conns x 1', kind: 'echo', op: 'msg', conns: 1000, inflight: 1, size: 1024, text: true },
  { id: 'broadcast-32', label: 'broadcast 1 KiB to 1,000, 32 in flight', kind: 'broadcast', op: 'delivery', conns: 1000, inflight: 32, size: 1024, text: false },
  { id: 'broadcast-1', label: 'broadcast 1 KiB to 1,000, 1 at a time', kind: 'broadcast', op: 'delivery', conns: 1000, inflight: 1, size: 1024, text: false },
  { id: 'handshake', label: 'handshake + close, 32 concurrent', kind: 'handshake', op: 'conn', conns: 32, inflight: 1, size: 0, text: false },
];

/** One measured run of one server. */
export interface RunRecord {
  ops: number;
  seconds: number;
  rate: number;
  serverCpuUs: number;
  cpuPerOpUs: number;
  /** CPU use over the window, 1 = one core. */
  serverCpu: number;
  loadgenCpu: number;
  otherCpu: number;
  p50Us: number;
  p99Us: number;
  errors: number;
  firstError: string;
  received: number;
  verified: number;
  opened: number;
  setupSeconds: number;
}

/** All runs of one server on one workload. */
export interface ServerRuns {
  server: string;
  runs: RunRecord[];
}

export interface WorkloadResult {
  workload: Workload;
  servers: ServerRuns[];
  notes: string[];
}

export interface MemoryRun {
  connections: number;
  opened: number;
  rssPerConn: number;
  heapPerConn: number;
  externalPerConn: number;
}

export interface MemoryResult {
  connections: number;
  servers: Array<{ server: string; runs: MemoryRun[] }>;
  notes: string[];
}

interface ServerStats {
  cpu: { user: number; system: number };
  memory: NodeJS.MemoryUsage;
  clients: number;
  unhandledRejections: number;
  lastRejection: string;
}

/** What each implementation masks with, as reported by its server process (ws must say bufferutil). */
export const maskImplementations: Record<string, string> = {};

const SERVER_SCRIPT = fileURLToPath(new URL('./load/server.ts', import.meta.url));

/** A server process under test, pinned to {@link SERVER_CPU} when pinning is on. */
class ServerProcess {
  private constructor(
    readonly spec: ServerSpec,
    private readonly child: Child,
    readonly port: number,
    readonly pid: number,
  ) {}

  static async start(spec: ServerSpec, pin: boolean): Promise<ServerProcess> {
    const execArgv = ['--expose-gc'];
    const profileDir = process.env.BENCH_PROFILE;
    if (profileDir && spec.impl === 'fd') execArgv.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
    const child = await Child.start(`${spec.name} ${spec.mode} server`, SERVER_SCRIPT, [spec.impl, spec.mode], execArgv);
    const pid = child.info.pid as number;
    maskImplementations[spec.impl] = String(child.info.mask ?? '');
    if (pin && !pinProcess(pid, SERVER_CPU)) console.log(`note: could not pin the ${spec.name} server to CPU ${SERVER_CPU}`);
    return new ServerProcess(spec, child, child.info.port as number, pid);
  }

  stats(): Promise<ServerStats> {
    return this.child.call<ServerStats>('stats');
  }

  gc(): Promise<NodeJS.MemoryUsage> {
    return this.child.call<NodeJS.MemoryUsage>('gc');
  }

  /** Waits until the server has dropped every connection of the previous run (at most 10 s). */
  async settle(): Promise<number> {
    const until = Date.now() + 10_000;
    let clients = 0;
    while (Date.now() < until) {
      clients = (await this.stats()).clients;
      if (clients === 0) break;
      await sleep(25);
    }
    await sleep(100);
    return clients;
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

function toRecord(r: LoadgenResult): RunRecord {
  const seconds = r.window_s;
  const serverCpuUs = r.server_cpu_us;
  return {
    ops: r.ops,
    seconds,
    rate: r.ops / seconds,
    serverCpuUs,
    cpuPerOpUs: r.ops > 0 && serverCpuUs >= 0 ? serverCpuUs / r.ops : NaN,
    serverCpu: serverCpuUs / 1e6 / seconds,
    loadgenCpu: r.loadgen_cpu_us / 1e6 / seconds,
    otherCpu: r.machine_busy_us >= 0 ? Math.max(0, r.machine_busy_us - serverCpuUs - r.loadgen_cpu_us) / 1e6 / seconds : NaN,
    p50Us: r.latency_us.p50,
    p99Us: r.latency_us.p99,
    errors: r.errors,
    firstError: r.first_error,
    received: r.received,
    verified: r.verified,
    opened: r.opened,
    setupSeconds: r.setup_s,
  };
}

/** Problems worth a note: errors, unverified messages, missing connections, nothing counted. */
function check(label: string, w: Workload, r: RunRecord, stats: ServerStats): string[] {
  const notes: string[] = [];
  if (r.errors > 0) notes.push(`${label}: ${r.errors} load generator errors (first: ${r.firstError})`);
  if (r.verified !== r.received) notes.push(`${label}: ${r.received - r.verified} of ${r.received} messages not verified`);
  if (w.kind !== 'handshake' && r.opened !== w.conns + (w.kind === 'broadcast' ? 1 : 0)) notes.push(`${label}: ${r.opened} connections opened`);
  if (r.ops === 0) notes.push(`${label}: nothing was counted in the window`);
  if (stats.unhandledRejections > 0) notes.push(`${label}: ${stats.unhandledRejections} unhandled rejections in the server (${stats.lastRejection})`);
  return notes;
}

/** Runs the timed workloads, interleaving the servers run by run. */
export async function runWorkloads(
  binary: string,
  settings: Settings,
  onResult: (result: WorkloadResult) => void,
): Promise<WorkloadResult[]> {
  const workloads = WORKLOADS.filter((w) => settings.filter === undefined || w.id.includes(settings.filter));
  const servers = new Map<string, ServerProcess>();
  const serverFor = async (spec: ServerSpec): Promise<ServerProcess> => {
    const key = `${spec.impl} ${spec.mode}`;
    let server = servers.get(key);
    if (!server) {
      server = await ServerProcess.start(spec, settings.pin);
      servers.set(key, server);
    }
    return server;
  };
  const results: WorkloadResult[] = [];
  try {
    for (const w of workloads) {
      const specs = selectServers(w.kind === 'broadcast' ? BROADCAST_SERVERS : ECHO_SERVERS);
      const byServer = new Map<string, RunRecord[]>(specs.map((s) => [s.name, []]));
      const notes: string[] = [];
      for (let repeat = 0; repeat < settings.repeats; repeat++) {
        for (const spec of specs) {
          const server = await serverFor(spec);
          const left = await server.settle();
          if (left > 0) notes.push(`${w.id} ${spec.name} run ${repeat + 1}: ${left} connections of the previous run still open at the start`);
          const raw = await runLoadgen(binary, {
            mode: w.kind,
            port: server.port,
            conns: w.conns,
            inflight: w.inflight,
            size: w.size || undefined,
            text: w.text,
            warmup: settings.warmup,
            duration: settings.duration,
            maxSeconds: settings.warmup + settings.duration + 90,
            serverPid: server.pid,
            allowMasked: spec.impl === 'raw',
            pin: settings.pin,
          });
          const record = toRecord(raw);
          notes.push(...check(`${w.id} ${spec.name} run ${repeat + 1}`, w, record, await server.stats()));
          byServer.get(spec.name)!.push(record);
          if (process.env.BENCH_VERBOSE) console.log(`  ${w.id} ${spec.name} run ${repeat + 1}: ${JSON.stringify(record)}`);
        }
      }
      const result: WorkloadResult = { workload: w, servers: specs.map((s) => ({ server: s.name, runs: byServer.get(s.name)! })), notes };
      results.push(result);
      onResult(result);
      if (w.kind === 'broadcast' && !workloads.slice(workloads.indexOf(w) + 1).some((x) => x.kind === 'broadcast')) {
        // The broadcast servers are done: free the CPU and memory they hold.
        for (const spec of BROADCAST_SERVERS) {
          const key = `${spec.impl} ${spec.mode}`;
          if (spec.mode !== 'echo' && servers.has(key)) {
            await servers.get(key)!.stop();
            servers.delete(key);
          }
        }
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }
  return results;
}

/**
 * RSS per idle connection: a fresh server process (so memory freed by earlier runs cannot be
 * reused and hide the cost), a full GC, `connections` upgraded connections held open by the load
 * generator, a full GC again; the RSS, heap and external deltas divided by the connections.
 */
export async function runMemory(binary: string, settings: Settings): Promise<MemoryResult> {
  const notes: string[] = [];
  const specs = selectServers(ECHO_SERVERS);
  const byServer = new Map<string, MemoryRun[]>(specs.map((s) => [s.name, []]));
  for (let repeat = 0; repeat < settings.memoryRepeats; repeat++) {
    for (const spec of specs) {
      const server = await ServerProcess.start(spec, settings.pin);
      try {
        await sleep(200);
        const before = await server.gc();
        const idle = await openIdle(binary, { mode: 'idle', port: server.port, conns: settings.idleConnections, maxSeconds: 120, pin: settings.pin });
        await sleep(500);
        const after = await server.gc();
        const stats = await server.stats();
        const closed = await idle.close();
        const errors = idle.errors + closed.errors;
        if (errors > 0) notes.push(`memory ${spec.name} run ${repeat + 1}: ${errors} errors (${idle.firstError || closed.firstError})`);
        if (idle.opened !== settings.idleConnections || stats.clients !== idle.opened) {
          notes.push(`memory ${spec.name} run ${repeat + 1}: ${idle.opened} of ${settings.idleConnections} opened, the server counted ${stats.clients}`);
        }
        const n = Math.max(1, idle.opened);
        byServer.get(spec.name)!.push({
          connections: settings.idleConnections,
          opened: idle.opened,
          rssPerConn: (after.rss - before.rss) / n,
          heapPerConn: (after.heapUsed - before.heapUsed) / n,
          externalPerConn: (after.external + after.arrayBuffers - before.external - before.arrayBuffers) / n,
        });
      } finally {
        await server.stop();
      }
    }
  }
  return { connections: settings.idleConnections, servers: specs.map((s) => ({ server: s.name, runs: byServer.get(s.name)! })), notes };
}
