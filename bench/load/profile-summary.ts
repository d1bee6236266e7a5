/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. the server children started with
 * BENCH_PROFILE=<dir>): self time by function and by file, and inclusive time of the functions in
 * src/. Only samples after the first `skip` seconds count (startup and tsx compilation).
 *
 *   npx tsx bench/load/profile-summary.ts <file.cpuprofile> [--skip 1.5] [--top 40]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [--skip seconds] [--top N]');
  process.exit(1);
}
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const skipUs = option('--skip', 1.5) * 1e6;
const top = option('--top', 40);

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const shortUrl = (url: string): string => {
  const i = url.indexOf('/work/main/');
  if (i >= 0) return url.slice(i + '/work/main/'.length);
  if (url.startsWith('node:')) return url;
  return url === '' ? '(native/V8)' : url.replace(/^.*node_modules\//, '');
};
const key = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;

const self = new Map<string, number>();
const selfByFile = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let t = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!;
  if (t < skipUs) continue;
  const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i]!;
  const node = byId.get(profile.samples[i]!)!;
  total += dt;
  const k = key(node.callFrame);
  self.set(k, (self.get(k) ?? 0) + dt);
  const fileKey = node.callFrame.url ? shortUrl(node.callFrame.url) : node.callFrame.functionName;
  selfByFile.set(fileKey, (selfByFile.get(fileKey) ?? 0) + dt);
  // Inclusive: every distinct function on the stack, once.
  const seen = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const kk = key(byId.get(id)!.callFrame);
    if (seen.has(kk)) continue;
    seen.add(kk);
    inclusive.set(kk, (inclusive.get(kk) ?? 0) + dt);
  }
}

const idle = self.get(key({ functionName: '(idle)', url: '', lineNumber: -1 })) ?? 0;
const busy = total - idle;
/** Share of the busy (non-idle) samples: where the CPU time went. */
const pct = (v: number): string => `${((v / busy) * 100).toFixed(1).padStart(5)}%`;
const print = (title: string, map: Map<string, number>, n: number, filter: (k: string) => boolean = () => true): void => {
  console.log(`\n${title}`);
  for (const [k, v] of [...map].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(v)}  ${k}`);
};
console.log(
  `${file}: ${(total / 1e6).toFixed(2)} s of samples after the first ${skipUs / 1e6} s, ${(busy / 1e6).toFixed(2)} s busy; ` +
    `percentages are of the busy time`,
);
print('Self time by function', self, top, (k) => !k.startsWith('(idle)'));
print('Self time by file', selfByFile, 25, (k) => k !== '(idle)');
print('Inclusive time, functions in src/ and the bench server', inclusive, top, (k) => k.includes('src/') || k.includes('bench/'));
