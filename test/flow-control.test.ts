/**
 * Flow control by bytes, over real sockets (issue 10): a peer that sends without reading is not
 * read from while what we owe it piles up (TCP pushes back on it), pings without reads cost one
 * pong, and the receive queue is bounded in bytes as well as in messages. An honest slow reader
 * is never dropped for being slow; dropping remains for the application that keeps sending past
 * `maxBufferedAmount`.
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serve, type ServerOptions, type WebSocketConnection, type WebSocketServer } from '../src/index.js';
import { cleanupAfterEach, sleep, withTimeout } from './helpers/async.js';
import { clientFrame, Op, upgradeRequest } from './helpers/raw.js';

const defer = cleanupAfterEach();

/** A server whose connections are collected; `echo` answers every message with itself. */
async function server(options: ServerOptions & { echo?: boolean } = {}): Promise<{ wss: WebSocketServer; conns: WebSocketConnection[] }> {
  const conns: WebSocketConnection[] = [];
  const { echo = true, ...rest } = options;
  const wss = await serve(() => {}, { pingInterval: 0, ...rest });
  wss.on('connection', (ws) => {
    conns.push(ws);
    if (echo) ws.on('message', (data, isBinary) => void ws.send(data, { binary: isBinary }).catch(() => {}));
  });
  defer(() => wss.close());
  return { wss, conns };
}

/**
 * A client that completes the handshake and then stops reading: its socket is paused, so the
 * kernel's receive buffer fills and TCP stops the server's writes. Bytes it receives are counted
 * once it resumes.
 */
async function nonReader(port: number): Promise<{ socket: Socket; received(): number; resume(): void }> {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  defer(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(upgradeRequest('/'));
  let received = 0;
  let head = Buffer.alloc(0);
  await withTimeout(
    new Promise<void>((resolve) => {
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.pause();
        received += head.length - end - 4;
        resolve();
      };
      socket.on('data', onData);
    }),
    5000,
    'the 101',
  );
  return {
    socket,
    received: () => received,
    resume() {
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.resume();
    },
  };
}

/** Writes `count` masked frames from `make(i)`, respecting the socket's own backpressure, until TCP stops taking them. */
async function sendUntilBlocked(socket: Socket, count: number, make: (i: number) => Buffer): Promise<number> {
  let sent = 0;
  for (let i = 0; i < count; i++) {
    if (!socket.write(make(i))) {
      sent = i + 1;
      // Give the server time to read what it will; stop when the kernel no longer drains us.
      const drained = await Promise.race([new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true))), sleep(500).then(() => false)]);
      if (!drained) return sent;
    }
    sent = i + 1;
  }
  return sent;
}

