/**
 * What the `ws`-compatible shell costs: echo throughput of a `fullduplex/ws` server against a
 * server on fullduplex's own API (WebSocketConnection), both driven by the same JS client (`ws`,
 * in this process). Each server runs in its own child process; runs are interleaved (compat,
 * core, compat, core, …) so background load hits both.
 *
 *   npx tsx bench/compat-ws.ts [--seconds 3] [--repeats 3] [--connections 32] [--window 16]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

type Impl = 'compat' | 'core';

async function serve(impl: Impl): Promise<void> {
  let port: number;
  if (impl === 'compat') {
    const { WebSocketServer } = await import('../src/compat/ws/index.js');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await once(wss, 'listening');
    port = (wss.address() as { port: number }).port;
  } else {
    const { WebSocketServer } = await import('../src/server/server.js');
    const server = new WebSocketServer(
      (ws) => {
        ws.on('message', (data) => void ws.send(data));
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
}

/** Echo messages per second over `connections`, each keeping `window` messages in flight. */
async function drive(child: ChildProcess, port: number, size: number, options: Options): Promise<{ rate: number; cpuPerMessage: number }> {
  const payload = Buffer.alloc(size, 0x61);
  const sockets = await Promise.all(
    Array.from({ length: options.connections }, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      await once(ws, 'open');
      return ws;
    }),
  );
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
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpu0 = await serverCpu(child);
  const start = count;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  const done = count - start;
  const rate = (done * 1e9) / Number(process.hrtime.bigint() - t0);
  const cpuPerMessage = ((await serverCpu(child)) - cpu0) / done;
  running = false;
  for (const ws of sockets) ws.terminate();
  return { rate, cpuPerMessage };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (name: string, fallback: number): number => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const options: Options = { seconds: get('seconds', 3), repeats: get('repeats', 3), connections: get('connections', 32), window: get('window', 16) };
  const children: Record<Impl, { child: ChildProcess; port: number }> = {} as never;
  for (const impl of ['compat', 'core'] as const) {
    const child = fork(fileURLToPath(import.meta.url), ['--serve', impl], { execArgv: ['--import', 'tsx'] });
    const [message] = (await once(child, 'message')) as [{ port: number }];
    children[impl] = { child, port: message.port };
  }
  const results: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (const size of [64, 1024]) {
    for (let r = 0; r < options.repeats; r++) {
      for (const impl of ['compat', 'core'] as const) {
        const { rate, cpuPerMessage } = await drive(children[impl].child, children[impl].port, size, options);
        (results[`${impl} ${size} B`] ??= []).push(rate);
        (cpu[`${impl} ${size} B`] ??= []).push(cpuPerMessage);
      }
    }
  }
  for (const { child } of Object.values(children)) child.kill();
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  console.log(`echo msg/s (median of ${options.repeats}; ${options.connections} connections × ${options.window} in flight; client: ws in one process)`);
  for (const size of [64, 1024]) {
    const compat = median(results[`compat ${size} B`]!);
    const core = median(results[`core ${size} B`]!);
    console.log(
      `${String(size).padStart(5)} B  server CPU µs/msg: fullduplex/ws ${median(cpu[`compat ${size} B`]!).toFixed(2)}   WebSocketConnection ${median(cpu[`core ${size} B`]!).toFixed(2)}   ratio ${(median(cpu[`compat ${size} B`]!) / median(cpu[`core ${size} B`]!)).toFixed(3)}`,
    );
    console.log(
      `${String(size).padStart(5)} B  fullduplex/ws ${Math.round(compat).toString().padStart(8)}   WebSocketConnection ${Math.round(core).toString().padStart(8)}   ratio ${(compat / core).toFixed(3)}   runs compat [${results[`compat ${size} B`]!.map(Math.round).join(', ')}] core [${results[`core ${size} B`]!.map(Math.round).join(', ')}]`,
    );
  }
}

if (process.argv[2] === '--serve') await serve(process.argv[3] as Impl);
else await main();
