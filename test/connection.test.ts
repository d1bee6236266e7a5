/**
 * WebSocketConnection behaviours not covered by the interop suites: sends nobody awaits must never
 * become unhandled rejections (they would kill a server under Node's default settings).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, serve, type WebSocketConnection, type WebSocketServer } from '../src/index.js';

let server: WebSocketServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('sends nobody awaits', () => {
  it('do not raise unhandled rejections after the peer went away', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let serverSide!: WebSocketConnection;
      const accepted = new Promise<void>((resolve) => {
        void serve(
          (ws) => {
            serverSide = ws;
            resolve();
          },
          { port: 0, sendHighWaterMark: 16 },
        ).then((s) => {
          server = s;
          void connect(s.url).then((client) => client.terminate());
        });
      });
      await accepted;
      await serverSide.whenClosed();
      // Fire-and-forget, ws style: each returns a rejected promise nobody handles.
      void serverSide.send('late');
      void serverSide.send(Buffer.alloc(100));
      void serverSide.ping();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      await expect(serverSide.send('awaited')).rejects.toMatchObject({ name: 'ConnectionClosedError', code: 1006 });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('pending sends above the high-water mark reject, handled, when the connection drops', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      server = await serve(() => {}, { port: 0 });
      const client = await connect(server.url, { sendHighWaterMark: 1024 });
      // The server never reads what it does not consume... but the kernel does; make the
      // client's own buffer exceed its high-water mark, then drop the socket.
      const pending = [client.send(Buffer.alloc(1 << 20)), client.send(Buffer.alloc(1 << 20))];
      client.terminate();
      await client.whenClosed();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      const outcomes = await Promise.allSettled(pending);
      expect(outcomes.every((o) => o.status === 'fulfilled' || (o.reason as Error).name === 'ConnectionClosedError')).toBe(true);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
