/**
 * Smoke test of the benchmark's C load generator (bench/loadgen/loadgen.c): it builds with `cc`,
 * completes the handshake against a fullduplex echo server, and every echoed byte and sequence
 * number checks out. No timing assertions: it runs a fixed number of messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLoadgen, hasCompiler } from '../bench/loadgen/build.js';
import { runLoadgen } from '../bench/loadgen/run.js';
import { WebSocketServer } from '../src/server/server.js';
import { isCI } from './helpers/peers.js';

const compiler = hasCompiler();
const mustRun = isCI(process.env);
if (!compiler && !mustRun) console.log('skipping the C load generator smoke test: no C compiler (cc); apt-get install gcc; in CI this runs');

describe.skipIf(!compiler && !mustRun)('C load generator', () => {
  let binary = '';
  let server: WebSocketServer;

  beforeAll(async () => {
    binary = buildLoadgen();
    server = new WebSocketServer(undefined, { port: 0, host: '127.0.0.1', pingInterval: 0 });
    server.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    await server.listen();
  });

  afterAll(async () => {
    await server?.close();
  });

  for (const { name, size, text } of [
    { name: '64 B binary', size: 64, text: false },
    { name: '20 KiB binary', size: 20_000, text: false },
    { name: '1 KiB text', size: 1024, text: true },
  ]) {
    it(`echo ${name}: every message verified, no errors`, async () => {
      const count = 2000;
      const result = await runLoadgen(binary, {
        mode: 'echo',
        port: server.address().port,
        conns: 4,
        inflight: 4,
        size,
        text,
        warmup: 0,
        duration: 30,
        count,
        maxSeconds: 25,
        pin: false,
      });
      expect(result.first_error).toBe('');
      expect(result.errors).toBe(0);
      expect(result.opened).toBe(4);
      expect(result.verified).toBeGreaterThanOrEqual(count);
      expect(result.verified).toBe(result.received);
      expect(result.loadgen_total_cpu_us).toBeGreaterThan(0);
    });
  }

  it('reports a corrupted echo as an error (the verification is real)', async () => {
    const corrupting = new WebSocketServer(undefined, { port: 0, host: '127.0.0.1', pingInterval: 0 });
    let n = 0;
    corrupting.on('connection', (ws) =>
      ws.on('message', (data) => {
        const copy = Buffer.from(data as Buffer);
        if (++n === 50) copy[copy.length - 1]! ^= 1; // one bit of one message
        ws.send(copy);
      }),
    );
    await corrupting.listen();
    try {
      const result = await runLoadgen(binary, {
        mode: 'echo',
        port: corrupting.address().port,
        conns: 2,
        inflight: 2,
        size: 256,
        warmup: 0,
        duration: 30,
        count: 200,
        maxSeconds: 10,
        pin: false,
      });
      expect(result.errors).toBeGreaterThan(0);
      expect(result.first_error).toMatch(/payload mismatch/);
    } finally {
      await corrupting.close();
    }
  });

  it('handshake cycles complete with no errors', async () => {
    const result = await runLoadgen(binary, { mode: 'handshake', port: server.address().port, conns: 4, warmup: 0, duration: 0.3, maxSeconds: 20, pin: false });
    expect(result.first_error).toBe('');
    expect(result.errors).toBe(0);
    expect(result.ops).toBeGreaterThan(0);
  });
});
