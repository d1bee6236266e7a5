/**
 * Where the memory of an idle connection goes: starts a bench server (`fd` by default), opens N
 * idle upgraded connections with the C load generator, writes a heap snapshot and prints the
 * retained-by-constructor table divided by N (self sizes of every object of that constructor).
 *
 *   npx tsx bench/profile/idle-heap.ts [fd|ws] [connections=2000]
 *
 * Self sizes, not retained sizes: the rows say which objects exist per connection. The first
 * snapshot is taken before any connection, so code compiled meanwhile shows up as "(code)".
 */
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Child } from '../load/ipc.js';
import { buildLoadgen } from '../loadgen/build.js';
import { openIdle } from '../loadgen/run.js';

const impl = process.argv[2] ?? 'fd';
const conns = Number(process.argv[3] ?? 2000);
const script = fileURLToPath(new URL('../load/server.ts', import.meta.url));

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

function countByConstructor(path: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name = type === 'object' || type === 'closure' ? `${type}:${snap.strings[snap.nodes[i + nameAt]!]}` : `(${type})`;
    const entry = out.get(name) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += snap.nodes[i + sizeAt]!;
    out.set(name, entry);
  }
  return out;
}

const binary = buildLoadgen();
const server = await Child.start(`${impl} server`, script, [impl, 'echo'], ['--expose-gc']);
const port = server.info.port as number;
const before = (await server.call<string>('snapshot', { path: `/tmp/idle-before-${impl}.heapsnapshot` }));
const idle = await openIdle(binary, { mode: 'idle', port, conns, maxSeconds: 60, pin: false });
await new Promise((r) => setTimeout(r, 500));
const mem = await server.call<NodeJS.MemoryUsage>('gc');
const after = await server.call<string>('snapshot', { path: `/tmp/idle-after-${impl}.heapsnapshot` });
console.log(`opened ${idle.opened}, heapUsed ${mem.heapUsed}`);
await idle.close();
await server.stop();
const a = countByConstructor(before);
const b = countByConstructor(after);
const rows: Array<[string, number, number]> = [];
for (const [name, e] of b) {
  const p = a.get(name) ?? { count: 0, size: 0 };
  const dc = (e.count - p.count) / idle.opened;
  const ds = (e.size - p.size) / idle.opened;
  if (Math.abs(ds) >= 8) rows.push([name, dc, ds]);
}
rows.sort((x, y) => y[2] - x[2]);
let total = 0;
for (const [name, dc, ds] of rows) {
  total += ds;
  console.log(`${ds.toFixed(0).padStart(6)} B  ${dc.toFixed(2).padStart(6)} objs  ${name}`);
}
console.log(`total ${total.toFixed(0)} B per connection (self sizes, rows >= 8 B)`);
// Kept for a closer look (e.g. retainers in Chrome DevTools) with KEEP_SNAPSHOTS=1.
if (!process.env.KEEP_SNAPSHOTS) {
  rmSync(before);
  rmSync(after);
} else {
  console.log(`snapshots: ${before} ${after}`);
}
