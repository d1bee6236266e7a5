/**
 * The server suite over HTTP/2 (RFC 8441 extended CONNECT, one HTTP/2 connection per case, see
 * src/conformance/h2-connection.ts) against fullduplex's server, over h2c and over TLS with a
 * self-signed certificate: sections 1–7, part of 9, 10 and M must come out as over HTTP/1.1
 * (test/conformance.server.test.ts): no FAILED, no NON-STRICT, INFORMATIONAL only on 7.1.6 and
 * 7.13.x. Also the handshake checks of the HTTP/2 path (no ENABLE_CONNECT_PROTOCOL, a refusal, an
 * untrusted certificate) and the `--http2` flag.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createH2cServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConformanceCli } from '../src/conformance/cli.js';
import { openHttp2Connection } from '../src/conformance/h2-connection.js';
import { listCases, testServer } from '../src/conformance/index.js';
import { runServerSuite } from '../src/conformance/server-runner.js';
import type { RunReport } from '../src/conformance/types.js';
import { WebSocketServer, type ServerOptions } from '../src/server/server.js';
import { describeWithPeer } from './helpers/peers.js';

/**
 * Sections 1–7, 10 and M whole; of section 9 the quick cases: text and binary messages up to
 * 256 KiB (9.1.1–9.1.3, 9.2.1–9.2.3, which cross HTTP/2's 64 KiB flow-control windows) and 1000
 * round-trips of small messages (9.7.1, 9.8.1). The whole suite runs by hand in about 40 s.
 */
const SECTIONS = '1,2,3,4,5,6,7,9.1.1,9.1.2,9.1.3,9.2.1,9.2.2,9.2.3,9.7.1,9.8.1,10,M';

function ids(report: RunReport, verdict: string): string[] {
  return report.results.filter((r) => r.verdict === verdict).map((r) => r.id);
}

function failures(report: RunReport): string[] {
  return report.results.filter((r) => r.verdict === 'FAILED').map((r) => `${r.id}: ${r.reason}`);
}

async function echoServer(options: ServerOptions): Promise<WebSocketServer> {
  const server = new WebSocketServer(undefined, { port: 0, pingInterval: 0, ...options });
  server.on('connection', (ws) => ws.on('message', (data) => void ws.send(data).catch(() => {})));
  await server.listen();
  return server;
}

/** The assertions both transports share: the HTTP/1.1 verdicts, section H left out. */
function expectLikeHttp1(report: () => RunReport): void {
  it('runs every selected case but section H', () => {
    const expected = listCases('server', { cases: SECTIONS }).map((c) => c.id);
    expect(report().results.map((r) => r.id)).toEqual(expected);
    expect(expected.some((id) => id.startsWith('H.'))).toBe(false);
  });

  it('has no FAILED case', () => {
    expect(failures(report())).toEqual([]);
  });

  it('has no NON-STRICT case', () => {
    expect(ids(report(), 'NON-STRICT')).toEqual([]);
  });

  it('has INFORMATIONAL exactly where it has over HTTP/1.1, all else OK', () => {
    expect(ids(report(), 'INFORMATIONAL')).toEqual(['7.1.6', '7.13.1', '7.13.2']);
    expect(ids(report(), 'OK').length).toBe(report().results.length - 3);
  });
}

describe('server suite over HTTP/2 cleartext (h2c)', () => {
  let server: WebSocketServer;
  let report: RunReport;
  beforeAll(async () => {
    server = await echoServer({ h2c: true });
    report = await runServerSuite(server.url.replace(/^ws:/, 'http:'), { cases: SECTIONS, http2: true });
  }, 90_000);
  afterAll(() => server.close());

  expectLikeHttp1(() => report);

  it('closes cleanly: the server ends its stream after the closing handshake, as it would close TCP', () => {
    const r = report.results.find((x) => x.id === '1.1.1')!;
    const log = r.log.map((l) => l.text);
    expect(log.slice(0, 3)).toEqual(['HTTP/2 CONNECT :protocol websocket /', 'SETTINGS with ENABLE_CONNECT_PROTOCOL=1', 'HTTP/2 :status 200']);
    expect(log.some((t) => t.startsWith('suite drops'))).toBe(false);
    expect(r.closedBy).toBe('suite');
  });
});

