/**
 * The suite catches bugs: deliberately broken servers and clients (test/fixtures/conformance/
 * broken.ts), each breaking one rule, are FAILED on exactly the cases that rule decides, and on
 * nothing else of the sections run alongside. The unbroken fixture passes, so every FAILED below
 * is the breakage's doing.
 */
import { describe, expect, it } from 'vitest';
import { allCases } from '../src/conformance/cases/index.js';
import { FuzzingServer } from '../src/conformance/fuzzing-server.js';
import { runServerSuite } from '../src/conformance/server-runner.js';
import type { RunReport } from '../src/conformance/types.js';
import { runBrokenClient, startBrokenServer, type Breakage } from './fixtures/conformance/broken.js';

/** Ids matching a pattern list, in suite order. */
function idsOf(patterns: string, role: 'server' | 'client'): string[] {
  return allCases()
    .filter((c) => (role === 'server' || c.kind !== 'handshake') && patterns.split(',').some((p) => c.id === p || c.id.startsWith(`${p}.`)))
    .map((c) => c.id);
}

/** 6.x cases whose payload is not valid UTF-8 (the target must fail them). */
const INVALID_UTF8 = allCases()
  .filter((c) => c.id.startsWith('6.') && /failed/i.test(c.expectation))
  .map((c) => c.id);

function failed(report: RunReport): string[] {
  return report.results.filter((r) => r.verdict === 'FAILED').map((r) => r.id);
}

async function againstServer(breakage: Breakage, cases: string): Promise<RunReport> {
  const server = await startBrokenServer(breakage);
  try {
    return await runServerSuite(server.url, { cases, closeTimeout: 300 });
  } finally {
    await server.stop();
  }
}

async function againstClient(breakage: Breakage, cases: string): Promise<RunReport> {
  const server = new FuzzingServer({ port: 0, cases, closeTimeout: 300 });
  try {
    const url = await server.listen();
    const report = server.waitForReport();
    await runBrokenClient(url, breakage);
    return await report;
  } finally {
    await server.close();
  }
}

/** Sections run next to the one under test, to show nothing unrelated fails. */
const CONTROL = '1.1.1,1.2.8,2,5.3,5.6,5.19,7.1,7.3,10';

describe('broken servers', () => {
  it('an unbroken server passes (control)', async () => {
    const report = await againstServer({}, `H,${CONTROL},3,6.3,6.4,7.9,M`);
    expect(failed(report)).toEqual([]);
  });

  it('ignoring RSV bits fails exactly 3.x', async () => {
    expect(failed(await againstServer({ ignoreRsv: true }, `${CONTROL},3,4`))).toEqual(idsOf('3', 'server'));
  });

  it('skipping UTF-8 validation fails exactly the invalid-UTF-8 cases of 6.x', { timeout: 60_000 }, async () => {
    expect(INVALID_UTF8.length).toBeGreaterThan(70);
    expect(failed(await againstServer({ skipUtf8: true }, `${CONTROL},6`))).toEqual(INVALID_UTF8);
  });

  it('accepting unmasked client frames fails exactly M.x', async () => {
    expect(failed(await againstServer({ wrongMaskAccepted: true }, `${CONTROL},M`))).toEqual(idsOf('M', 'server'));
  });

  it('echoing invalid close codes fails exactly 7.9.x (7.13.x stays INFORMATIONAL)', async () => {
    const report = await againstServer({ echoInvalidCloseCodes: true }, `${CONTROL},7`);
    expect(failed(report)).toEqual(idsOf('7.9', 'server'));
    expect(report.results.find((r) => r.id === '7.13.1')?.verdict).toBe('INFORMATIONAL');
  });

  it('never closing TCP fails every case that reaches a close, and no handshake case', async () => {
    const cases = 'H.1,H.8,1.1.1,2.1,3.1,6.3.1,7.1.1,7.3.1';
    const report = await againstServer({ neverCloseTcp: true }, cases);
    expect(failed(report)).toEqual(['1.1.1', '2.1', '3.1', '6.3.1', '7.1.1', '7.3.1']);
    expect(report.results.find((r) => r.id === '7.1.1')?.reason).toMatch(/did not close the TCP connection/);
  });
});

/** The verdict of each case, by id. */
function verdictsOf(report: RunReport): Record<string, string> {
  return Object.fromEntries(report.results.map((r) => [r.id, r.verdict]));
}

