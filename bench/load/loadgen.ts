/**
 * The load generator, in its own process: raw `node:net` WebSocket clients, as cheap as a client
 * can be in JavaScript, identical for every server under test.
 *
 * - Frames are built (and masked) once up front; k messages go out as one write of a prefix view
 *   of a buffer holding back-to-back copies, so sending allocates nothing.
 * - Replies are counted by walking frame headers ({@link FrameCounter}); payloads are skipped.
 * - Round-trip latency is taken per message from one clock reading per write and one per read
 *   (replies on a connection come back in order).
 *
 * Driven by the harness over IPC (see ipc.ts): `<workload>.open`, `<workload>.go`, `mark`,
 * `stop`. Workloads: echo (pipelined request/reply), broadcast (1 publisher, N receivers),
 * handshake (open/close loop), idle (N open connections).
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { CLOSE_FRAME, FrameCounter, maskedFrame, prefixViews, repeatFrame, upgradeRequests } from './frames.js';
import { serveCommands } from './ipc.js';

const HOST = '127.0.0.1';
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_101 = Buffer.from('HTTP/1.1 101', 'latin1');

// Shared state -----------------------------------------------------------------------------------

/** Latency samples in microseconds, recorded only inside the measured window. */
class Recorder {
  private samples = new Float32Array(1 << 20);
  count = 0;
  on = false;

  add(us: number): void {
    if (this.count === this.samples.length) {
      if (this.samples.length >= 1 << 25) return; // 32M samples is plenty
      const bigger = new Float32Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.count++] = us;
  }

  summary(): { p50: number; p99: number; max: number; n: number } {
    const s = this.samples.subarray(0, this.count).sort();
    const at = (q: number): number => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
    return { p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1]! : NaN, n: s.length };
  }

  reset(): void {
    this.count = 0;
    this.on = false;
  }
}

const recorder = new Recorder();
/** Messages received (echo), deliveries (broadcast) or completed handshakes, since `go`. */
let counted = 0;
/** Data events on measured connections (echo, broadcast receivers). */
let reads = 0;
let errors = 0;
let lastError = '';
let stopping = false;
let sockets: Socket[] = [];
/** Called by `stop` before sockets are destroyed (handshake: wait for loops to wind down). */
let beforeStop: (() => Promise<void>) | null = null;

function noteError(message: string): void {
  errors++;
  lastError = message;
}

function reset(): void {
  recorder.reset();
  counted = 0;
  reads = 0;
  errors = 0;
  lastError = '';
  stopping = false;
  sockets = [];
  beforeStop = null;
}

// Connecting -------------------------------------------------------------------------------------

interface Upgraded {
  socket: Socket;
  /** Bytes after the response head (frames that came with it), if any. */
  rest: Buffer | null;
}

/** Opens a TCP connection and completes the opening handshake. */
function upgrade(port: number, request: Buffer, timeoutMs = 10_000): Promise<Upgraded> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: HOST, noDelay: true });
    let head: Buffer | null = null;
    const timer = setTimeout(() => fail(new Error('handshake timeout')), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      if (head.compare(STATUS_101, 0, STATUS_101.length, 0, STATUS_101.length) !== 0) {
        fail(new Error(`unexpected response: ${head.subarray(0, end).toString('latin1').split('\r\n')[0]}`));
        return;
      }
      const restStart = end + HEAD_END.length;
      resolve({ socket, rest: restStart < head.length ? head.subarray(restStart) : null });
    };
    socket.on('error', fail);
    socket.on('data', onData);
    socket.once('connect', () => socket.write(request));
  });
}

/** Opens `count` upgraded connections, at most `concurrency` handshakes at a time. */
async function openMany(port: number, path: string, count: number, concurrency = 64): Promise<Upgraded[]> {
  const requests = upgradeRequests(port, path, Math.min(count, 256));
  const out: Upgraded[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await upgrade(port, requests[i % requests.length]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

/**
 * Reads one whole frame from `socket` (after `rest`, bytes already received) and checks that its
 * payload is `expected` byte for byte; resolves with whatever followed it. The correctness gate
 * each connection passes before anything is counted: a server that answers with the right
 * number of bytes but the wrong content fails the run instead of producing a figure.
 */
function verifyFrame(socket: Socket, rest: Buffer | null, expected: Buffer, masked: boolean, timeoutMs = 10_000): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    let buf = rest ?? Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('no reply to the verification message')), timeoutMs);
    const done = (error: Error | null, after: Buffer | null = null): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      if (error) reject(error);
      else resolve(after);
    };
    const check = (): void => {
      if (buf.length < 2) return;
      const l = buf[1]! & 0x7f;
      const isMasked = (buf[1]! & 0x80) !== 0;
      const header = (l < 126 ? 2 : l === 126 ? 4 : 10) + (isMasked ? 4 : 0);
      if (buf.length < header) return;
      const length = l < 126 ? l : l === 126 ? buf.readUInt16BE(2) : buf.readUInt32BE(6);
      if (buf.length < header + length) return;
      if (isMasked !== masked) return done(new Error(`reply frame ${isMasked ? 'masked' : 'unmasked'}, expected the opposite`));
      const payload = Buffer.from(buf.subarray(header, header + length));
      if (isMasked) for (let i = 0; i < length; i++) payload[i] ^= buf[header - 4 + (i & 3)]!;
      if (!payload.equals(expected)) {
        let at = 0;
        while (at < Math.min(payload.length, expected.length) && payload[at] === expected[at]) at++;
        return done(new Error(`reply payload differs from what was sent (${payload.length} B vs ${expected.length} B, first difference at byte ${at})`));
      }
      done(null, buf.length > header + length ? buf.subarray(header + length) : null);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      check();
    };
    socket.on('data', onData);
    check();
  });
}

