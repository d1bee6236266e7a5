/**
 * Turns the runs of the socket benchmarks into medians, ranges and ratios against ws, prints them
 * as Markdown tables, and shapes the JSON written to bench/results/latest.json.
 */
import type { MemoryResult, RunRecord, WorkloadResult } from './sockets.js';
import { median, printTable } from './util.js';

/** Median and range of one quantity over the runs. */
export interface Stat {
  median: number;
  min: number;
  max: number;
}

/** One server on one workload, summarized over its runs. */
export interface ServerSummary {
  server: string;
  /** Operations per second. */
  rate: Stat;
  /** Server CPU time per operation, µs (all the server's threads). */
  cpuPerOpUs: Stat;
  p50Us: number;
  p99Us: number;
  /** CPU use over the window, 1 = one core. */
  serverCpu: number;
  loadgenCpu: Stat;
  otherCpu: number;
  errors: number;
  verified: number;
  received: number;
  runs: RunRecord[];
}

/** A server against ws over adjacent runs (run i of each was measured back to back). */
export interface Ratio {
  server: string;
  /** Throughput x / ws: above 1 is faster than ws. */
  rate: Stat;
  /** Server CPU per op ws / x: above 1 is cheaper than ws. */
  cpu: Stat;
}

export interface WorkloadSummary {
  id: string;
  label: string;
  kind: string;
  op: string;
  params: { conns: number; inflight: number; size: number; text: boolean };
  servers: ServerSummary[];
  vsWs: Ratio[];
  notes: string[];
}

export interface MemorySummary {
  connections: number;
  servers: Array<{ server: string; opened: number; rssPerConn: Stat; heapPerConn: Stat; externalPerConn: Stat }>;
  /** RSS per connection ws / x: above 1 uses less memory than ws. */
  vsWs: Array<{ server: string; rss: number; heap: number }>;
  notes: string[];
}

export function stat(values: readonly number[]): Stat {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite) };
}

export function summarizeWorkload(result: WorkloadResult): WorkloadSummary {
  const { workload: w } = result;
  const servers = result.servers.map(({ server, runs }): ServerSummary => ({
    server,
    rate: stat(runs.map((r) => r.rate)),
    cpuPerOpUs: stat(runs.map((r) => r.cpuPerOpUs)),
    p50Us: median(runs.map((r) => r.p50Us)),
    p99Us: median(runs.map((r) => r.p99Us)),
    serverCpu: median(runs.map((r) => r.serverCpu)),
    loadgenCpu: stat(runs.map((r) => r.loadgenCpu)),
    otherCpu: median(runs.map((r) => r.otherCpu)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    verified: runs.reduce((n, r) => n + r.verified, 0),
    received: runs.reduce((n, r) => n + r.received, 0),
    runs,
  }));
  const ws = result.servers.find((s) => s.server === 'ws')!;
  const vsWs = result.servers
    .filter((s) => s.server !== 'ws')
    .map(({ server, runs }): Ratio => {
      const n = Math.min(runs.length, ws.runs.length);
      const rate: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < n; i++) {
        rate.push(runs[i]!.rate / ws.runs[i]!.rate);
        cpu.push(ws.runs[i]!.cpuPerOpUs / runs[i]!.cpuPerOpUs);
      }
      return { server, rate: stat(rate), cpu: stat(cpu) };
    });
  return {
    id: w.id,
    label: w.label,
    kind: w.kind,
    op: w.op,
    params: { conns: w.conns, inflight: w.inflight, size: w.size, text: w.text },
    servers,
    vsWs,
    notes: result.notes,
  };
}

export function summarizeMemory(result: MemoryResult): MemorySummary {
  const servers = result.servers.map(({ server, runs }) => ({
    server,
    opened: Math.min(...runs.map((r) => r.opened)),
    rssPerConn: stat(runs.map((r) => r.rssPerConn)),
    heapPerConn: stat(runs.map((r) => r.heapPerConn)),
    externalPerConn: stat(runs.map((r) => r.externalPerConn)),
  }));
  const ws = servers.find((s) => s.server === 'ws')!;
  const vsWs = servers
    .filter((s) => s.server !== 'ws')
    .map((s) => ({ server: s.server, rss: ws.rssPerConn.median / s.rssPerConn.median, heap: ws.heapPerConn.median / s.heapPerConn.median }));
  return { connections: result.connections, servers, vsWs, notes: result.notes };
}

// Formatting ---------------------------------------------------------------------------------------

