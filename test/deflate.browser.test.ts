/**
 * permessage-deflate with a real browser: the synced counter (example 6) served in-process with
 * `perMessageDeflate: true`, opened in Debian's Chromium (playwright-core, never a downloaded
 * browser). Asserts the extension was negotiated on every connection, both from the server side
 * (`ws.extensions`) and from the page (`WebSocket.prototype.extensions`), and that the counter
 * stays in sync across tabs — its state events are publishes, so compress-once is what Chromium
 * inflates here.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { WebSocketServer } from '../src/index.js';
import { Counter, servePage } from '../examples/06-counter/counter.js';
import { chromiumCommand, describeWithPeer } from './helpers/peers.js';

const CHROMIUM = chromiumCommand();
const EXPECTED = 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12';

describeWithPeer(
  'chromium',
  `permessage-deflate with Chromium (${CHROMIUM})`,
  () => {
    let browser: Browser;
    let http: Server;
    let wss: WebSocketServer;
    let url: string;
    const negotiated: string[] = [];

    beforeAll(async () => {
      const counter = new Counter();
      http = createServer(servePage);
      wss = new WebSocketServer(
        (ws) => {
          negotiated.push(ws.extensions);
          return counter.handle(ws, wss);
        },
        { perMessageDeflate: true, pingInterval: 0 },
      ).attach(http, { path: '/ws' });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(http.address() as { port: number }).port}/`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await wss?.close();
      http?.closeAllConnections();
      await new Promise((resolve) => http?.close(resolve));
    });

    it('the counter syncs across two tabs over compressed connections; Chromium reports the extension', async () => {
      const context = await browser.newContext();
      try {
        const first = await context.newPage();
        const second = await context.newPage();
        const errors: string[] = [];
        for (const page of [first, second]) page.on('pageerror', (error) => errors.push(error.message));
        await first.goto(url);
        await second.goto(url);
        await expect.poll(() => first.textContent('.users')).toBe('2 users');
        await first.click('.plus');
        await first.click('.plus');
        await second.click('.minus');
        await expect.poll(() => first.textContent('.value')).toBe('1');
        await expect.poll(() => second.textContent('.value')).toBe('1');
        expect(negotiated).toEqual([EXPECTED, EXPECTED]);

        // From the page: a WebSocket of its own sees the same extension and inflates the server's
        // first (compressed) message.
        const fromPage = await first.evaluate(
          (wsUrl) =>
            new Promise<{ extensions: string; first: string }>((resolve, reject) => {
              const socket = new WebSocket(wsUrl);
              socket.onerror = () => reject(new Error('socket error'));
              socket.onmessage = (event) => {
                resolve({ extensions: socket.extensions, first: String(event.data) });
                socket.close();
              };
            }),
          url.replace('http:', 'ws:') + 'ws',
        );
        expect(fromPage.extensions).toBe(EXPECTED);
        expect(JSON.parse(fromPage.first)).toBeTypeOf('object');
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    });
  },
);
