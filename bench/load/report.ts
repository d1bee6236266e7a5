/**
 * Medians over interleaved runs and the rows the socket benchmarks print.
 */
import { median } from '../util.js';
import type { Impl, Window } from './harness.js';
import { fmtPct, fmtRate, fmtRatio, fmtSpread, fmtUs } from './harness.js';

export interface Summary {
  label: string;
  impl: string;
  runs: Window[];
  rate: number;
  cpuPerOp: number;
  p50: number;
  p99: number;
  serverUse: number;
  loadgenUse: number;
  otherUse: number;
  /** Operations per load generator read (how many messages a read brought), NaN when not counted. */
  perRead: number;
  rateSpread: string;
  cpuSpread: string;
}

export function summarize(label: string, impl: string, runs: Window[]): Summary {
  if (process.env.BENCH_VERBOSE) {
    for (const [i, w] of runs.entries()) {
      console.log(
        `  ${label} ${impl} run ${i + 1}: ${fmtRate(w.ops / w.seconds)}/s, CPU/op ${fmtUs(w.serverCpuUs / w.ops)}, ` +
          `srv ${fmtPct(w.serverCpuUs / 1e6 / w.seconds)}, gen ${fmtPct(w.loadgenCpuUs / 1e6 / w.seconds)}, other ${fmtPct(w.otherCpuUs / 1e6 / w.seconds)}, ` +
          `p50 ${fmtUs(w.latency.p50)}, p99 ${fmtUs(w.latency.p99)}, errors ${w.errors}`,
      );
    }
  }
  const rates = runs.map((w) => w.ops / w.seconds);
  const cpus = runs.map((w) => w.serverCpuUs / w.ops);
  const rate = median(rates);
  const cpuPerOp = median(cpus);
  return {
    label,
    impl,
    runs,
    rate,
    cpuPerOp,
    p50: median(runs.map((w) => w.latency.p50)),
    p99: median(runs.map((w) => w.latency.p99)),
    serverUse: median(runs.map((w) => w.serverCpuUs / 1e6 / w.seconds)),
    loadgenUse: median(runs.map((w) => w.loadgenCpuUs / 1e6 / w.seconds)),
    otherUse: median(runs.map((w) => w.otherCpuUs / 1e6 / w.seconds)),
    perRead: median(runs.map((w) => (w.reads > 0 ? w.ops / w.reads : NaN))),
    rateSpread: fmtSpread(rates, rate),
    cpuSpread: fmtSpread(cpus, cpuPerOp),
  };
}

/** Column headers matching {@link row}, with the names of the rate and the operation. */
export function headers(rate: string, op: string, p: string): string[] {
  return ['workload', 'server', rate, `p50 ${p}`, `p99 ${p}`, `server CPU/${op}`, 'srv%', 'gen%', 'other%', 'per read', 'spread (rate / CPU)'];
}

/** A row: workload, server, rate, p50, p99, CPU/op, srv%, gen%, other%, ops per read, spread. */
export function row(s: Summary): string[] {
  return [
    s.label,
    s.impl,
    fmtRate(s.rate),
    fmtUs(s.p50),
    fmtUs(s.p99),
    fmtUs(s.cpuPerOp),
    fmtPct(s.serverUse),
    fmtPct(s.loadgenUse),
    fmtPct(s.otherUse),
    Number.isFinite(s.perRead) ? s.perRead.toFixed(1) : '-',
    `${s.rateSpread} / ${s.cpuSpread}`,
  ];
}

/**
 * Ratios of `fd` against `ws` over adjacent runs (run i of each was measured back to back, so a
 * change in background load hits both): rate fd/ws and CPU per op ws/fd, median and range.
 */
export function ratios(fd: Summary, ws: Summary): { rate: number[]; cpu: number[] } {
  const n = Math.min(fd.runs.length, ws.runs.length);
  const rate: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = fd.runs[i]!;
    const w = ws.runs[i]!;
    rate.push(f.ops / f.seconds / (w.ops / w.seconds));
    cpu.push(w.serverCpuUs / w.ops / (f.serverCpuUs / f.ops));
  }
  return { rate, cpu };
}

const withRange = (values: number[]): string =>
  values.length < 2 ? fmtRatio(median(values)) : `${fmtRatio(median(values))} (${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)})`;

export const ratioHeaders = (rate: string, op: string): string[] => ['workload', 'vs ws', `${rate} fd/ws`, `CPU/${op} ws/fd`, 'target (CPU)', 'verdict'];

export function ratioRow(label: string, fd: Summary, ws: Summary, target: string): string[] {
  const r = ratios(fd, ws);
  return [label, fd.impl, withRange(r.rate), withRange(r.cpu), target, verdict(median(r.cpu), target)];
}

function verdict(cpuRatio: number, target: string): string {
  const m = /([\d.]+)x/.exec(target);
  if (!m) return '';
  const goal = Number(m[1]);
  if (cpuRatio >= goal) return 'met';
  if (cpuRatio < 0.9) return 'SLOWER than ws';
  if (cpuRatio < 1.1) return 'on par with ws';
  return `${Math.round((cpuRatio / goal) * 100)}% of target`;
}

export type { Impl };
export { fmtRatio };
