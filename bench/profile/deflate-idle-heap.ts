/**
 * What a negotiated-but-unused (or used, then idle) permessage-deflate connection keeps on the
 * heap: runs a fullduplex echo server in this process, holds N connections from the C deflate
 * load generator (`--pre P` compressed echoes each, then idle), and prints the per-connection
 * self-size diff by constructor, plus RSS and external memory per connection. Run once with
 * `deflate` and once with `plain` (the generator then offers no extension) and compare.
 * RELEASE_IDLE_AFTER=0.5 (seconds) turns idle release on: with pre > 0 and waitMs > 2 periods,
 * the result is what a used-then-idle connection keeps.
 *
 *   node --expose-gc --max-semi-space-size=256 --import tsx bench/profile/deflate-idle-heap.ts deflate|plain [conns=1000] [pre=0] [waitMs=1500]
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { buildDeflateLoadgen } from '../deflate-echo-build.js';
import { serve } from '../../src/index.js';

const mode = process.argv[2] ?? 'deflate';
const conns = Number(process.argv[3] ?? 1000);
const pre = Number(process.argv[4] ?? 0);
const waitMs = Number(process.argv[5] ?? 1500);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

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

const server = await serve(
  (ws) => {
    ws.on('message', (data) => void ws.send(data).catch(() => {}));
  },
  { port: 0, pingInterval: 0, perMessageDeflate: mode === 'deflate' && (process.env.RELEASE_IDLE_AFTER ? { releaseIdleAfter: Number(process.env.RELEASE_IDLE_AFTER) } : true), maxMessageSize: 64 << 20 },
);
const port = new URL(server.url).port;
const binary = buildDeflateLoadgen();
// Warm up code paths first so compiled code does not show up as per-connection cost.
const warm = spawn(binary, ['--mode', 'hold', '--port', port, '--conns', '50', '--pre', String(pre), '--size', '1024', ...(mode === 'plain' ? ['--plain'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
await new Promise<void>((resolve) => warm.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
warm.stdin.end();
await new Promise((r) => warm.once('exit', r));
await new Promise((r) => setTimeout(r, 300));
gc();
const mem0 = process.memoryUsage();
const before = writeHeapSnapshot(`/tmp/dfl-before-${mode}.heapsnapshot`);
const child = spawn(binary, ['--mode', 'hold', '--port', port, '--conns', String(conns), '--pre', String(pre), '--size', '1024', ...(mode === 'plain' ? ['--plain'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
await new Promise((r) => setTimeout(r, waitMs));
// With a large young generation (--max-semi-space-size=256) nothing is collected meanwhile, so
// this is everything allocated per connection, garbage included (what RSS sees until a GC).
const allocated = (process.memoryUsage().heapUsed - mem0.heapUsed) / conns;
gc();
const mem1 = process.memoryUsage();
const after = writeHeapSnapshot(`/tmp/dfl-after-${mode}.heapsnapshot`);
child.stdin.end();
await new Promise((r) => child.once('exit', r));
await server.close();
const a = countByConstructor(before);
const b = countByConstructor(after);
const rows: Array<[string, number, number]> = [];
for (const [name, e] of b) {
  const p = a.get(name) ?? { count: 0, size: 0 };
  const dc = (e.count - p.count) / conns;
  const ds = (e.size - p.size) / conns;
  if (Math.abs(ds) >= 4) rows.push([name, dc, ds]);
}
rows.sort((x, y) => y[2] - x[2]);
let total = 0;
for (const [name, dc, ds] of rows) {
  total += ds;
  console.log(`${ds.toFixed(0).padStart(6)} B  ${dc.toFixed(2).padStart(6)} objs  ${name}`);
}
const per = (k: keyof NodeJS.MemoryUsage): string => `${((mem1[k] - mem0[k]) / conns / 1024).toFixed(2)} KiB`;
console.log(`${mode} pre=${pre}: allocated ${(allocated / 1024).toFixed(2)} KiB/conn before GC; heap self sizes ${total.toFixed(0)} B/conn; heapUsed ${per('heapUsed')}, external ${per('external')}, arrayBuffers ${per('arrayBuffers')}, rss ${per('rss')} per connection`);
rmSync(before);
rmSync(after);
