/**
 * Benchmark entry point.
 *
 *   npm run bench                 the full socket suite (about 10 minutes on 2 cores): every workload of
 *                                 issue 10 against fullduplex, ws 8 + bufferutil and the raw node:net ceiling,
 *                                 driven by the C load generator; writes bench/results/latest.{json,svg}
 *   npm run bench -- --quick      the same, short (under a minute): a smoke run; writes bench/results/quick.*
 *   npm run bench -- parser       the in-memory frame parser/encoder micro-benchmark vs ws (JavaScript)
 *   npm run bench -- deflate | backplane | h2 | compat-ws   the other suites (standalone scripts)
 *
 * Environment: BENCH_CASE=<substring> runs only the socket workloads whose id contains it (echo-64,
 * broadcast, handshake, memory, …); BENCH_REPEATS, BENCH_WARMUP, BENCH_DURATION override the run shape;
 * BENCH_VERBOSE=1 prints every run; BENCH_NO_PIN=1 disables taskset pinning.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildLoadgen } from './loadgen/build.js';
import { canPin } from './loadgen/run.js';
import { printMemory, printOverview, printWorkload, summarizeMemory, summarizeWorkload, type MemorySummary, type WorkloadSummary } from './report.js';
import { maskImplementations, runMemory, runWorkloads, type Settings } from './sockets.js';
import { renderSvg } from './svg.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== '--');

/** The soft and hard open-file limits, from the shell (Node has no getrlimit). */
function fileLimits(): { soft: number; hard: number } {
  const read = (flag: string): number => {
    const out = execFileSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(out);
  };
  try {
    return { soft: read('-Sn'), hard: read('-Hn') };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/**
 * The memory row holds `wanted` connections open: the server and the load generator each need a
 * descriptor per connection. Node cannot raise its own limit, so when the soft limit is too low
 * this process runs itself again under `sh -c 'ulimit -n …'` (once) and exits with its status.
 */
function ensureFileLimit(wanted: number): void {
  const { soft, hard } = fileLimits();
  const needed = wanted + 256;
  if (soft >= needed || soft >= hard || process.env.BENCH_ULIMIT_RAISED) return;
  const target = Math.min(hard, Math.max(needed, 65536));
  console.log(`raising the open-file limit from ${soft} to ${target} (ulimit -n) and starting again`);
  const result = spawnSync('/bin/sh', ['-c', `ulimit -n ${target} && exec "$@"`, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_ULIMIT_RAISED: '1' },
  });
  process.exit(result.status ?? 1);
}

function settingsFromArgs(): Settings {
  const quick = args.includes('--quick');
  const num = (name: string, fallback: number): number => (process.env[name] !== undefined ? Number(process.env[name]) : fallback);
  const wantedIdle = quick ? 1000 : 10_000;
  const { soft } = fileLimits();
  return {
    quick,
    repeats: Math.max(1, num('BENCH_REPEATS', quick ? 1 : 5) | 0),
    warmup: num('BENCH_WARMUP', quick ? 0.3 : 1),
    duration: num('BENCH_DURATION', quick ? 0.5 : 2),
    // If the limit could not be raised: as many as fit, reported in the results.
    idleConnections: Math.max(100, Math.min(wantedIdle, soft - 256)),
    memoryRepeats: quick ? 1 : 2,
    pin: !process.env.BENCH_NO_PIN && canPin(cpus().length),
    filter: process.env.BENCH_CASE,
  };
}

function machine(): Record<string, string | number> {
  const cpu = cpus();
  const require = (path: string): { version: string } => JSON.parse(readFileSync(fileURLToPath(new URL(`../node_modules/${path}/package.json`, import.meta.url)), 'utf8'));
  let cc = '';
  try {
    cc = execFileSync(process.env.CC ?? 'cc', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  } catch {
    cc = 'unknown';
  }
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `${process.platform} ${release()}`,
    node: process.version,
    v8: process.versions.v8,
    ws: require('ws').version,
    bufferutil: require('bufferutil').version,
    cc,
  };
}

async function runSockets(): Promise<void> {
  const settings = settingsFromArgs();
  const runMemoryRow = settings.filter === undefined || 'memory'.includes(settings.filter);
  if (runMemoryRow) ensureFileLimit(settings.quick ? 1000 : 10_000);
  const started = Date.now();
  const binary = buildLoadgen();
  const info = machine();
  console.log(`fullduplex socket benchmarks (${settings.quick ? 'quick' : 'full'})`);
  console.log(`  machine: ${info.cores} x ${info.cpu}, ${info.memoryGiB} GiB, ${info.kernel}`);
  console.log(`  node ${info.node}, ws ${info.ws} + bufferutil ${info.bufferutil}; load generator: ${binary} (${info.cc}, -O2)`);
  console.log(
    `  pinning: ${settings.pin ? 'server on CPU 0, load generator on CPU 1 (taskset)' : 'none (no taskset or fewer than 2 CPUs): figures are noisier'}`,
  );
  console.log(
    `  ${settings.repeats} interleaved run(s) per server and workload, ${settings.warmup} s warm-up + ${settings.duration} s measured; ` +
      `medians, ranges = min–max over runs; ratios pair run i of each server with run i of ws.`,
  );

  const workloads: WorkloadSummary[] = [];
  await runWorkloads(binary, settings, (result) => {
    const summary = summarizeWorkload(result);
    workloads.push(summary);
    printWorkload(summary);
  });
  let memory: MemorySummary | null = null;
  if (runMemoryRow) {
    memory = summarizeMemory(await runMemory(binary, settings));
    if (memory.connections < (settings.quick ? 1000 : 10_000)) {
      memory.notes.push(`open-file limit too low: measured at ${memory.connections} connections instead of ${settings.quick ? 1000 : 10_000}`);
    }
    printMemory(memory);
  }
  if (workloads.length > 0) printOverview(workloads, memory);
  const seconds = (Date.now() - started) / 1000;
  console.log(`\n(took ${seconds.toFixed(0)} s)`);

  const name = settings.quick ? 'quick' : settings.filter === undefined ? 'latest' : `partial-${settings.filter}`;
  const json = {
    date: new Date().toISOString(),
    command: settings.quick ? 'npm run bench -- --quick' : 'npm run bench',
    machine: info,
    settings,
    maskImplementations,
    seconds,
    workloads: workloads.map(({ servers, ...rest }) => ({ ...rest, servers })),
    memory,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}${name}.json`, `${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  const subtitle = `${info.cores} x ${info.cpu}, Node ${info.node}, ws ${info.ws} + bufferutil ${info.bufferutil}; ${settings.repeats} interleaved runs, ${settings.duration} s each; ${json.date.slice(0, 10)}`;
  writeFileSync(`${RESULTS_DIR}${name}.svg`, renderSvg(workloads, memory, subtitle));
  console.log(`results: bench/results/${name}.json, bench/results/${name}.svg`);
  if (maskImplementations.ws !== undefined && !maskImplementations.ws.startsWith('bufferutil')) {
    console.log(`WARNING: ws is not using bufferutil (${maskImplementations.ws})`);
  }
}

/** `npm run bench -- <name>`: the standalone suites. */
const SUITES: Record<string, string> = {
  deflate: './deflate-echo.ts',
  backplane: './backplane.ts',
  h2: './h2.ts',
  'compat-ws': './compat-ws.ts',
};

async function main(): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(
      'usage: npm run bench [-- --quick | parser | deflate | backplane | h2 | compat-ws]\n  (no argument) full socket suite, C load generator\n  --quick        short smoke run\n  parser         frame parser/encoder micro-benchmark (in memory)\n  deflate        compressed echo/broadcast/memory vs ws (C load generator with zlib)\n  backplane      Redis and node:cluster fan-out, latency, recovery (needs redis-server)\n  h2             1,000 sockets over one HTTP/2 connection vs 1,000 HTTP/1.1 upgrades\n  compat-ws      the fullduplex/ws face against fullduplex\'s own API',
    );
    return;
  }
  if (args.includes('parser')) {
    const parser = await import('./parser.js');
    await parser.run();
    return;
  }
  // The other suites are standalone scripts (they fork their own server roles): run them as they are.
  const suite = args.find((a) => a in SUITES);
  if (suite !== undefined) {
    const script = fileURLToPath(new URL(SUITES[suite]!, import.meta.url));
    const { status } = spawnSync(process.execPath, [...process.execArgv, script, ...args.filter((a) => a !== suite)], { stdio: 'inherit' });
    process.exitCode = status ?? 1;
    return;
  }
  await runSockets();
}

await main();
