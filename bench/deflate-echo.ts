/**
 * Compressed workloads, fullduplex vs ws (both `perMessageDeflate: true`, their defaults), in the
 * same run, driven by bench/loadgen/deflate-loadgen.c — a C generator that compresses every
 * message it sends and inflates and verifies every message it receives, and reports its own CPU.
 *
 * - echo of realistic JSON at 64 B / 1 KiB / 16 KiB, 100 connections × 8 in flight;
 * - broadcast of 1 KiB JSON to 1,000 compressed subscribers (one publisher, 8, 64 and 128 messages
 *   outstanding: 8 is latency-bound, 64 and 128 saturate the servers);
 * - memory per compressed connection at 1,000 connections: active (after 2 compressed echoes each
 *   way) and idle (negotiated, never used), minus the same server's RSS per uncompressed one;
 * - bytes on the wire per message (echo, as received by the generator, frame headers included).
 *
 * Server pinned to CPU 0, generator to CPU 1 (taskset, when there are two CPUs). Each workload
 * runs fd and ws alternately, `--rounds` times (default 2), and reports the better round of each.
 *
 *   npx tsx bench/deflate-echo.ts [--duration 5] [--rounds 2] [--only echo,broadcast,memory] [--broadcast-inflight 8,64,128]
 *
 * Needs a C compiler and zlib's headers (Debian: zlib1g-dev); says so clearly when absent.
 * Writes bench/results/deflate-echo.json.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { buildDeflateLoadgen } from './deflate-echo-build.js';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SERVERS = fileURLToPath(new URL('./deflate-servers.ts', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results/deflate-echo.json', import.meta.url));

const pin = ((): boolean => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return (execFileSync('nproc').toString().trim() as unknown as number) >= 2;
  } catch {
    return false;
  }
})();

interface Server {
  child: ChildProcess;
  port: number;
  pid: number;
}

async function startServer(impl: 'fd' | 'ws', mode: 'echo' | 'broadcast', plain = false, releaseIdleAfter = 0): Promise<Server> {
  const args = ['--import', 'tsx', SERVERS, impl, mode, ...(plain ? ['--plain'] : [])];
  const env = releaseIdleAfter > 0 ? { ...process.env, FD_RELEASE_IDLE_AFTER: String(releaseIdleAfter) } : process.env;
  const child = pin ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${impl} server exited with ${code}`)));
  });
  return { child, port, pid: child.pid! };
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

interface GenResult {
  opsPerSec: number;
  genCpuUsPerOp: number;
  serverCpuUsPerOp: number;
  genCpuPct: number;
  serverCpuPct: number;
  wireBytesPerMsg: number;
  errors: number;
}

function runGen(binary: string, args: string[]): Promise<GenResult> {
  const command = pin ? 'taskset' : binary;
  const argv = pin ? ['-c', '1', binary, ...args] : args;
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as GenResult);
      } catch {
        reject(new Error(`generator exited with ${code} and printed ${JSON.stringify(out)}`));
      }
    });
  });
}

/** Opens `conns` connections (doing `pre` compressed echoes on each), then reads the server's RSS. */
async function heldRss(binary: string, server: Server, conns: number, pre: number, plain = false): Promise<number> {
  const command = pin ? 'taskset' : binary;
  const args = ['--mode', 'hold', '--port', String(server.port), '--conns', String(conns), '--pre', String(pre), '--size', '1024', ...(plain ? ['--plain'] : [])];
  const child = spawn(command, pin ? ['-c', '1', binary, ...args] : args, { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"ready"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`hold generator exited with ${code}: ${out}`)));
  });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const rss = rssOf(server.pid);
  child.stdin.end();
  await new Promise((resolve) => child.once('exit', resolve));
  return rss;
}

const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' }, only: { type: 'string', default: 'echo,broadcast,memory' }, 'broadcast-inflight': { type: 'string', default: '8,64,128' } } });
const duration = values.duration;
const rounds = Number(values.rounds);
const only = new Set(values.only.split(','));
const binary = buildDeflateLoadgen();
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, pinned: pin };
const best = (a: GenResult | undefined, b: GenResult): GenResult => (a === undefined || b.opsPerSec > a.opsPerSec ? b : a);
const rows: string[] = [];

if (only.has('echo')) {
  for (const size of [64, 1024, 16384]) {
    const byImpl: Record<string, GenResult | undefined> = {};
    for (let round = 0; round < rounds; round++) {
      for (const impl of ['fd', 'ws'] as const) {
        const server = await startServer(impl, 'echo');
        try {
          const r = await runGen(binary, ['--mode', 'echo', '--port', String(server.port), '--conns', '100', '--inflight', '8', '--size', String(size), '--warmup', '1', '--duration', duration, '--server-pid', String(server.pid)]);
          if (r.errors > 0) throw new Error(`${impl} echo ${size}: ${r.errors} errors`);
          byImpl[impl] = best(byImpl[impl], r);
        } finally {
          await stopServer(server);
        }
      }
    }
    results[`echo${size}`] = byImpl;
    const fd = byImpl.fd!;
    const ws = byImpl.ws!;
    rows.push(
      `echo ${size} B JSON, 100×8 | fd ${fd.opsPerSec.toFixed(0)}/s (${fd.serverCpuUsPerOp.toFixed(1)} µs srv/op) | ws ${ws.opsPerSec.toFixed(0)}/s (${ws.serverCpuUsPerOp.toFixed(1)} µs srv/op) | ` +
        `${(fd.opsPerSec / ws.opsPerSec).toFixed(2)}x msg/s, ${(ws.serverCpuUsPerOp / fd.serverCpuUsPerOp).toFixed(2)}x CPU/op | wire B/msg fd ${fd.wireBytesPerMsg.toFixed(1)} ws ${ws.wireBytesPerMsg.toFixed(1)} (${(fd.wireBytesPerMsg / ws.wireBytesPerMsg).toFixed(3)}x) | gen CPU fd ${fd.genCpuPct.toFixed(0)}% ${fd.genCpuUsPerOp.toFixed(1)} µs/op, ws ${ws.genCpuPct.toFixed(0)}%`,
    );
    console.log(rows.at(-1));
  }
}