export function fmtRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`;
  return perSecond.toFixed(0);
}

export function fmtUs(us: number): string {
  if (!Number.isFinite(us) || us < 0) return '-';
  if (us >= 10_000) return `${(us / 1000).toFixed(1)} ms`;
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  if (us >= 10) return `${us.toFixed(1)} µs`;
  return `${us.toFixed(2)} µs`;
}

const pct = (fraction: number): string => (Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : '-');
const ratio = (s: Stat): string =>
  !Number.isFinite(s.median) ? '-' : s.min === s.max ? `${s.median.toFixed(2)}x` : `${s.median.toFixed(2)}x (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
const spread = (s: Stat): string => (Number.isFinite(s.median) && s.median > 0 ? `${Math.round(((s.max - s.min) / s.median) * 100)}%` : '-');
const kb = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1000).toFixed(2)} kB` : '-');

/** Prints one workload: a row per server, then its ratios against ws. */
export function printWorkload(s: WorkloadSummary): void {
  console.log(`\n### ${s.label}\n`);
  printTable(
    ['server', `${s.op}s/s`, 'range', `server CPU/${s.op}`, 'range', 'p50', 'p99', 'srv CPU', 'loadgen CPU (max)', 'other CPU', 'errors'],
    s.servers.map((x) => [
      x.server,
      fmtRate(x.rate.median),
      spread(x.rate),
      fmtUs(x.cpuPerOpUs.median),
      spread(x.cpuPerOpUs),
      fmtUs(x.p50Us),
      fmtUs(x.p99Us),
      pct(x.serverCpu),
      `${pct(x.loadgenCpu.median)} (${pct(x.loadgenCpu.max)})`,
      pct(x.otherCpu),
      String(x.errors),
    ]),
  );
  console.log('');
  printTable(
    ['vs ws', 'throughput x/ws', 'CPU per op ws/x'],
    s.vsWs.map((r) => [r.server, ratio(r.rate), ratio(r.cpu)]),
  );
  for (const note of s.notes) console.log(`note: ${note}`);
}

export function printMemory(m: MemorySummary): void {
  console.log(`\n### Memory per idle connection (${m.connections.toLocaleString('en-US')} connections, fresh server, after a full GC)\n`);
  printTable(
    ['server', 'opened', 'RSS/conn', 'range', 'JS heap/conn', 'external/conn'],
    m.servers.map((x) => [
      x.server,
      String(x.opened),
      kb(x.rssPerConn.median),
      `${kb(x.rssPerConn.min)}–${kb(x.rssPerConn.max)}`,
      kb(x.heapPerConn.median),
      kb(x.externalPerConn.median),
    ]),
  );
  console.log('');
  printTable(
    ['vs ws', 'RSS/conn ws/x', 'heap/conn ws/x'],
    m.vsWs.map((r) => [r.server, `${r.rss.toFixed(2)}x`, `${r.heap.toFixed(2)}x`]),
  );
  for (const note of m.notes) console.log(`note: ${note}`);
}

/** The summary table: one line per workload with fd/ws ratios and the load generator's peak CPU. */
export function printOverview(workloads: WorkloadSummary[], memory: MemorySummary | null): void {
  console.log('\n## Summary: fullduplex (fd) against ws 8 + bufferutil, and the raw node:net ceiling\n');
  printTable(
    ['workload', 'fd rate', 'ws rate', 'fd/ws throughput', 'CPU/op ws/fd', 'raw/ws throughput', 'loadgen CPU max', 'errors'],
    workloads.map((w) => {
      const fd = w.servers.find((x) => x.server === 'fd');
      const ws = w.servers.find((x) => x.server === 'ws')!;
      const fdRatio = w.vsWs.find((r) => r.server === 'fd');
      const raw = w.vsWs.find((r) => r.server === 'raw');
      return [
        w.label,
        fd ? `${fmtRate(fd.rate.median)}/s` : '-',
        `${fmtRate(ws.rate.median)}/s`,
        fdRatio ? ratio(fdRatio.rate) : '-',
        fdRatio ? ratio(fdRatio.cpu) : '-',
        raw ? ratio(raw.rate) : '-',
        pct(Math.max(...w.servers.map((x) => x.loadgenCpu.max))),
        String(w.servers.reduce((n, x) => n + x.errors, 0)),
      ];
    }),
  );
  if (memory && memory.servers.some((x) => x.server === 'fd')) {
    const fd = memory.servers.find((x) => x.server === 'fd')!;
    const ws = memory.servers.find((x) => x.server === 'ws')!;
    console.log(
      `\nRSS per idle connection at ${memory.connections.toLocaleString('en-US')}: fd ${kb(fd.rssPerConn.median)}, ws ${kb(ws.rssPerConn.median)} ` +
        `(ws/fd ${(ws.rssPerConn.median / fd.rssPerConn.median).toFixed(2)}x).`,
    );
  }
}
