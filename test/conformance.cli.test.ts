/**
 * `fullduplex conformance` as a user runs it (child processes from source), and the pieces the
 * reports are made of: the raw frame reader, the case filter, the HTML escaping.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allCases, matchesPattern, selectCases } from '../src/conformance/cases/index.js';
import { renderHtml } from '../src/conformance/report.js';
import type { RunReport } from '../src/conformance/types.js';
import { buildFrame, describeFrame, LenientFrameReader } from '../src/conformance/wire.js';
import { cleanupAfterEach } from './helpers/async.js';
import { spawnTsx } from './helpers/process.js';
import { startBrokenServer } from './fixtures/conformance/broken.js';

const CLI = 'test/fixtures/cli.ts';
const defer = cleanupAfterEach();

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fd-conformance-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('fullduplex conformance (CLI)', () => {
  it('server: tests an echo server, prints the table, writes the report, exits 0', async () => {
    const echo = spawnTsx(CLI, ['echo', '--port', '0']);
    defer(() => echo.stop());
    const url = (await echo.waitFor(/listening on (ws:\/\/\S+)/))[1]!;
    const dir = await tempDir();
    const run = spawnTsx(CLI, ['conformance', 'server', url, '--cases', '1.1.1,2.*,7.9.1,H.8', '--report', dir]);
    defer(() => run.stop());
    const exit = await run.exited;
    expect(exit.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^2\s+Pings\/Pongs\s+11 cases\s+11 OK$/m);
    expect(run.stdout).toMatch(/^Total\s+14\s+14\s+0\s+0\s+0\s+0$/m);
    expect(run.stdout).toMatch(/PASSED: 0 FAILED, 14 OK/);
    const json = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as RunReport;
    expect(json.results.map((r) => r.id)).toEqual(['H.8', '1.1.1', '2.1', '2.2', '2.3', '2.4', '2.5', '2.6', '2.7', '2.8', '2.9', '2.10', '2.11', '7.9.1']);
    const r = json.results.find((x) => x.id === '2.2')!;
    expect(r).toMatchObject({ verdict: 'OK', remoteCloseCode: 1000, closedBy: 'suite', received: ['pong(13) "Hello, world!"'] });
    expect(r.log.map((l) => `${l.dir} ${l.text}`)).toEqual(expect.arrayContaining(['> ping masked (13) "Hello, world!"', '< pong (13) "Hello, world!"']));
    expect(await readFile(join(dir, 'index.html'), 'utf8')).toContain('<b>2.2</b>');
  });

  it('server: exits 1 when a case FAILED, naming it', async () => {
    const broken = await startBrokenServer({ ignoreRsv: true });
    defer(() => broken.stop());
    const run = spawnTsx(CLI, ['conformance', 'server', broken.url, '--cases', '3.1,2.1']);
    defer(() => run.stop());
    expect((await run.exited).code).toBe(1);
    expect(run.stdout).toMatch(/FAILED 3\.1: /);
    expect(run.stdout).toMatch(/^FAILED: 1 FAILED, 1 OK/m);
  });

  it('client + agent: the fuzzing server tests fullduplex\'s agent, then exits 0', async () => {
    const server = spawnTsx(CLI, ['conformance', 'client', '--port', '0', '--cases', '1.1,5.6,M']);
    defer(() => server.stop());
    const url = (await server.waitFor(/Fuzzing server on (ws:\/\/\S+) with 13 cases/))[1]!;
    const agent = spawnTsx(CLI, ['conformance', 'agent', url, '--agent', 'cli-test']);
    defer(() => agent.stop());
    expect((await agent.exited).code, agent.stderr).toBe(0);
    expect(agent.stdout).toMatch(/Ran 13 cases/);
    expect((await server.exited).code, server.stderr).toBe(0);
    expect(server.stdout).toMatch(/Agent 'cli-test' finished/);
    expect(server.stdout).toMatch(/PASSED: 0 FAILED, 13 OK/);
  });
});

describe('case table', () => {
  it('has unique ids and Autobahn\'s case counts per section', () => {
    const ids = allCases().map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const count = (section: string): number => ids.filter((id) => id.split('.')[0] === section).length;
    expect([count('1'), count('2'), count('3'), count('4'), count('5'), count('6'), count('7'), count('9'), count('10')]).toEqual([16, 11, 7, 10, 20, 145, 37, 54, 1]);
  });

  it('filters with --cases and --exclude patterns', () => {
    expect(matchesPattern('6.4.1', '6.4')).toBe(true);
    expect(matchesPattern('6.40.1', '6.4')).toBe(false);
    expect(matchesPattern('1.2.8', '1.*')).toBe(true);
    expect(matchesPattern('H.3', 'h')).toBe(true);
    expect(selectCases('server', '2', '2.1,2.10').map((c) => c.id)).toEqual(['2.2', '2.3', '2.4', '2.5', '2.6', '2.7', '2.8', '2.9', '2.11']);
    expect(selectCases('client', 'H,2.1').map((c) => c.id)).toEqual(['2.1']);
  });
});

describe('raw frames', () => {
  it('reads back any frame, split anywhere, including ones a strict parser refuses', () => {
    const frames = [
      buildFrame({ opcode: 1, payload: 'hello', rsv: 5 }, true),
      buildFrame({ opcode: 0xb, payload: Buffer.alloc(200, 1), fin: false }, false),
      buildFrame({ opcode: 2, payload: Buffer.alloc(70_000, 2) }, true),
    ];
    const bytes = Buffer.concat(frames);
    for (const step of [1, 7, 1000, bytes.length]) {
      const reader = new LenientFrameReader();
      const got = [];
      for (let i = 0; i < bytes.length; i += step) got.push(...reader.push(bytes.subarray(i, i + step)));
      expect(got.map(describeFrame)).toEqual(['text rsv=5 masked (5) "hello"', 'op11 !fin (200) 0x' + '01'.repeat(24) + '…', 'binary masked (70000) 0x' + '02'.repeat(24) + '…']);
      expect(got[2]!.payload.equals(Buffer.alloc(70_000, 2))).toBe(true);
    }
  });

  it('flags lengths not encoded in the fewest bytes', () => {
    const frame = Buffer.from([0x81, 126, 0, 3, 0x61, 0x62, 0x63]);
    expect(new LenientFrameReader().push(frame)[0]).toMatchObject({ nonMinimalLength: true, payload: Buffer.from('abc') });
  });
});

describe('HTML report', () => {
  it('is self-contained and escapes everything the target controls', () => {
    const html = renderHtml({
      mode: 'server',
      target: 'ws://x/<script>',
      startedAt: '2024-01-01T00:00:00.000Z',
      duration: 5,
      results: [
        {
          id: '1.1.1',
          description: 'd',
          expectation: 'e',
          verdict: 'FAILED',
          reason: '<img src=x onerror=alert(1)>',
          duration: 1,
          remoteCloseCode: 1002,
          closedBy: 'target',
          received: ['message text(5) "<b>"'],
          log: [{ at: 0, dir: '<', text: 'close (2) code=1002 "</pre><script>"' }],
        },
      ],
    });
    expect(html).not.toMatch(/<script>|<img|<\/pre><script/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });
});
