/**
 * Every zlib handle is released when its connection ends: 10,000 compressed connections (our
 * client and server, 200 at a time) each send and receive one compressed message with context
 * takeover — so both sides create their own deflate and inflate contexts — and close. Afterwards
 * the live handle count is back where it started, and RSS from the 2,000th connection to the
 * 10,000th grows by less than any leaked zlib context per connection would cost (the bound is
 * loose on purpose: the GC decides when memory returns).
 */
import { expect, it } from 'vitest';
import { connect, serve, type WebSocketConnection } from '../src/index.js';
import { liveZlibHandles } from '../src/extensions/index.js';

const TOTAL = 10_000;
const CONCURRENCY = 200;

it(`opens and closes ${TOTAL} compressed connections: zero live zlib handles afterwards, RSS flat-ish`, async () => {
  const open = new Set<WebSocketConnection>();
  let drained: (() => void) | null = null;
  const server = await serve(
    async (ws) => {
      open.add(ws);
      void ws.whenClosed().then(() => {
        open.delete(ws);
        if (open.size === 0) drained?.();
      });
      for await (const message of ws) await ws.send(message);
    },
    { pingInterval: 0, perMessageDeflate: true },
  );
  const baseline = liveZlibHandles();
  const message = JSON.stringify({ kind: 'event', items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `name-${i}` })) });
  const clientOptions = { pingInterval: 0 };
  let next = 0;
  let peak = 0;
  const rss: number[] = [];
  const worker = async (): Promise<void> => {
    while (next < TOTAL) {
      const n = next++;
      const ws = await connect(server.url, clientOptions);
      if (ws.extensions === '') throw new Error('deflate not negotiated');
      await ws.send(message);
      if ((await ws.recv()) !== message) throw new Error('bad echo');
      peak = Math.max(peak, liveZlibHandles());
      await ws.close();
      if (n === 1999) rss.push(process.memoryUsage().rss);
    }
  };
  const started = process.memoryUsage().rss;
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (open.size > 0) await new Promise<void>((resolve) => (drained = resolve));
  rss.push(process.memoryUsage().rss);
  await server.close();
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `churn: ${TOTAL} compressed connections; live zlib handles baseline ${baseline}, peak ${peak}, after ${liveZlibHandles()}; ` +
      `RSS start ${mib(started)}, after 2k ${mib(rss[0]!)}, after 10k ${mib(rss[1]!)}`,
  );
  expect(peak).toBeGreaterThan(baseline);
  expect(liveZlibHandles()).toBe(baseline);
  // RSS stays flat once warm: the last 8,000 connections may not add 8 KiB each. A leaked zlib
  // context per connection (an inflater is >= 12 KiB, a deflater >= 74 KiB, on both sides) would
  // add at least 8,000 x 2 x 12 KiB = 188 MiB.
  expect(rss[1]! - rss[0]!).toBeLessThan(8000 * 8 * 1024);
}, 180_000);
