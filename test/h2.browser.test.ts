/**
 * Chromium speaks RFC 8441 to us: the counter page (example 6) served over HTTPS with HTTP/2 by
 * a `node:http2` secure server (ALPN h2 + http/1.1) carrying our WebSocketServer
 * (`attachHttp2` + `attach`, as `npm start` does). The page's socket must arrive as an extended
 * CONNECT stream on the very HTTP/2 connection that served the page — not as an HTTP/1.1
 * upgrade — and the counter must work through it.
 *
 * Debian's /usr/bin/chromium only (FULLDUPLEX_CHROMIUM overrides), skipped with a notice without
 * it (failing in CI); certificate by openssl (test/helpers/peers.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Counter, servePage } from '../examples/06-counter/counter.js';
import { Http2StreamTransport } from '../src/io/http2-transport.js';
import { WebSocketServer, type WebSocketConnection } from '../src/index.js';
import { chromiumCommand, describeWithPeer, peer } from './helpers/peers.js';

const CHROMIUM = chromiumCommand();

describeWithPeer('chromium', `counter page over HTTPS + HTTP/2 in Chromium (${CHROMIUM})`, () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    if (!peer('openssl').available) throw new Error('openssl is needed for the certificate (apt-get install openssl)');
    dir = mkdtempSync(join(tmpdir(), 'fullduplex-h2-browser-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the page and its WebSocket share one HTTP/2 connection; the socket is an extended CONNECT; the counter works', async () => {
    const counter = new Counter();
    const https = createSecureServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), allowHTTP1: true, settings: { enableConnectProtocol: true } },
      (req: Http2ServerRequest, res: Http2ServerResponse) => servePage(req as never, res as never),
    );
    // Which HTTP/2 connection served the page, and how each socket arrived.
    const pageSessions: ServerHttp2Session[] = [];
    https.on('stream', (stream, headers) => {
      if (headers[':method'] === 'GET' && headers[':path'] === '/') pageSessions.push(stream.session as ServerHttp2Session);
    });
    const sessions = new Set<ServerHttp2Session>();
    https.on('session', (session: ServerHttp2Session) => sessions.add(session));
    const arrivals: Array<{ method: string; http2: boolean; session: unknown; alpn: unknown }> = [];
    const wss: WebSocketServer = new WebSocketServer((ws) => counter.handle(ws, wss), { pingInterval: 0, path: '/ws' });
    wss.attachHttp2(https).attach(https as never);
    wss.on('connection', (ws: WebSocketConnection) => {
      const transport = ws.socket;
      const http2 = transport instanceof Http2StreamTransport;
      arrivals.push({
        method: (ws.request as { method?: string }).method ?? '',
        http2,
        session: http2 ? transport.stream.session : null,
        alpn: http2 ? (transport.stream.session?.socket as { alpnProtocol?: string } | undefined)?.alpnProtocol : null,
      });
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const port = (https.address() as { port: number }).port;
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      const response = await page.goto(`https://localhost:${port}/`);
      expect(await response?.headerValue(':status').catch(() => null) ?? response?.status()).toBe(200);
      await expect.poll(() => page.textContent('.value')).toBe('0');
      await expect.poll(() => page.textContent('.users')).toBe('1 user');
      await page.click('.plus');
      await expect.poll(() => page.textContent('.value')).toBe('1');
      expect(counter.value).toBe(1);
      expect(errors).toEqual([]);

      expect(arrivals).toHaveLength(1);
      expect(arrivals[0]).toMatchObject({ method: 'CONNECT', http2: true, alpn: 'h2' });
      expect(pageSessions.length).toBeGreaterThan(0);
      expect(arrivals[0]!.session).toBe(pageSessions[0]);
      // Chromium reports the protocol it used for the page.
      expect(await page.evaluate('performance.getEntriesByType("navigation")[0].nextHopProtocol')).toBe('h2');
    } finally {
      await context.close();
      await wss.close();
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => https.close(resolve));
    }
  });
});