function watch(socket: Socket): void {
  socket.on('error', (error) => {
    if (!stopping) noteError(`socket error: ${error.message}`);
  });
  socket.on('close', () => {
    if (!stopping) noteError('server closed a connection');
  });
  sockets.push(socket);
}

// Echo -------------------------------------------------------------------------------------------

interface EchoArgs {
  port: number;
  /** Replies may be masked (the raw floor server echoes the client's frames). */
  allowMasked?: boolean;
  connections: number;
  size: number;
  inflight: number;
}

let echoStart: (() => void) | null = null;

async function echoOpen(args: EchoArgs): Promise<{ connections: number }> {
  reset();
  const { port, connections, size, inflight } = args;
  const payload = Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff));
  const frame = maskedFrame(payload);
  const frameLength = frame.length;
  const views = prefixViews(repeatFrame(frame, inflight), frameLength, inflight);
  const ringSize = 1 << Math.ceil(Math.log2(inflight * 2));
  const ringMask = ringSize - 1;
  const upgraded = await openMany(port, '/', connections);
  // One verified round trip per connection before anything is counted.
  await Promise.all(
    upgraded.map(async (u) => {
      const reply = verifyFrame(u.socket, u.rest, payload, args.allowMasked === true);
      u.socket.write(frame);
      u.rest = await reply;
    }),
  );
  const starters: Array<() => void> = [];
  for (const { socket, rest } of upgraded) {
    const counter = new FrameCounter(size, args.allowMasked === true);
    const sentAt = new Float64Array(ringSize);
    let head = 0;
    let tail = 0;
    watch(socket);
    const onData = (chunk: Buffer): void => {
      reads++;
      let k = counter.push(chunk);
      if (k === 0) return;
      const now = performance.now();
      counted += k;
      if (k > tail - head) {
        noteError('more replies than messages sent');
        k = tail - head;
      }
      if (recorder.on) {
        for (let i = 0; i < k; i++) recorder.add((now - sentAt[head++ & ringMask]!) * 1000);
      } else {
        head += k;
      }
      if (stopping) return;
      socket.write(views[k]!);
      for (let i = 0; i < k; i++) sentAt[tail++ & ringMask] = now;
    };
    socket.on('data', onData);
    if (rest) onData(rest);
    starters.push(() => {
      const now = performance.now();
      socket.write(views[inflight]!);
      for (let i = 0; i < inflight; i++) sentAt[tail++ & ringMask] = now;
    });
  }
  echoStart = () => {
    for (const start of starters) start();
  };
  return { connections: upgraded.length };
}

// Broadcast --------------------------------------------------------------------------------------

interface BroadcastArgs {
  port: number;
  receivers: number;
  size: number;
  inflight: number;
}

let broadcastStart: (() => void) | null = null;
/** Broadcast messages every receiver got. */
let completed = 0;

