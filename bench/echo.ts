/**
 * Echo over real sockets: 100 connections, each keeping 8 binary messages in flight (pipelined),
 * against a fullduplex echo server and a ws echo server, each in its own process, driven by the
 * same raw-socket load generator in a third process (bench/load/).
 *
 * A third server, `raw`, is the floor: a bare node:net server that writes every chunk back unparsed
 * (no unmasking, no framing) — what the kernel and Node's socket layer cost on their own.
 *
 * Reported per server: messages/s, round-trip latency p50/p99 (per message, in the load
 * generator), server CPU µs per message (`process.cpuUsage()` of the server over the window),
 * CPU use of the server and of the load generator. Ratios are fullduplex against ws from the same
 * run: messages/s fd/ws and CPU per message ws/fd (the figure the 4x target is about).
 *
 * Run alone: `npx tsx bench/echo.ts`; BENCH_CASE=64 limits to workloads whose label contains "64".
 */
import { pathToFileURL } from 'node:url';
import { printTable } from './util.js';
import { LOAD_RUNS, LoadGenerator, ServerProcess, checkWindow, measure, runHeader, settle, type Impl, type Window } from './load/harness.js';
import { headers, ratioHeaders, ratioRow, row, summarize, type Summary } from './load/report.js';

const CONNECTIONS = 100;
const IN_FLIGHT = 8;
const WORKLOADS = [
  { label: 'echo 64 B', size: 64, target: '4x' },
  { label: 'echo 16 KiB', size: 16 * 1024, target: '>= 1x' },
];
/** `raw` is the floor: a bare node:net server writing the bytes back (no WebSocket work at all). */
const IMPLS: Impl[] = ['ws', 'fd', 'raw'];

const caseFilter = process.env.BENCH_CASE;

export async function run(): Promise<void> {
  runHeader(`Echo: ${CONNECTIONS} connections x ${IN_FLIGHT} binary messages in flight each; the server sends every message back.`);
  const workloads = WORKLOADS.filter((w) => caseFilter === undefined || w.label.includes(caseFilter));
  const loadgen = await LoadGenerator.start();
  const servers = new Map<Impl, ServerProcess>();
  const notes: string[] = [];
  const summaries: Array<{ workload: (typeof WORKLOADS)[number]; byImpl: Map<Impl, Summary> }> = [];
  try {
    for (const impl of IMPLS) servers.set(impl, await ServerProcess.start(impl, 'echo'));
    for (const workload of workloads) {
      const runs = new Map<Impl, Window[]>(IMPLS.map((impl) => [impl, []]));
      for (let r = 0; r < LOAD_RUNS; r++) {
        for (const impl of IMPLS) {
          const server = servers.get(impl)!;
          await loadgen.call('echo.open', { port: server.port, connections: CONNECTIONS, size: workload.size, inflight: IN_FLIGHT, allowMasked: impl === 'raw' });
          await loadgen.call('echo.go');
          const w = await measure(server, loadgen);
          notes.push(...checkWindow(`${workload.label} ${impl} run ${r + 1}`, w));
          runs.get(impl)!.push(w);
          await settle(server);
        }
      }
      const byImpl = new Map<Impl, Summary>(IMPLS.map((impl) => [impl, summarize(workload.label, impl, runs.get(impl)!)]));
      summaries.push({ workload, byImpl });
    }
  } finally {
    await Promise.all([loadgen.stop(), ...[...servers.values()].map((s) => s.stop())]);
  }

  console.log('');
  printTable(
    headers('msgs/s', 'msg', 'RTT'),
    summaries.flatMap(({ byImpl }) => IMPLS.map((impl) => row(byImpl.get(impl)!))),
  );
  console.log('');
  printTable(
    ratioHeaders('msgs/s', 'msg'),
    summaries.flatMap(({ workload, byImpl }) => [
      ratioRow(workload.label, byImpl.get('fd')!, byImpl.get('ws')!, workload.target),
      ratioRow(workload.label, byImpl.get('raw')!, byImpl.get('ws')!, '(floor)'),
    ]),
  );
  console.log(`raw = bare node:net server writing each chunk back unparsed: the I/O floor, not a WebSocket server.`);
  for (const note of notes) console.log(`note: ${note}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
