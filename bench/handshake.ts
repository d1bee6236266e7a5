/**
 * Connection lifecycle over real sockets, fullduplex against ws (each server in its own process,
 * raw clients in a load generator process, bench/load/):
 *
 * - Handshakes/s: 50 concurrent loops, each opening a TCP connection, sending the upgrade request,
 *   reading the 101, sending a close frame and waiting for the server to close — as fast as
 *   possible for a fixed time. Reported: completed connections/s, time to the 101 (p50/p99), server
 *   CPU µs per connection (handshake + close).
 * - Memory per idle connection: 2,000 upgraded connections held open; the server's RSS and heap
 *   (after a full GC) before and after, divided by 2,000.
 *
 * Run alone: `npx tsx bench/handshake.ts`; BENCH_CASE=memory or BENCH_CASE=handshake for one part.
 */
import { pathToFileURL } from 'node:url';
import { median, printTable } from './util.js';
import {
  LOAD_RUNS,
  LoadGenerator,
  ServerProcess,
  checkFdLimit,
  checkWindow,
  fmtRatio,
  measure,
  runHeader,
  settle,
  type Impl,
  type Window,
} from './load/harness.js';
import { headers, ratioHeaders, ratioRow, row, summarize, type Summary } from './load/report.js';

const CONCURRENCY = 50;
const IDLE_CONNECTIONS = 2000;
/** `raw` is the floor: a bare node:net server doing the least an upgrade and a close need. */
const IMPLS: Impl[] = ['ws', 'fd', 'raw'];
const caseFilter = process.env.BENCH_CASE;
const selected = (name: string): boolean => caseFilter === undefined || name.includes(caseFilter);

export async function run(): Promise<void> {
  const limit = checkFdLimit(IDLE_CONNECTIONS + 100);
  if (limit) throw new Error(limit);
  const loadgen = await LoadGenerator.start();
  const servers = new Map<Impl, ServerProcess>();
  const notes: string[] = [];
  const runs = new Map<Impl, Window[]>(IMPLS.map((impl) => [impl, []]));
  const memory = new Map<Impl, Array<{ rss: number; heap: number; external: number }>>(IMPLS.map((impl) => [impl, []]));
  try {
    for (const impl of IMPLS) servers.set(impl, await ServerProcess.start(impl, 'echo'));
    if (selected('memory')) {
      for (let r = 0; r < Math.min(LOAD_RUNS, 2); r++) {
        for (const impl of IMPLS) {
          const server = servers.get(impl)!;
          await settle(server);
          const before = await server.gc();
          const opened = await loadgen.call<{ connections: number }>('idle.open', { port: server.port, connections: IDLE_CONNECTIONS }, 120_000);
          await new Promise((resolve) => setTimeout(resolve, 300));
          const after = await server.gc();
          const stats = await server.stats();
          if (opened.connections !== IDLE_CONNECTIONS || stats.clients !== IDLE_CONNECTIONS) {
            notes.push(`memory ${impl}: ${opened.connections} opened, server counts ${stats.clients}`);
          }
          memory.get(impl)!.push({
            rss: (after.rss - before.rss) / IDLE_CONNECTIONS,
            heap: (after.heapUsed - before.heapUsed) / IDLE_CONNECTIONS,
            external: (after.external - before.external) / IDLE_CONNECTIONS,
          });
          await loadgen.call('stop');
          await settle(server);
        }
      }
    }
    if (selected('handshake')) {
      runHeader(
        `Handshakes: ${CONCURRENCY} concurrent loops of connect, upgrade, 101, close frame, server closes. ` +
          `Rate = completed connections/s; RTT = connect start to 101; CPU = per connection (handshake + close).`,
      );
      for (let r = 0; r < LOAD_RUNS; r++) {
        for (const impl of IMPLS) {
          const server = servers.get(impl)!;
          await loadgen.call('handshake.go', { port: server.port, concurrency: CONCURRENCY });
          const w = await measure(server, loadgen);
          notes.push(...checkWindow(`handshake ${impl} run ${r + 1}`, w));
          runs.get(impl)!.push(w);
          await settle(server);
        }
      }
    }
  } finally {
    await Promise.all([loadgen.stop(), ...[...servers.values()].map((s) => s.stop())]);
  }

  if (selected('handshake')) {
    const summaries = new Map<Impl, Summary>(IMPLS.map((impl) => [impl, summarize(`handshake + close, ${CONCURRENCY} concurrent`, impl, runs.get(impl)!)]));
    console.log('');
    printTable(
      headers('conns/s', 'conn', 'to 101'),
      IMPLS.map((impl) => row(summaries.get(impl)!)),
    );
    console.log('');
    printTable(
      ratioHeaders('conns/s', 'conn'),
      [ratioRow('handshakes', summaries.get('fd')!, summaries.get('ws')!, '2x'), ratioRow('handshakes', summaries.get('raw')!, summaries.get('ws')!, '(floor)')],
    );
    console.log(`raw = bare node:net server: find the head end, regex the key, SHA-1, write a fixed 101; answer a close frame and end. The floor, not a WebSocket server.`);
  }
  if (selected('memory')) {
    console.log(
      `\nMemory per idle connection: ${IDLE_CONNECTIONS} upgraded connections held open; server process deltas after a full GC, ` +
        `per connection (median of ${memory.get('fd')!.length} runs). kernel socket buffers are not in these figures.\n`,
    );
    const m = (impl: Impl, key: 'rss' | 'heap' | 'external'): number => median(memory.get(impl)!.map((x) => x[key]));
    const kb = (bytes: number): string => `${(bytes / 1000).toFixed(2)} kB`;
    printTable(
      ['server', 'RSS/conn', 'JS heap/conn', 'external/conn'],
      IMPLS.map((impl) => [impl, kb(m(impl, 'rss')), kb(m(impl, 'heap')), kb(m(impl, 'external'))]),
    );
    console.log(`\nfd/ws: RSS ${fmtRatio(m('fd', 'rss') / m('ws', 'rss'))}, heap ${fmtRatio(m('fd', 'heap') / m('ws', 'heap'))} (lower is better); raw = a bare node:net socket per connection.`);
  }
  for (const note of notes) console.log(`note: ${note}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