describe('read-side backpressure by bytes', () => {
  it('a peer that sends without reading is not read from while its echoes pile up, and is not dropped', async () => {
    const HWM = 64 * 1024;
    const { wss, conns } = await server({ sendHighWaterMark: HWM });
    const client = await nonReader(wss.address().port);
    const payload = randomBytes(16 * 1024);
    // 64 MiB offered: without read backpressure the server would buffer nearly all of it.
    const sent = await sendUntilBlocked(client.socket, 4096, () => clientFrame(Op.BINARY, payload));
    expect(sent).toBeLessThan(4096);
    await expect.poll(() => conns[0]?.socket.isPaused(), { timeout: 10_000 }).toBe(true);
    const conn = conns[0]!;
    // Bounded: what the server holds for this peer is about the high-water mark plus one read
    // chunk of echoes, not the 64 MiB the peer tried to send.
    expect(conn.bufferedAmount).toBeLessThan(HWM + 4 * 1024 * 1024);
    expect(client.socket.writableLength).toBeGreaterThan(0); // TCP pushed back on the peer
    expect(conn.readyState).toBe(1); // an honest slow reader is not dropped

    // Once the peer reads, everything it sent comes back.
    client.resume();
    await expect.poll(() => client.received(), { timeout: 20_000 }).toBeGreaterThanOrEqual(sent * (payload.length + 4));
    expect(conn.readyState).toBe(1);
  });

  it('a million pings from a peer that never reads: the server stops reading once pongs back up, and memory stays bounded', async () => {
    const { wss, conns } = await server({ sendHighWaterMark: 16 * 1024 });
    const client = await nonReader(wss.address().port);
    const ping = clientFrame(Op.PING, Buffer.from('0123456789abcdef0123456789abcdef'));
    // 1,000,000 pings (38 MB) in 1,000-ping writes; their pongs (34 MB) would overflow the
    // kernel's socket buffers, so without flow control they would pile up in the server.
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    const sent = await sendUntilBlocked(client.socket, 1000, () => batch);
    expect(sent).toBeLessThan(1000); // TCP pushed back: the server stopped reading
    await expect.poll(() => conns[0]?.socket.isPaused(), { timeout: 10_000 }).toBe(true);
    const conn = conns[0]!;
    expect(conn.bufferedAmount).toBeLessThan(1024 * 1024);
    expect(conn.readyState).toBe(1);
    // Once the peer reads, the server reads on and answers.
    client.resume();
    await expect.poll(() => client.received(), { timeout: 20_000 }).toBeGreaterThan(sent * 1000 * 30);
  });

  it('without read backpressure, pongs owed while output is congested coalesce, so memory stays bounded all the same', async () => {
    const { wss, conns } = await server({ sendHighWaterMark: 16 * 1024, readBackpressure: false });
    const client = await nonReader(wss.address().port);
    const ping = clientFrame(Op.PING, Buffer.from('0123456789abcdef0123456789abcdef'));
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    // The server keeps reading all 1,000,000 pings; the pongs it owes coalesce once its output
    // backs up, so its buffer stays small although the peer reads nothing.
    const sent = await sendUntilBlocked(client.socket, 1000, () => batch);
    expect(sent).toBe(1000);
    await sleep(200);
    const conn = conns[0]!;
    expect(conn.bufferedAmount).toBeLessThan(1024 * 1024);
    expect(conn.readyState).toBe(1);
    client.resume();
    await sleep(500);
    const pongBytes = client.received();
    expect(pongBytes).toBeGreaterThan(0);
    expect(pongBytes).toBeLessThan(sent * 1000 * 34); // far fewer pongs than pings
  });
});

describe('the receive queue is bounded in bytes', () => {
  it('stops reading once maxQueuedBytes are queued unread, and resumes when they are consumed', async () => {
    const { wss, conns } = await server({ echo: false, maxQueuedBytes: 1024 * 1024, maxQueuedMessages: 10_000 });
    const client = await nonReader(wss.address().port);
    client.resume();
    const payload = randomBytes(64 * 1024);
    const sent = await sendUntilBlocked(client.socket, 512, () => clientFrame(Op.BINARY, payload));
    const conn = conns[0]!;
    await expect.poll(() => conn.socket.isPaused(), { timeout: 10_000 }).toBe(true);
    // Consuming the queue resumes reading; every message arrives.
    let got = 0;
    await withTimeout(
      (async () => {
        while (got < sent) {
          const message = (await conn.recv()) as Buffer;
          expect(message.equals(payload)).toBe(true);
          got++;
        }
      })(),
      20_000,
      'every queued message',
    );
    expect(got).toBe(sent);
  });
});

describe('dropping remains for the application that keeps sending', () => {
  it('a peer that does not read while the application sends past maxBufferedAmount is dropped with 1008', async () => {
    const { wss, conns } = await server({ echo: false, maxBufferedAmount: 1024 * 1024 });
    const client = await nonReader(wss.address().port);
    await expect.poll(() => conns.length).toBe(1);
    const conn = conns[0]!;
    const chunk = randomBytes(64 * 1024);
    const errors: Error[] = [];
    conn.on('error', (error) => errors.push(error));
    for (let i = 0; i < 1024 && conn.readyState === 1; i++) void conn.send(chunk).catch(() => {});
    await withTimeout(conn.whenClosed(), 10_000, 'the drop');
    expect(errors.some((error) => (error as { code?: string }).code === 'FD_ERR_BUFFER_LIMIT')).toBe(true);
    client.socket.destroy();
  });
});
