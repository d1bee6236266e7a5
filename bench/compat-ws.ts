/**
 * What the `ws`-compatible shell costs, against fullduplex's own API, on two workloads driven by
 * the same JS client (`ws`, in this process):
 * - echo (64 B, 1 KiB): each connection keeps `window` messages in flight;
 * - broadcast (1 KiB to `subscribers` connections): one connection publishes, the server sends
 *   each message to every connection — `fullduplex/ws` the way ws code does it (a loop over
 *   `wss.clients` calling `send`), the core with `server.broadcast()` (its API for this; encodes
 *   once) and, for reference, with the same loop over `server.clients` (`send` per connection).
 * The figure that matters is the server's CPU time per message delivered (process.cpuUsage in
 * the server child, read around each measured window): on a loaded machine it moves much less
 * than throughput. Each server runs in its own child process; runs are interleaved (compat,
 * core, compat, core, …) so background load hits all; medians of `repeats` runs.
 *
 *   npx tsx bench/compat-ws.ts [--seconds 2] [--repeats 5] [--connections 32] [--window 16] [--subscribers 100]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

type Impl = 'compat' | 'core' | 'core-loop';
/** First byte of a message the server should broadcast rather than echo. */
const BROADCAST = 0x62;

async function serve(impl: Impl): Promise<void> {
  let port: number;
  if (impl === 'compat') {
    const { WebSocketServer } = await import('../src/compat/ws/index.js');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        if ((data as Buffer)[0] === BROADCAST) {
          for (const client of wss.clients!) client.send(data, { binary: isBinary });
        } else {
          ws.send(data, { binary: isBinary });
        }
      });
    });
    await once(wss, 'listening');
    port = (wss.address() as { port: number }).port;
  } else {
    const { WebSocketServer } = await import('../src/server/server.js');
    const loop = impl === 'core-loop';
    const server = new WebSocketServer(
      (ws) => {
        ws.on('message', (data) => {
          if (typeof data !== 'string' && data[0] === BROADCAST) {
            if (loop) for (const client of server.clients) void client.send(data);
            else server.broadcast(data, { binary: true });
          } else {
            void ws.send(data);
          }
        });
      },
      { port: 0, host: '127.0.0.1', pingInterval: 0 },
    );
    await server.listen();
    port = server.address().port;
  }
  process.send!({ port });
  // CPU time of this server process, asked for around each measured window: less sensitive to a
  // busy machine than throughput alone.
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send!({ cpu: user + system });
  });
}

function serverCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (message: { cpu: number }) => resolve(message.cpu));
    child.send('cpu');
  });
}

interface Options {
  seconds: number;
  repeats: number;
  connections: number;
  window: number;
  subscribers: number;
}

/** Measures `options.seconds` after a warm-up: messages counted by `count()`, server CPU per message. */
async function measure(child: ChildProcess, count: () => number, options: Options): Promise<{ rate: number; cpuPerMessage: number }> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpu0 = await serverCpu(child);
  const start = count();
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  const done = count() - start;
  const rate = (done * 1e9) / Number(process.hrtime.bigint() - t0);
  const cpuPerMessage = ((await serverCpu(child)) - cpu0) / done;
  return { rate, cpuPerMessage };
}

async function open(port: number, n: number): Promise<WebSocket[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      await once(ws, 'open');
      return ws;
    }),
  );
}

/** Broadcast deliveries per second: one publisher keeps `window` broadcasts in flight. */
async function driveBroadcast(child: ChildProcess, port: number, size: number, options: Options): Promise<{ rate: number; cpuPerMessage: number }> {
  const payload = Buffer.alloc(size, 0x61);
  payload[0] = BROADCAST;
  const sockets = await open(port, options.subscribers);
  const publisher = sockets[0]!;
  let delivered = 0;
  let running = true;
  for (const ws of sockets) ws.on('message', () => delivered++);
  publisher.on('message', () => {
    if (running) publisher.send(payload);
  });
  for (let i = 0; i < options.window; i++) publisher.send(payload);
  const result = await measure(child, () => delivered, options);
  running = false;
  for (const ws of sockets) ws.terminate();
  await new Promise((resolve) => setTimeout(resolve, 100));
  return result;
}

/** Echo messages per second over `connections`, each keeping `window` messages in flight. */
async function drive(child: ChildProcess, port: number, size: number, options: Options): Promise<{ rate: number; cpuPerMessage: number }> {
  const payload = Buffer.alloc(size, 0x61);
  const sockets = await open(port, options.connections);
  let count = 0;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', () => {
      count++;
      if (running) ws.send(payload);
    });
  }
  // Warm up, then measure a window.
  for (const ws of sockets) for (let i = 0; i < options.window; i++) ws.send(payload);
  const result = await measure(child, () => count, options);
  running = false;
  for (const ws of sockets) ws.terminate();
  await new Promise((resolve) => setTimeout(resolve, 100));
  return result;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (name: string, fallback: number): number => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const options: Options = {
    seconds: get('seconds', 2),
    repeats: get('repeats', 5),
    connections: get('connections', 32),
    window: get('window', 16),
    subscribers: get('subscribers', 100),
  };
  const impls: Impl[] = ['compat', 'core', 'core-loop'];
  const children = {} as Record<Impl, { child: ChildProcess; port: number }>;
  for (const impl of impls) {
    const child = fork(fileURLToPath(import.meta.url), ['--serve', impl], { execArgv: ['--import', 'tsx'] });
    const [message] = (await once(child, 'message')) as [{ port: number }];
    children[impl] = { child, port: message.port };
  }
  const workloads: Array<{ name: string; impls: Impl[]; run: (impl: Impl) => Promise<{ rate: number; cpuPerMessage: number }> }> = [
    ...[64, 1024].map((size) => ({
      name: `echo ${size} B`,
      impls: ['compat', 'core'] as Impl[],
      run: (impl: Impl) => drive(children[impl].child, children[impl].port, size, options),
    })),
    {
      name: `broadcast 1 KiB x ${options.subscribers}`,
      impls,
      run: (impl: Impl) => driveBroadcast(children[impl].child, children[impl].port, 1024, { ...options, window: 4 }),
    },
  ];
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  console.log(`server CPU µs per message delivered, median of ${options.repeats} interleaved runs of ${options.seconds} s (client: ws, one process)`);
  for (const workload of workloads) {
    const cpu: Record<string, number[]> = {};
    const rate: Record<string, number[]> = {};
    for (let r = 0; r < options.repeats; r++) {
      for (const impl of workload.impls) {
        const result = await workload.run(impl);
        (cpu[impl] ??= []).push(result.cpuPerMessage);
        (rate[impl] ??= []).push(result.rate);
      }
    }
    const line = workload.impls
      .map((impl) => `${impl === 'compat' ? 'fullduplex/ws' : impl === 'core' ? 'own API' : 'own API, send loop'} ${median(cpu[impl]!).toFixed(2)} µs [${cpu[impl]!.map((v) => v.toFixed(2)).join(' ')}] ${Math.round(median(rate[impl]!))} msg/s`)
      .join('   ');
    console.log(`${workload.name.padEnd(24)} ${line}   compat/own ${(median(cpu.compat!) / median(cpu.core!)).toFixed(3)}`);
  }
  for (const { child } of Object.values(children)) child.kill();
}

if (process.argv[2] === '--serve') await serve(process.argv[3] as Impl);
else await main();
