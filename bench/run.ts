/**
 * Benchmark entry point: `npm run bench` runs every benchmark in order; `npm run bench -- parser`
 * runs only those whose name contains one of the arguments.
 *
 * To add a benchmark, create `bench/<name>.ts` exporting `run(): Promise<void>` and add a line to
 * {@link benchmarks} below. Environment: BENCH_RUNS (runs per measurement, default 5),
 * BENCH_CASE (substring filter on case labels inside a benchmark, where supported).
 */
import { cpus } from 'node:os';
import { loadWs } from './util.js';

interface BenchmarkModule {
  run(): Promise<void>;
}

interface Benchmark {
  name: string;
  description: string;
  load(): Promise<BenchmarkModule>;
}

const benchmarks: Benchmark[] = [
  {
    name: 'parser',
    description: 'frame parser and encoder vs ws Receiver / Sender.frame (in memory, no I/O)',
    load: () => import('./parser.js'),
  },
  {
    name: 'echo',
    description: 'echo 64 B / 16 KiB over sockets, 100 connections x 8 in flight, vs ws (separate processes)',
    load: () => import('./echo.js'),
  },
  {
    name: 'broadcast',
    description: 'broadcast 1 KiB to 1,000 connections, 32 in flight: publish / send loop vs ws loop',
    load: () => import('./broadcast.js'),
  },
  {
    name: 'handshake',
    description: 'handshakes/s (connect, upgrade, close) and memory per idle connection, vs ws',
    load: () => import('./handshake.js'),
  },
];

async function main(): Promise<void> {
  const filters = process.argv.slice(2).filter((a) => a !== '--');
  if (filters.includes('--help') || filters.includes('-h') || filters.includes('--list')) {
    console.log('usage: npm run bench [-- <name>...]\n\nbenchmarks:');
    for (const b of benchmarks) console.log(`  ${b.name.padEnd(12)} ${b.description}`);
    return;
  }
  const selected = filters.length === 0 ? benchmarks : benchmarks.filter((b) => filters.some((f) => b.name.includes(f)));
  if (selected.length === 0) {
    console.error(`No benchmark matches ${filters.join(', ')}. Available: ${benchmarks.map((b) => b.name).join(', ')}`);
    process.exitCode = 1;
    return;
  }

  const cpu = cpus();
  const ws = loadWs();
  console.log('fullduplex benchmarks');
  console.log(`  date:    ${new Date().toISOString()}`);
  console.log(`  node:    ${process.version} (V8 ${process.versions.v8}), ${process.platform} ${process.arch}`);
  console.log(`  cpu:     ${cpu.length} x ${cpu[0]?.model ?? 'unknown'}`);
  console.log(`  ws:      ${ws.version}`);
  console.log(`  ws mask: ${ws.maskImplementation}`);
  console.log(`  ws utf8: ${ws.utf8Implementation}`);
  console.log(`  runs:    median of ${process.env.BENCH_RUNS ?? 5} interleaved runs per measurement`);

  for (const benchmark of selected) {
    console.log(`\n=== ${benchmark.name}: ${benchmark.description} ===`);
    const started = process.hrtime.bigint();
    const module = await benchmark.load();
    await module.run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`\n(${benchmark.name} took ${seconds.toFixed(1)} s)`);
  }
}

await main();
