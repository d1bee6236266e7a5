/**
 * The client suite (sections 1–7, 10, M) through the fuzzing server: fullduplex's own agent and
 * an agent on `ws`'s client must come out with no FAILED; fullduplex also with no NON-STRICT.
 */
import { describe, expect, it } from 'vitest';
import { runAgent } from '../src/conformance/agent.js';
import { FuzzingServer } from '../src/conformance/fuzzing-server.js';
import type { RunReport } from '../src/conformance/types.js';
import { runWsAgent } from './fixtures/conformance/ws-agent.js';

const SECTIONS = '1,2,3,4,5,6,7,10,M';

async function runClientSuite(agent: (url: string) => Promise<unknown>): Promise<RunReport> {
  const server = new FuzzingServer({ port: 0, cases: SECTIONS });
  try {
    const url = await server.listen();
    const report = server.waitForReport();
    await agent(url);
    return await report;
  } finally {
    await server.close();
  }
}

function verdicts(report: RunReport, verdict: string): string[] {
  return report.results.filter((r) => r.verdict === verdict).map((r) => (verdict === 'FAILED' ? `${r.id}: ${r.reason}` : r.id));
}

describe('client suite', () => {
  it('fullduplex agent: every case runs, none FAILED, none NON-STRICT', async () => {
    const report = await runClientSuite((url) => runAgent(url, { agent: 'fullduplex' }));
    expect(report.target).toBe('fullduplex');
    expect(report.results.length).toBe(251);
    expect(verdicts(report, 'FAILED')).toEqual([]);
    expect(verdicts(report, 'NON-STRICT')).toEqual([]);
    expect(verdicts(report, 'INFORMATIONAL')).toEqual(['7.1.6', '7.13.1', '7.13.2']);
  }, 60_000);

  it('ws agent: none FAILED; NON-STRICT only on fail-fast UTF-8 (6.4.x)', async () => {
    const report = await runClientSuite((url) => runWsAgent(url, 'ws'));
    expect(report.results.length).toBe(251);
    expect(verdicts(report, 'FAILED')).toEqual([]);
    expect(verdicts(report, 'NON-STRICT')).toEqual(['6.4.1', '6.4.2', '6.4.3', '6.4.4']);
  }, 60_000);

  it('answers getCaseInfo and getCaseStatus as Autobahn does', async () => {
    const { connect } = await import('../src/client/connect.js');
    const server = new FuzzingServer({ port: 0, cases: '2.1' });
    try {
      const url = await server.listen();
      const ask = async (path: string): Promise<string> => {
        const ws = await connect(`${url}${path}`, { pingInterval: 0 });
        const text = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
        await ws.whenClosed();
        return text;
      };
      expect(await ask('/getCaseCount')).toBe('1');
      expect(JSON.parse(await ask('/getCaseInfo?case=1'))).toMatchObject({ id: '2.1' });
      expect(JSON.parse(await ask('/getCaseStatus?case=1&agent=x'))).toEqual({ behavior: 'UNKNOWN' });
      await runAgent(url, { agent: 'x' });
      expect(JSON.parse(await ask('/getCaseStatus?case=1&agent=x'))).toEqual({ behavior: 'OK' });
    } finally {
      await server.close();
    }
  });
});
