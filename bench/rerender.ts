/**
 * Redraws bench/results/<name>.svg from <name>.json without running anything:
 * `npx tsx bench/rerender.ts [latest]` (after a change to svg.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MemorySummary, WorkloadSummary } from './report.js';
import { renderSvg } from './svg.js';

const name = process.argv[2] ?? 'latest';
const base = fileURLToPath(new URL(`./results/${name}`, import.meta.url));
// JSON stores NaN as null; the chart treats both as "no value".
const data = JSON.parse(readFileSync(`${base}.json`, 'utf8'), (_k, v: unknown) => (v === null ? NaN : v)) as {
  date: string;
  machine: Record<string, string | number>;
  settings: { repeats: number; duration: number };
  workloads: WorkloadSummary[];
  memory: MemorySummary | null;
};
const m = data.machine;
const subtitle = `${m.cores} x ${m.cpu}, Node ${m.node}, ws ${m.ws} + bufferutil ${m.bufferutil}; ${data.settings.repeats} interleaved runs, ${data.settings.duration} s each; ${data.date.slice(0, 10)}`;
writeFileSync(`${base}.svg`, renderSvg(data.workloads, Number.isNaN(data.memory as unknown as number) ? null : data.memory, subtitle));
console.log(`wrote ${base}.svg`);