async function broadcastOpen(args: BroadcastArgs): Promise<{ receivers: number }> {
  reset();
  completed = 0;
  const { port, receivers, size, inflight } = args;
  const payload = Buffer.from(Array.from({ length: size }, (_, i) => (i * 13 + 1) & 0xff));
  const frame = maskedFrame(payload);
  const views = prefixViews(repeatFrame(frame, inflight), frame.length, inflight);
  const ringSize = 1 << Math.ceil(Math.log2(inflight * 2));
  const ringMask = ringSize - 1;
  /** For message s: receivers that got it so far (slot s & ringMask). */
  const got = new Int32Array(ringSize);
  const sentAt = new Float64Array(ringSize);
  let sent = 0;
  let toSend = 0;
  let sendScheduled = false;

  const subs = await openMany(port, '/sub', receivers);
  const { socket: publisher } = await upgrade(port, upgradeRequests(port, '/pub', 1)[0]!);
  watch(publisher);
  // One verified message reaches every receiver before anything is counted.
  const verified = Promise.all(subs.map(async (u) => (u.rest = await verifyFrame(u.socket, u.rest, payload, false))));
  publisher.write(frame);
  await verified;

  const flushPublisher = (): void => {
    sendScheduled = false;
    if (stopping || toSend === 0) return;
    const k = toSend;
    toSend = 0;
    const now = performance.now();
    publisher.write(views[k]!);
    for (let i = 0; i < k; i++) sentAt[sent++ & ringMask] = now;
  };
  const complete = (s: number): void => {
    completed++;
    if (recorder.on) recorder.add((performance.now() - sentAt[s & ringMask]!) * 1000);
    toSend++;
    if (!sendScheduled) {
      sendScheduled = true;
      setImmediate(flushPublisher);
    }
  };

  for (const { socket, rest } of subs) {
    const counter = new FrameCounter(size);
    /** Messages this receiver got: the next one it gets is message number `received`. */
    let received = 0;
    watch(socket);
    const onData = (chunk: Buffer): void => {
      reads++;
      const k = counter.push(chunk);
      if (k === 0) return;
      counted += k;
      for (let i = 0; i < k; i++) {
        const slot = received++ & ringMask;
        if (++got[slot] === receivers) {
          got[slot] = 0;
          complete(received - 1);
        }
      }
    };
    socket.on('data', onData);
    if (rest) onData(rest);
  }
  broadcastStart = () => {
    toSend = inflight;
    flushPublisher();
  };
  return { receivers: subs.length };
}

// Handshakes -------------------------------------------------------------------------------------

interface HandshakeArgs {
  port: number;
  concurrency: number;
}

function handshakeGo(args: HandshakeArgs): { started: number } {
  reset();
  const { port, concurrency } = args;
  const requests = upgradeRequests(port, '/', 256);
  let next = 0;
  let active = 0;
  let idle: (() => void) | null = null;
  const live = new Set<Socket>();

  const one = (): void => {
    if (stopping) {
      if (--active === 0) idle?.();
      return;
    }
    const t0 = performance.now();
    const socket = connect({ port, host: HOST, noDelay: true });
    live.add(socket);
    let upgraded = false;
    let head: Buffer | null = null;
    socket.once('connect', () => socket.write(requests[next++ & 255]!));
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) return; // the server's close frame
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      if (head.indexOf(HEAD_END) < 0) return;
      if (head.compare(STATUS_101, 0, STATUS_101.length, 0, STATUS_101.length) !== 0) {
        noteError(`unexpected response: ${head.toString('latin1').split('\r\n')[0]}`);
        socket.destroy();
        return;
      }
      upgraded = true;
      if (recorder.on) recorder.add((performance.now() - t0) * 1000);
      // Close at once: the server answers with its close frame and ends TCP (§7.1.1), and
      // allowHalfOpen=false ends ours.
      socket.write(CLOSE_FRAME);
    });
    socket.on('error', (error) => {
      if (!stopping) noteError(`socket error: ${error.message}`);
    });
    socket.on('close', () => {
      live.delete(socket);
      if (upgraded) counted++;
      else if (!stopping) noteError('closed before the handshake completed');
      one();
    });
  };
  stopping = false;
  for (let i = 0; i < concurrency; i++) {
    active++;
    one();
  }
  beforeStop = () =>
    new Promise<void>((resolve) => {
      if (active === 0) return resolve();
      const timer = setTimeout(() => {
        for (const socket of live) socket.destroy();
        resolve();
      }, 2000);
      idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  return { started: concurrency };
}

// Idle connections -------------------------------------------------------------------------------

async function idleOpen(args: { port: number; connections: number }): Promise<{ connections: number }> {
  reset();
  const upgraded = await openMany(args.port, '/', args.connections);
  for (const { socket } of upgraded) watch(socket);
  return { connections: upgraded.length };
}

// Commands ---------------------------------------------------------------------------------------

serveCommands({
  'echo.open': echoOpen,
  'echo.go': () => {
    echoStart?.();
    return {};
  },
  'broadcast.open': broadcastOpen,
  'broadcast.go': () => {
    broadcastStart?.();
    return {};
  },
  'handshake.go': handshakeGo,
  'idle.open': idleOpen,
  /** A point in time: counters and CPU now; `record` turns latency recording on or off. */
  mark: (args: { record: boolean }) => {
    recorder.on = args.record;
    return { time: performance.now(), counted, reads, completed, cpu: process.cpuUsage(), errors, lastError };
  },
  stop: async () => {
    stopping = true;
    recorder.on = false;
    if (beforeStop) await beforeStop();
    for (const socket of sockets) socket.destroy();
    const result = { latency: recorder.summary(), counted, completed, errors, lastError };
    reset();
    echoStart = broadcastStart = null;
    return result;
  },
  exit: () => process.exit(0),
});
