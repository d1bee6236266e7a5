/**
 * `fullduplex/conformance` called from code: the server suite against fullduplex's server, the
 * client suite against fullduplex's agent, results checked as data. Small case selections, so it
 * stays quick; the full sections run in conformance.server/client.test.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from '../src/server/server.js';
import { runAgent } from '../src/conformance/agent.js';
import { listCases, startClientSuite, testClient, testServer, VERDICTS, type CaseResult, type RunReport } from '../src/conformance/index.js';
import { cleanupAfterEach } from './helpers/async.js';

const defer = cleanupAfterEach();

describe('testServer', () => {
  let server: WebSocketServer;
  beforeAll(async () => {
    server = new WebSocketServer(undefined, { port: 0, pingInterval: 0 });
    server.on('connection', (ws) => ws.on('message', (data) => void ws.send(data).catch(() => {})));
    await server.listen();
  });
  afterAll(() => server.close());

  it('returns typed results for the selected cases, in order, and calls back per case', async () => {
    const started: string[] = [];
    const seen: CaseResult[] = [];
    const report = await testServer(server.url, {
      cases: ['2', '7.9.1', 'H.8'],
      exclude: '2.10,2.11',
      caseTimeout: 5000,
      onCaseStart: (c, i, n) => started.push(`${c.id} ${i + 1}/${n}`),
      onResult: (r) => seen.push(r),
    });
    const ids = ['H.8', '2.1', '2.2', '2.3', '2.4', '2.5', '2.6', '2.7', '2.8', '2.9', '7.9.1'];
    expect(report.mode).toBe('server');
    expect(report.target).toBe(server.url);
    expect(report.results.map((r) => r.id)).toEqual(ids);
    expect(started).toEqual(ids.map((id, i) => `${id} ${i + 1}/${ids.length}`));
    expect(seen).toEqual(report.results);
    expect(report.results.filter((r) => r.verdict !== 'OK').map((r) => `${r.id}: ${r.reason}`)).toEqual([]);
    for (const r of report.results) {
      expect(VERDICTS).toContain(r.verdict);
      expect(typeof r.description).toBe('string');
      expect(r.description.length).toBeGreaterThan(0);
      expect(typeof r.reason).toBe('string');
      expect(Number.isInteger(r.duration) && r.duration >= 0).toBe(true);
    }
    expect(report.results.find((r) => r.id === '2.2')).toMatchObject({
      description: expect.stringMatching(/ping/i),
      reason: 'Actual events match the expected ones. Target closed with 1000.',
      remoteCloseCode: 1000,
      closedBy: 'suite',
    });
    expect(report.results.find((r) => r.id === '7.9.1')?.remoteCloseCode).toBe(1002);
  });

  it('writes the report only when asked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fd-conformance-api-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const report = await testServer(server.url, { cases: '1.1.1', report: dir });
    const json = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as RunReport;
    expect(json.results.map((r) => `${r.id} ${r.verdict} ${r.reason}`)).toEqual([`1.1.1 OK ${report.results[0]!.reason}`]);
    expect(report.results[0]!.verdict).toBe('OK');
    expect(json.results[0]!.reason).toBe(report.results[0]!.reason);
    expect(await readFile(join(dir, 'index.html'), 'utf8')).toContain('1.1.1');
  });

  it('rejects a selection that matches nothing, and a non-ws URL', async () => {
    await expect(testServer(server.url, { cases: '99' })).rejects.toThrow(/no case matches/);
    await expect(testServer('https://127.0.0.1:1/', { cases: '1.1.1' })).rejects.toThrow(/ws:\/\//);
  });
});

describe('listCases', () => {
  it('uses the CLI selection syntax', () => {
    expect(listCases('server', { cases: '2', exclude: ['2.10', '2.11'] }).map((c) => c.id)).toEqual(['2.1', '2.2', '2.3', '2.4', '2.5', '2.6', '2.7', '2.8', '2.9']);
    expect(listCases('server', { cases: 'h.1' })[0]).toMatchObject({ id: 'H.1', description: expect.any(String), expectation: expect.any(String) });
    expect(listCases('client', { cases: 'H' })).toEqual([]);
  });
});

describe('client suite', () => {
  it('testClient: runs fullduplex\'s agent and returns its verdicts', { timeout: 30_000 }, async () => {
    const urls: string[] = [];
    const report = await testClient(
      (url, agent) => {
        urls.push(url);
        return runAgent(url, { agent });
      },
      { cases: '1.1.1,2.1,5.6,7.3.1', agent: 'api-test', closeTimeout: 500 },
    );
    expect(urls[0]).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(report.mode).toBe('client');
    expect(report.target).toBe('api-test');
    expect(report.results.map((r) => `${r.id} ${r.verdict === 'OK' ? 'OK' : `${r.verdict}: ${r.reason}`}`)).toEqual(['1.1.1 OK', '2.1 OK', '5.6 OK', '7.3.1 OK']);
  });

  it('testClient: rejects when the client never asks for its report', async () => {
    await expect(testClient(async () => {}, { cases: '1.1.1', reportTimeout: 200 })).rejects.toThrow(/updateReports\?agent=client/);
  });

  it('startClientSuite: a fuzzing server for a client started elsewhere', async () => {
    const suite = await startClientSuite({ cases: '2.1,2.2' });
    defer(() => suite.close());
    expect(suite.cases.map((c) => c.id)).toEqual(['2.1', '2.2']);
    const report = suite.nextReport('elsewhere');
    await runAgent(suite.url, { agent: 'elsewhere' });
    expect((await report).results.map((r) => r.verdict)).toEqual(['OK', 'OK']);
  });
});
