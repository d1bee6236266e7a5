/**
 * The server suite (sections H, 1–7, 10, M) against fullduplex's server and against `ws`, the
 * reference: both must come out with no FAILED. fullduplex must also have no NON-STRICT; `ws`
 * has exactly the NON-STRICT cases it has in Autobahn's own reports (6.4.x: it checks UTF-8 once
 * a message is complete instead of failing fast).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from '../src/server/server.js';
import { runServerSuite } from '../src/conformance/server-runner.js';
import type { RunReport } from '../src/conformance/types.js';
import { startWsServer, stopWsServer, type WsServer } from './helpers/ws.js';

const SECTIONS = 'H,1,2,3,4,5,6,7,10,M';

function ids(report: RunReport, verdict: string): string[] {
  return report.results.filter((r) => r.verdict === verdict).map((r) => r.id);
}

function failures(report: RunReport): string[] {
  return report.results.filter((r) => r.verdict === 'FAILED').map((r) => `${r.id}: ${r.reason}`);
}

describe('server suite against fullduplex', () => {
  let server: WebSocketServer;
  let report: RunReport;
  beforeAll(async () => {
    server = new WebSocketServer(undefined, { port: 0, pingInterval: 0 });
    server.on('connection', (ws) => ws.on('message', (data) => void ws.send(data).catch(() => {})));
    await server.listen();
    report = await runServerSuite(server.url, { cases: SECTIONS });
  }, 60_000);
  afterAll(() => server.close());

  it('runs every case of the selected sections', () => {
    expect(report.results.length).toBe(266);
    const sections = new Set(report.results.map((r) => r.id.split('.')[0]));
    expect([...sections]).toEqual(['H', '1', '2', '3', '4', '5', '6', '7', '10', 'M']);
  });

  it('has no FAILED case', () => {
    expect(failures(report)).toEqual([]);
  });

  it('has no NON-STRICT case: UTF-8 fails fast, even inside a frame (6.4.3, 6.4.4)', () => {
    expect(ids(report, 'NON-STRICT')).toEqual([]);
  });

  it('has INFORMATIONAL only where Autobahn has it', () => {
    expect(ids(report, 'INFORMATIONAL')).toEqual(['7.1.6', '7.13.1', '7.13.2']);
  });
});

describe('server suite against ws', () => {
  let wss: WsServer;
  let report: RunReport;
  beforeAll(async () => {
    const started = await startWsServer();
    wss = started.wss;
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    });
    report = await runServerSuite(started.url, { cases: SECTIONS });
  }, 60_000);
  afterAll(() => stopWsServer(wss));

  it('has no FAILED case', () => {
    expect(failures(report)).toEqual([]);
  });

  it('is NON-STRICT exactly where ws is lenient: UTF-8 checked per message (6.4.x), HTTP/1.0 upgrades accepted (H.15)', () => {
    expect(ids(report, 'NON-STRICT')).toEqual(['H.15', '6.4.1', '6.4.2', '6.4.3', '6.4.4']);
  });

  it('answers a wrong version with 400 and the versions it speaks (H.8), which §4.4 allows', () => {
    const h8 = report.results.find((r) => r.id === 'H.8')!;
    expect(h8.verdict).toBe('OK');
    expect(h8.reason).toMatch(/400/);
  });
});