describe('servers with limits (section 9)', () => {
  // 9.3.1 and 9.4.1 send 4 MiB in 65536 fragments of 64 bytes; 9.3.9 sends it as one frame.
  const CASES = '9.3.1,9.4.1,9.3.9';

  it('a clean refusal with 1008 (a cap on fragments, as ws has) is INFORMATIONAL, with the reason', { timeout: 60_000 }, async () => {
    const report = await againstServer({ fragmentLimit: { frames: 1000, then: 1008 } }, CASES);
    expect(verdictsOf(report)).toEqual({ '9.3.1': 'INFORMATIONAL', '9.4.1': 'INFORMATIONAL', '9.3.9': 'OK' });
    const r = report.results[0]!;
    expect(r.reason).toMatch(/^closed with 1008 \(Policy Violation\) after \d+ bytes/);
    expect(r).toMatchObject({ remoteCloseCode: 1008, closedBy: 'target' });
  });

  it('a clean refusal with 1009 is INFORMATIONAL too', { timeout: 60_000 }, async () => {
    const report = await againstServer({ fragmentLimit: { frames: 1000, then: 1009 } }, CASES);
    expect(verdictsOf(report)).toEqual({ '9.3.1': 'INFORMATIONAL', '9.4.1': 'INFORMATIONAL', '9.3.9': 'OK' });
    expect(report.results[0]!.reason).toMatch(/^closed with 1009 \(Message Too Big\) after \d+ bytes/);
  });

  it('refusing with a wrong code (1002) is FAILED', { timeout: 60_000 }, async () => {
    const report = await againstServer({ fragmentLimit: { frames: 1000, then: 1002 } }, '9.3.1,9.3.9');
    expect(verdictsOf(report)).toEqual({ '9.3.1': 'FAILED', '9.3.9': 'OK' });
    expect(report.results[0]!.reason).toMatch(/close 1002/);
  });

  it('dropping TCP without a close frame is FAILED', { timeout: 60_000 }, async () => {
    const report = await againstServer({ fragmentLimit: { frames: 1000, then: 'drop' } }, '9.3.1,9.3.9');
    expect(verdictsOf(report)).toEqual({ '9.3.1': 'FAILED', '9.3.9': 'OK' });
    expect(report.results[0]!.reason).toMatch(/TCP drop/);
  });

  it('the same refusal outside a limits case stays FAILED (5.x fragments, limit 1)', async () => {
    const report = await againstServer({ fragmentLimit: { frames: 1, then: 1008 } }, '5.3');
    expect(verdictsOf(report)).toEqual({ '5.3': 'FAILED' });
  });
});

describe('broken clients', () => {
  it('an unbroken client passes (control)', async () => {
    expect(failed(await againstClient({}, `${CONTROL},3,6.3,6.4,7.9,M`))).toEqual([]);
  });

  it('ignoring RSV bits fails exactly 3.x', async () => {
    expect(failed(await againstClient({ ignoreRsv: true }, `${CONTROL},3,4`))).toEqual(idsOf('3', 'client'));
  });

  it('skipping UTF-8 validation fails exactly the invalid-UTF-8 cases of 6.x', { timeout: 60_000 }, async () => {
    expect(failed(await againstClient({ skipUtf8: true }, `${CONTROL},6`))).toEqual(INVALID_UTF8);
  });

  it('accepting masked server frames fails exactly M.x', async () => {
    expect(failed(await againstClient({ wrongMaskAccepted: true }, `${CONTROL},M`))).toEqual(idsOf('M', 'client'));
  });

  it('not masking fails every case, with the reason', async () => {
    const report = await againstClient({ noMask: true }, '1.1.1,2.1,7.3.1');
    expect(failed(report)).toEqual(['1.1.1', '2.1', '7.3.1']);
    expect(report.results[0]!.reason).toMatch(/unmasked frame/);
  });

  it('reusing one Sec-WebSocket-Key fails every case, with the reason', async () => {
    const report = await againstClient({ fixedKey: true }, '1.1.1,2.1,7.3.1');
    expect(failed(report)).toEqual(['1.1.1', '2.1', '7.3.1']);
    expect(report.results[0]!.reason).toMatch(/reused Sec-WebSocket-Key/);
  });
});
