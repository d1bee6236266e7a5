/**
 * The system-peer rule in test/helpers/peers.ts: a missing Debian package skips its tests with one
 * line naming the package, unless CI is set, where they run and fail; a present one runs. Peers are
 * hidden through the overrides peers.ts honours (FULLDUPLEX_PYTHON, FULLDUPLEX_CHROMIUM,
 * FULLDUPLEX_REDIS_SERVER, PATH), so this works whatever is installed here. The end-to-end part runs
 * vitest itself on test/interop.python.test.ts with python3-websockets hidden.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPeer, decide, findOnPath, isCI, probe, type PeerName } from './helpers/peers.js';
import { Child, ROOT } from './helpers/process.js';

const NAMES: PeerName[] = ['python3-websockets', 'chromium', 'redis-server', 'openssl'];
const MISSING = '/nonexistent/fullduplex-peer';

/** An environment in which every peer is hidden, plus `extra`. */
function hiddenEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/nonexistent',
    FULLDUPLEX_PYTHON: MISSING,
    FULLDUPLEX_CHROMIUM: MISSING,
    FULLDUPLEX_REDIS_SERVER: MISSING,
    ...extra,
  };
}

// A directory of stand-ins that "are" the peers: executables that exit 0 (so the Python probe's
// `import websockets` succeeds), to check the present case without relying on this machine.
const fakes = mkdtempSync(join(tmpdir(), 'fullduplex-peers-'));
afterAll(() => rmSync(fakes, { recursive: true, force: true }));
function fake(name: string): string {
  const path = join(fakes, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o755);
  return path;
}

describe('decide (pure)', () => {
  it.each(NAMES)('%s absent, CI unset: skipped, with one line naming the Debian package', (name) => {
    const decision = decide(name, false, {});
    expect(decision).toMatchObject({ available: false, mustRun: false, run: false });
    expect(decision.notice).toBe(`skipped: needs Debian package ${name} (apt-get install ${name}); in CI this runs`);
  });

  it.each(NAMES)('%s absent, CI set: runs (and so fails), with a line naming the package', (name) => {
    const decision = decide(name, false, { CI: 'true' });
    expect(decision).toMatchObject({ available: false, mustRun: true, run: true });
    expect(decision.notice).toContain(`needs Debian package ${name} (apt-get install ${name})`);
    expect(decision.notice).not.toContain('\n');
  });

  it.each(NAMES)('%s present: runs, with or without CI, and says nothing', (name) => {
    expect(decide(name, true, {})).toMatchObject({ available: true, mustRun: false, run: true, notice: null });
    expect(decide(name, true, { CI: '1' })).toMatchObject({ available: true, mustRun: true, run: true, notice: null });
  });

  it('CI counts as set unless empty, 0 or false', () => {
    expect([undefined, '', '0', 'false', 'FALSE', ' '].map((CI) => isCI({ CI }))).toEqual([false, false, false, false, false, false]);
    expect(['true', '1', 'yes', 'github'].map((CI) => isCI({ CI }))).toEqual([true, true, true, true]);
  });
});

describe('probes', () => {
  it.each(NAMES)('%s hidden: reported missing; skipped without CI, must run with CI', (name) => {
    expect(probe(name, hiddenEnv()).available).toBe(false);
    expect(checkPeer(name, hiddenEnv())).toMatchObject({ available: false, run: false });
    expect(checkPeer(name, hiddenEnv({ CI: 'true' }))).toMatchObject({ available: false, run: true, mustRun: true });
  });

  it('an interpreter without websockets counts as missing (the import is probed, not the file)', () => {
    const noModule = join(fakes, 'python-without-websockets');
    writeFileSync(noModule, '#!/bin/sh\necho "ModuleNotFoundError: No module named \'websockets\'" >&2\nexit 1\n');
    chmodSync(noModule, 0o755);
    expect(probe('python3-websockets', { FULLDUPLEX_PYTHON: noModule })).toEqual({ available: false, command: noModule });
  });

  it('present peers are found, and the command to run is the one probed', () => {
    const python = fake('python3');
    const chromium = fake('chromium');
    const redis = fake('redis-server');
    const openssl = fake('openssl');
    expect(checkPeer('python3-websockets', { FULLDUPLEX_PYTHON: python })).toMatchObject({ run: true, available: true, command: python });
    expect(checkPeer('chromium', { FULLDUPLEX_CHROMIUM: chromium })).toMatchObject({ run: true, available: true, command: chromium });
    expect(checkPeer('redis-server', { FULLDUPLEX_REDIS_SERVER: redis })).toMatchObject({ run: true, available: true, command: redis });
    // redis-server and openssl are also found on PATH, like `command -v`.
    expect(checkPeer('redis-server', { PATH: `/nonexistent:${fakes}` })).toMatchObject({ run: true, command: redis });
    expect(checkPeer('openssl', { PATH: `/nonexistent:${fakes}` })).toMatchObject({ run: true, command: openssl });
  });

  it('findOnPath skips directories and non-executable files', () => {
    const plain = join(fakes, 'not-executable');
    writeFileSync(plain, '');
    chmodSync(plain, 0o644);
    expect(findOnPath('not-executable', { PATH: fakes })).toBeNull();
    expect(findOnPath('bin', { PATH: '/usr' })).toBeNull();
  });
});

describe('end to end: vitest on the Python interop tests with python3-websockets hidden', () => {
  /** Runs vitest on that file in a child, with the peer hidden and `CI` as given. */
  async function runHidden(ci: string | undefined): Promise<{ code: number | null; output: string }> {
    const env: NodeJS.ProcessEnv = {};
    // Drop this run's own vitest state and CI, so the child behaves as a fresh `npx vitest run`.
    for (const [key, value] of Object.entries(process.env)) {
      if (!key.startsWith('VITEST') && key !== 'CI' && key !== 'TEST' && key !== 'NODE_ENV') env[key] = value;
    }
    Object.assign(env, { FULLDUPLEX_PYTHON: '/nonexistent/python3', NO_COLOR: '1', FORCE_COLOR: '0' });
    if (ci !== undefined) env.CI = ci;
    const child = new Child(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', 'test/interop.python.test.ts'], { env });
    const { code } = await child.waitExit(60_000);
    return { code, output: child.stdout + child.stderr };
  }

  it('CI unset: exits 0, every test skipped, and the output names python3-websockets in one line', async () => {
    const { code, output } = await runHidden(undefined);
    expect(code, output).toBe(0);
    expect(output).toMatch(/^\[peers\] skipped: needs Debian package python3-websockets \(apt-get install python3-websockets\); in CI this runs$/m);
    expect(output).toMatch(/Tests\s+\d+ skipped/);
    expect(output).not.toMatch(/passed|failed|ModuleNotFoundError/);
  });

  it('CI set: the tests run and the run fails, saying which package is missing', async () => {
    const { code, output } = await runHidden('true');
    expect(code, output).toBe(1);
    expect(output).toContain('python3-websockets is missing and CI is set');
    expect(output).toContain('apt-get install python3-websockets');
  });
});