if (only.has('broadcast')) {
  // 8 outstanding leaves both servers partly idle (latency-bound); 64 and 128 saturate them, so
  // deliveries/s and server CPU per delivery compare the servers' work, from the same run.
  for (const inflight of values['broadcast-inflight'].split(',').map(Number)) {
    const byImpl: Record<string, GenResult | undefined> = {};
    for (let round = 0; round < rounds; round++) {
      for (const impl of ['fd', 'ws'] as const) {
        const server = await startServer(impl, 'broadcast');
        try {
          const r = await runGen(binary, ['--mode', 'broadcast', '--port', String(server.port), '--conns', '1000', '--inflight', String(inflight), '--size', '1024', '--warmup', '1', '--duration', duration, '--server-pid', String(server.pid)]);
          if (r.errors > 0) throw new Error(`${impl} broadcast: ${r.errors} errors`);
          byImpl[impl] = best(byImpl[impl], r);
        } finally {
          await stopServer(server);
        }
      }
    }
    results[inflight === 8 ? 'broadcast' : `broadcast${inflight}`] = byImpl;
    const fd = byImpl.fd!;
    const ws = byImpl.ws!;
    rows.push(
      `broadcast 1 KiB JSON → 1000, ${inflight} outstanding | fd ${fd.opsPerSec.toFixed(0)} deliveries/s (${fd.serverCpuUsPerOp.toFixed(2)} µs srv/delivery, srv CPU ${fd.serverCpuPct.toFixed(0)}%) | ws ${ws.opsPerSec.toFixed(0)}/s (${ws.serverCpuUsPerOp.toFixed(2)} µs, srv CPU ${ws.serverCpuPct.toFixed(0)}%) | ` +
        `${(fd.opsPerSec / ws.opsPerSec).toFixed(2)}x deliveries/s, ${(ws.serverCpuUsPerOp / fd.serverCpuUsPerOp).toFixed(2)}x CPU/delivery | gen CPU fd ${fd.genCpuPct.toFixed(0)}% (${fd.genCpuUsPerOp.toFixed(2)} µs/delivery), ws ${ws.genCpuPct.toFixed(0)}%`,
    );
    console.log(rows.at(-1));
  }
}

if (only.has('memory')) {
  const CONNS = 1000;
  const memory: Record<string, Record<string, number>> = {};
  for (const impl of ['fd', 'ws'] as const) {
    // RSS deltas of 1,000 connections are a few MiB, so one run is noisy: median of 3.
    const measure = async (plain: boolean, pre: number, releaseIdleAfter = 0): Promise<number> => {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const server = await startServer(impl, 'echo', plain, releaseIdleAfter);
        try {
          await new Promise((resolve) => setTimeout(resolve, 500));
          const base = rssOf(server.pid);
          const rss = await heldRss(binary, server, CONNS, pre, plain);
          runs.push((rss - base) / CONNS);
        } finally {
          await stopServer(server);
        }
      }
      return runs.sort((x, y) => x - y)[1]!;
    };
    // plain: compression off on the server, no offer from the generator (the baseline);
    // idle: deflate negotiated, never used; active: 2 compressed echoes each way, then held.
    const plainIdle = await measure(true, 0);
    const idle = await measure(false, 0);
    const active = await measure(false, 2);
    memory[impl] = { plainPerConn: plainIdle, idlePerConn: idle, activePerConn: active };
    // Used, then idle with releaseIdleAfter 0.4 s: the RSS is read 1.5 s after the echoes, by
    // which time the sweep has freed both zlib contexts (fd only; ws has no such option).
    if (impl === 'fd') memory[impl].releasedPerConn = await measure(false, 2, 0.4);
  }
  results.memory = memory;
  const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
  rows.push(
    `memory/conn at 1000 (RSS delta / conns, median of 3) | fd plain ${kib(memory.fd!.plainPerConn!)}, idle ${kib(memory.fd!.idlePerConn!)}, active ${kib(memory.fd!.activePerConn!)} | ws plain ${kib(memory.ws!.plainPerConn!)}, idle ${kib(memory.ws!.idlePerConn!)}, active ${kib(memory.ws!.activePerConn!)} | ` +
      `fd used-then-idle with releaseIdleAfter ${kib(memory.fd!.releasedPerConn!)} | negotiated-unused overhead (idle − plain): fd ${kib(memory.fd!.idlePerConn! - memory.fd!.plainPerConn!)}, ws ${kib(memory.ws!.idlePerConn! - memory.ws!.plainPerConn!)} | ` +
      `compression overhead (active − idle): fd ${kib(memory.fd!.activePerConn! - memory.fd!.idlePerConn!)}, ws ${kib(memory.ws!.activePerConn! - memory.ws!.idlePerConn!)}`,
  );
  console.log(rows.at(-1));
}

results.rows = rows;
mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
writeFileSync(RESULTS, JSON.stringify(results, null, 2));
console.log(`\n${rows.join('\n')}\nwritten to ${RESULTS}`);