describeWithPeer('openssl', 'server suite over HTTP/2 with TLS (ALPN h2, self-signed certificate)', () => {
  let dir: string;
  let cert: Buffer;
  let server: WebSocketServer;
  let report: RunReport;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fullduplex-conformance-h2-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'));
    server = await echoServer({ http2: true, tls: { cert, key: readFileSync(join(dir, 'key.pem')) } });
    report = await testServer(server.url, { cases: SECTIONS, http2: true, ca: cert });
  }, 90_000);
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  expectLikeHttp1(() => report);

  it('verifies the certificate unless told not to: untrusted fails every case, --insecure passes', async () => {
    const untrusted = await testServer(server.url, { cases: '1.1.1', http2: true });
    expect(untrusted.results[0]!.verdict).toBe('FAILED');
    expect(untrusted.results[0]!.reason).toMatch(/HTTP\/2 connection failed: .*(SELF_SIGNED|CERT)/);
    const insecure = await testServer(server.url.replace(/^wss:/, 'https:'), { cases: '1.1.1', http2: true, insecure: true });
    expect(insecure.results[0]!.verdict).toBe('OK');
  });
});

describe('HTTP/2 opening handshake of the suite', () => {
  let plain: Http2Server;
  let url: URL;
  beforeAll(async () => {
    // An h2c server that does not send SETTINGS_ENABLE_CONNECT_PROTOCOL.
    plain = createH2cServer();
    plain.on('stream', (stream) => stream.respond({ ':status': 404 }, { endStream: true }));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/`);
  });
  afterAll(() => new Promise<void>((resolve) => plain.close(() => resolve())));

  it('refuses a server without SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)', async () => {
    await expect(openHttp2Connection(url, undefined, 2000)).rejects.toThrow(/SETTINGS_ENABLE_CONNECT_PROTOCOL/);
  });

  it('fails a case on a non-2xx :status, and on a path the server refuses', async () => {
    const server = await echoServer({ h2c: true, path: '/echo' });
    try {
      const report = await runServerSuite(server.url.replace(/\/$/, '/elsewhere'), { cases: '1.1.1', http2: true });
      expect(report.results[0]!.verdict).toBe('FAILED');
      expect(report.results[0]!.reason).toMatch(/:status 404/);
    } finally {
      await server.close();
    }
  });

  it('offers permessage-deflate when a case does, and reads the answer', async () => {
    const server = await echoServer({ h2c: true, perMessageDeflate: true });
    try {
      const opened = await openHttp2Connection(new URL(server.url), [{ client_max_window_bits: true }], 2000);
      expect(opened.deflate).not.toBeNull();
      expect(opened.log.some((l) => l.text.startsWith('sec-websocket-extensions: permessage-deflate'))).toBe(true);
      opened.deflate!.close();
      opened.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it('`conformance server <url> --http2` runs the cases over HTTP/2; --insecure needs --http2', async () => {
    const server = await echoServer({ h2c: true });
    try {
      expect(await runConformanceCli(['server', server.url.replace(/^ws:/, 'http:'), '--http2', '--cases', '1.1.1,2.1'])).toBe(0);
      await expect(runConformanceCli(['server', server.url, '--insecure', '--cases', '1.1.1'])).rejects.toThrow(/with --http2 only/);
    } finally {
      await server.close();
    }
  });

  it('rejects unknown schemes with --http2, and ws:// stays the only scheme without it', async () => {
    await expect(runServerSuite('ftp://127.0.0.1:1/', { http2: true, cases: '1.1.1' })).rejects.toThrow(/http:\/\/, https:\/\/, ws:\/\/ or wss:\/\//);
    await expect(runServerSuite('https://127.0.0.1:1/', { cases: '1.1.1' })).rejects.toThrow(/needs a ws:\/\/ URL/);
  });
});
