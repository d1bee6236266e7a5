/**
 * The suite's permessage-deflate sections (12, 13) against fullduplex as server and as client:
 * 0 FAILED, 0 NON-STRICT, 0 UNIMPLEMENTED. `npm test` runs a subset of 12.x/13.1–13.7 (one size
 * per payload kind and per parameter set, fragmented and not) plus every extra case
 * (13.8–13.11); `npm run conformance` runs them all.
 */
import { describe, expect, it } from 'vitest';
import { runAgent } from '../src/conformance/agent.js';
import { FuzzingServer } from '../src/conformance/fuzzing-server.js';
import { runServerSuite } from '../src/conformance/server-runner.js';
import type { RunReport } from '../src/conformance/types.js';
import { WebSocketServer } from '../src/server/server.js';

/**
 * Subcases 1 (16 B), 4 (1 KiB) and 12 (16 KiB in 256-byte fragments) of each payload kind (12.x);
 * 1 and 12 of each parameter set (13.1–13.7); the extras whole.
 */
function cases(): string {
  const ids: string[] = [];
  for (let k = 1; k <= 5; k++) for (const n of [1, 4, 12]) ids.push(`12.${k}.${n}`);
  for (let s = 1; s <= 7; s++) for (const n of [1, 12]) ids.push(`13.${s}.${n}`);
  return [...ids, '13.8', '13.9', '13.10', '13.11'].join(',');
}

function verdicts(report: RunReport, verdict: string): string[] {
  return report.results.filter((r) => r.verdict === verdict).map((r) => `${r.id}: ${r.reason}`);
}

function counts(report: RunReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of report.results) out[r.verdict] = (out[r.verdict] ?? 0) + 1;
  return out;
}

describe('permessage-deflate conformance, fullduplex as server', () => {
  it('12.x/13.x subset and 13.8–13.9: none FAILED, NON-STRICT or UNIMPLEMENTED', async () => {
    const server = new WebSocketServer(undefined, { port: 0, pingInterval: 0, perMessageDeflate: true });
    server.on('connection', (ws) => ws.on('message', (data) => void ws.send(data).catch(() => {})));
    await server.listen();
    try {
      const report = await runServerSuite(server.url, { cases: cases() });
      console.log('server', counts(report));
      expect(report.results.length).toBe(15 + 14 + 9 + 8);
      expect(verdicts(report, 'FAILED')).toEqual([]);
      expect(verdicts(report, 'NON-STRICT')).toEqual([]);
      expect(verdicts(report, 'UNIMPLEMENTED')).toEqual([]);
    } finally {
      await server.close();
    }
  }, 120_000);
});

describe('permessage-deflate conformance, fullduplex as client', () => {
  it('12.x/13.x subset and 13.9–13.11: none FAILED, NON-STRICT or UNIMPLEMENTED', async () => {
    const fuzzing = new FuzzingServer({ port: 0, cases: cases() });
    try {
      const url = await fuzzing.listen();
      const report = fuzzing.waitForReport();
      await runAgent(url, { agent: 'fullduplex' });
      const done = await report;
      console.log('client', counts(done));
      expect(done.results.length).toBe(15 + 14 + 8 + 10 + 8);
      expect(verdicts(done, 'FAILED')).toEqual([]);
      expect(verdicts(done, 'NON-STRICT')).toEqual([]);
      expect(verdicts(done, 'UNIMPLEMENTED')).toEqual([]);
    } finally {
      await fuzzing.close();
    }
  }, 120_000);
});
