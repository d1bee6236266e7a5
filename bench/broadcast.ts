/**
 * Broadcast over real sockets: 1,000 receiving connections and one publisher, all raw clients in
 * the load generator process (bench/load/). The publisher keeps 32 messages of 1 KiB in flight; a
 * message is complete when every receiver has got it, and only then does the publisher send
 * another. The server sends each message from the publisher to all 1,000 receivers:
 *
 * - `fd publish`: fullduplex, receivers subscribed to a topic, `server.publish('all', data)`
 *   (encoded once, queued on every subscriber, one write per socket per event-loop turn);
 * - `fd loop`: fullduplex, a naive `for (const c of server.clients) c.send(data)`;
 * - `ws loop`: ws, the loop from its README over `wss.clients` with `client.send(data)`.
 *
 * Reported: deliveries/s (messages received, summed over receivers), latency from the publisher's
 * write until the last receiver got the message (p50/p99), server CPU µs per delivery, CPU use
 * of server and load generator. Ratios against ws from the same run.
 *
 * Run alone: `npx tsx bench/broadcast.ts`; BENCH_CASE=publish limits to the matching variants.
 */
import { pathToFileURL } from 'node:url';
import { printTable } from './util.js';
import { LOAD_RUNS, LoadGenerator, ServerProcess, checkFdLimit, checkWindow, measure, runHeader, settle, type Impl, type Window } from './load/harness.js';
import { headers, ratioHeaders, ratioRow, row, summarize, type Summary } from './load/report.js';

const RECEIVERS = Number(process.env.BENCH_RECEIVERS ?? 1000);
const SIZE = 1024;
const IN_FLIGHT = 32;
const TARGET = '8x';

interface Variant {
  name: string;
  impl: Impl;
  mode: 'publish' | 'loop';
}

const VARIANTS: Variant[] = [
  { name: 'ws loop', impl: 'ws', mode: 'loop' },
  { name: 'fd publish', impl: 'fd', mode: 'publish' },
  { name: 'fd loop', impl: 'fd', mode: 'loop' },
];

const caseFilter = process.env.BENCH_CASE;

export async function run(): Promise<void> {
  runHeader(
    `Broadcast: ${RECEIVERS} receivers + 1 publisher with ${IN_FLIGHT} messages of ${SIZE} B in flight; ` +
      `a message is complete when all ${RECEIVERS} got it. Rate = deliveries/s; RTT = publisher write to last delivery.`,
  );
  const limit = checkFdLimit(RECEIVERS + 100);
  if (limit) throw new Error(limit);
  const variants = VARIANTS.filter((v) => v.impl === 'ws' || caseFilter === undefined || v.name.includes(caseFilter));
  const loadgen = await LoadGenerator.start();
  const servers = new Map<string, ServerProcess>();
  const runs = new Map<string, Window[]>(variants.map((v) => [v.name, []]));
  const notes: string[] = [];
  try {
    for (const v of variants) servers.set(v.name, await ServerProcess.start(v.impl, v.mode));
    for (let r = 0; r < LOAD_RUNS; r++) {
      for (const v of variants) {
        const server = servers.get(v.name)!;
        const opened = await loadgen.call<{ receivers: number }>(
          'broadcast.open',
          { port: server.port, receivers: RECEIVERS, size: SIZE, inflight: IN_FLIGHT },
          120_000,
        );
        const stats = await server.stats();
        if (opened.receivers !== RECEIVERS || stats.clients !== RECEIVERS) {
          notes.push(`${v.name} run ${r + 1}: ${opened.receivers} receivers opened, server counts ${stats.clients}`);
        }
        await loadgen.call('broadcast.go');
        const w = await measure(server, loadgen);
        notes.push(...checkWindow(`${v.name} run ${r + 1}`, w));
        if (w.completed * RECEIVERS > w.ops + IN_FLIGHT * RECEIVERS || w.completed * RECEIVERS < w.ops - IN_FLIGHT * RECEIVERS) {
          notes.push(`${v.name} run ${r + 1}: ${w.completed} messages completed but ${w.ops} deliveries counted`);
        }
        runs.get(v.name)!.push(w);
        await settle(server);
      }
    }
  } finally {
    await Promise.all([loadgen.stop(), ...[...servers.values()].map((s) => s.stop())]);
  }

  const summaries = new Map<string, Summary>(variants.map((v) => [v.name, summarize(`broadcast 1 KiB to ${RECEIVERS}`, v.name, runs.get(v.name)!)]));
  console.log('');
  printTable(
    headers('deliveries/s', 'delivery', 'RTT'),
    variants.map((v) => row(summaries.get(v.name)!)),
  );
  console.log('');
  const ws = summaries.get('ws loop')!;
  printTable(
    ratioHeaders('deliveries/s', 'delivery'),
    variants.filter((v) => v.impl === 'fd').map((v) => ratioRow(`broadcast 1 KiB to ${RECEIVERS}`, summaries.get(v.name)!, ws, v.mode === 'publish' ? TARGET : '>= 1x')),
  );
  for (const note of notes) console.log(`note: ${note}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
