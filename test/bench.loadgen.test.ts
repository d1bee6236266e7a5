/**
 * Smoke test of the benchmark's C load generator (bench/loadgen/loadgen.c): it builds with `cc`,
 * completes the handshake against a fullduplex echo server, and every echoed byte and sequence
 * number checks out; the broadcast mode over two servers (--port2, --settle, --lockstep) and the
 * rooms mode (the backplane benchmark's receivers) count what they get. No timing assertions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLoadgen, hasCompiler } from '../bench/loadgen/build.js';
import { openRooms, runLoadgen } from '../bench/loadgen/run.js';
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

  describe('over two servers', () => {
    // Two servers; a message from /pub on the first is published to 'room' on both (as a
    // backplane would), and `sub=<topic>` subscribes (the rooms mode's receivers).
    const servers: WebSocketServer[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 2; i++) {
        const s = new WebSocketServer(undefined, { port: 0, host: '127.0.0.1', pingInterval: 0 });
        s.on('connection', (ws) => {
          if (ws.request.path === '/sub') ws.subscribe('room');
          if (ws.request.path === '/pub') ws.on('message', (data) => servers.forEach((each) => each.publish('room', data)));
          for (const topic of ws.request.query.getAll('sub')) ws.subscribe(topic);
        });
        await s.listen();
        servers.push(s);
      }
    });
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.close()));
    });

    for (const lockstep of [false, true]) {
      it(`broadcast with receivers split over --port and --port2${lockstep ? ', --lockstep' : ''}: every delivery verified`, async () => {
        const result = await runLoadgen(binary, {
          mode: 'broadcast',
          port: servers[0]!.address().port,
          port2: servers[1]!.address().port,
          settle: 0.05,
          lockstep,
          conns: 10,
          inflight: 4,
          size: 1024,
          warmup: 0.1,
          duration: 0.5,
          maxSeconds: 20,
          serverPid: [process.pid, process.pid],
          pin: false,
        });
        expect(result.first_error).toBe('');
        expect(result.errors).toBe(0);
        expect(result.opened).toBe(11);
        expect(result.ops).toBeGreaterThan(0);
        expect(result.completed).toBeGreaterThan(0);
        expect(result.server_cpu_us).toBeGreaterThan(0);
      });
    }

    it('rooms: records each measured id once on each side, ignores warm-up ids, counts duplicates', async () => {
      const receivers = await openRooms(binary, { mode: 'rooms', port: servers[0]!.address().port, port2: servers[1]!.address().port, conns: 5, count: 100, maxSeconds: 30, pin: false });
      expect(receivers.opened).toBe(10);
      expect(receivers.errors).toBe(0);
      const message = (id: number): Buffer => {
        const b = Buffer.alloc(64, 0x61);
        b.writeUInt32BE(id, 0);
        b.writeBigUInt64BE(process.hrtime.bigint(), 4);
        return b;
      };
      for (const s of servers) s.publish('room-0', message(1000)); // a warm-up id: not recorded
      for (let id = 0; id < 100; id++) for (const s of servers) s.publish(`room-${id % 5}`, message(id));
      servers[0]!.publish('room-3', message(7)); // the same id again on A
      await new Promise((resolve) => setTimeout(resolve, 300));
      const report = await receivers.finish();
      expect(report.errors).toBe(0);
      expect(report.ignored).toBe(2);
      expect(report.duplicates).toBe(1);
      expect(report.publish_to_a_us.n).toBe(100);
      expect(report.publish_to_b_us.n).toBe(100);
      expect(report.added_us.n).toBe(100);
      expect(report.publish_to_a_us.p50).toBeGreaterThan(0);
    });
  });
});
