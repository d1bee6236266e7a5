/**
 * System peers: programs some tests need that npm does not install (Debian packages). One rule for
 * all of them, so a fresh machine passes `npm test` and CI still proves everything:
 *
 * - peer present → the tests run;
 * - peer absent, `CI` not set → the tests are skipped, with one visible line naming the Debian
 *   package (in the skipped suite's title and once on stderr);
 * - peer absent, `CI` set → the tests run and fail, first with a message naming the package.
 *
 * The rule itself ({@link decide}) is a pure function of the probe result and the environment, so
 * test/helpers.peers.test.ts can check it without hiding anything on the machine. The probes take
 * the environment as input too; `FULLDUPLEX_PYTHON`, `FULLDUPLEX_CHROMIUM` and
 * `FULLDUPLEX_REDIS_SERVER` point a probe (and the tests using that peer) at another executable,
 * which is how a test hides a peer that is installed.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { beforeAll, describe } from 'vitest';

/** The system peers the tests know about, by Debian package name. */
export type PeerName = 'python3-websockets' | 'chromium' | 'redis-server' | 'openssl';

/** The environment variables the peers read (a subset of `process.env`). */
export type PeerEnv = Readonly<Record<string, string | undefined>>;

/** What a probe found. */
export interface ProbeResult {
  /** Whether the peer can be used. */
  readonly available: boolean;
  /** The executable tests should run for this peer (the probed one, or the expected path when absent). */
  readonly command: string;
}

/** The decision for one peer: whether its tests run, and the line that says why not. */
export interface PeerDecision {
  readonly name: PeerName;
  /** The Debian package that provides the peer. */
  readonly debianPackage: string;
  readonly available: boolean;
  /** `CI` is set: the tests must run, and fail when the peer is absent. */
  readonly mustRun: boolean;
  /** Whether the tests run (available, or CI set). */
  readonly run: boolean;
  /**
   * One line for the output when the peer is absent: the skip notice without CI, the failure
   * message with CI. Null when the peer is present.
   */
  readonly notice: string | null;
}

/** A decision together with the executable to use. */
export interface PeerStatus extends PeerDecision {
  readonly command: string;
}

/** The Debian package behind each peer (today each peer is named after its package). */
const PACKAGES: Readonly<Record<PeerName, string>> = {
  'python3-websockets': 'python3-websockets',
  chromium: 'chromium',
  'redis-server': 'redis-server',
  openssl: 'openssl',
};

/**
 * Whether `CI` counts as set. CI services set `CI=true`; an empty value, `0` or `false` is how a
 * person turns it off locally, so those do not count.
 */
export function isCI(env: PeerEnv): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

/** The rule, as a pure function: see the module comment. */
export function decide(name: PeerName, available: boolean, env: PeerEnv): PeerDecision {
  const debianPackage = PACKAGES[name];
  const mustRun = isCI(env);
  const install = `apt-get install ${debianPackage}`;
  let notice: string | null = null;
  if (!available) {
    notice = mustRun
      ? `${name} is missing and CI is set, so these tests run and fail: needs Debian package ${debianPackage} (${install})`
      : `skipped: needs Debian package ${debianPackage} (${install}); in CI this runs`;
  }
  return { name, debianPackage, available, mustRun, run: available || mustRun, notice };
}

/** Debian's interpreter, the one `python3-websockets` installs into (the `python3` on PATH may be another). */
export function pythonCommand(env: PeerEnv = process.env): string {
  return env.FULLDUPLEX_PYTHON || '/usr/bin/python3';
}

/** Debian's Chromium; never a downloaded browser. */
export function chromiumCommand(env: PeerEnv = process.env): string {
  return env.FULLDUPLEX_CHROMIUM || '/usr/bin/chromium';
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on `env.PATH`, like `command -v`; null when there is none. */
export function findOnPath(name: string, env: PeerEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutableFile(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Looks for the peer on this machine, as described by `env`. Spawns only for Python (the import). */
export function probe(name: PeerName, env: PeerEnv = process.env): ProbeResult {
  switch (name) {
    case 'python3-websockets': {
      const command = pythonCommand(env);
      // The import is the test: the interpreter alone is no use without the package.
      const result = spawnSync(command, ['-c', 'import websockets'], { stdio: 'ignore', timeout: 20_000 });
      return { available: result.status === 0, command };
    }
    case 'chromium': {
      const command = chromiumCommand(env);
      return { available: isExecutableFile(command), command };
    }
    case 'redis-server': {
      // An explicit path is the only candidate, so a test can hide the one in /usr/bin.
      if (env.FULLDUPLEX_REDIS_SERVER) {
        const command = env.FULLDUPLEX_REDIS_SERVER;
        return { available: isExecutableFile(command), command };
      }
      // Also /usr/bin, where Debian puts it, for a PATH that was trimmed (e.g. by a service manager).
      const found = findOnPath('redis-server', env) ?? (isExecutableFile('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null);
      return { available: found !== null, command: found ?? '/usr/bin/redis-server' };
    }
    case 'openssl': {
      // The tests and examples run `openssl` through PATH, so PATH is what matters.
      const found = findOnPath('openssl', env);
      return { available: found !== null, command: found ?? 'openssl' };
    }
  }
}

/** Probes and decides in one step, for the given environment (nothing cached, nothing printed). */
export function checkPeer(name: PeerName, env: PeerEnv = process.env): PeerStatus {
  const found = probe(name, env);
  return { ...decide(name, found.available, env), command: found.command };
}

const cache = new Map<PeerName, PeerStatus>();

/**
 * The status of a peer for this test process (`process.env`), probed once. The first call for an
 * absent peer prints its notice on stderr, so the reason shows in the run output.
 */
export function peer(name: PeerName): PeerStatus {
  let status = cache.get(name);
  if (!status) {
    status = checkPeer(name);
    cache.set(name, status);
    if (status.notice) process.stderr.write(`[peers] ${status.notice}\n`);
  }
  return status;
}

/**
 * For helpers that start a peer (a Python client, a redis-server): returns the command to run, or
 * throws the peer's notice when it is absent — the helper's callers sit in a {@link describeWithPeer}
 * block, so without CI they never get here, and with CI the failure names the package to install.
 */
export function requirePeer(name: PeerName): string {
  const status = peer(name);
  if (!status.available) throw new Error(status.notice ?? `${name} is missing: apt-get install ${PACKAGES[name]}`);
  return status.command;
}

/**
 * `describe(title, fn)` for tests that need a system peer. Present → runs. Absent without CI →
 * `describe.skip` titled with the one-line notice naming the Debian package. Absent with CI → runs,
 * and a `beforeAll` fails every test in it with that notice (before the tests fail in a less clear way).
 */
export function describeWithPeer(name: PeerName, title: string, fn: () => void): void {
  const status = peer(name);
  if (!status.run) {
    // The one deliberate skip of the suite: the peer is absent and CI is not set. The title carries
    // the reason (the Debian package to install); with CI set this branch is never taken.
    describe.skip(`${title} — ${status.notice}`, fn);
    return;
  }
  describe(title, () => {
    if (!status.available) {
      beforeAll(() => {
        throw new Error(status.notice ?? `${name} is missing`);
      });
    }
    fn();
  });
}
