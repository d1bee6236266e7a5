/**
 * The package as people install it: `npm pack` of the built dist/, installed offline into a fresh
 * temporary project, then used the way consumers use it — `import` and `require` of every entry
 * point in package.json `exports`, the `fullduplex` bin, a TypeScript consumer under `node16` and
 * `bundler` resolution, an echo round trip through serve() and connect(), and attw's strict profile.
 *
 * It packs with --ignore-scripts: dist/ is what `npm ci` (prepare) or `npm run build` produced, and
 * rebuilding here would empty dist/ under tests running in parallel. TypeScript and @types/node
 * come from this repository's node_modules by symlink, so nothing is fetched.
 */
import { execFile } from 'node:child_process';
import { access, mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..');
const BIN = join(REPO, 'node_modules', '.bin');
const NAME = 'fullduplex';

interface PackageJson {
  exports: Record<string, unknown>;
}

const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as PackageJson;
/** Every code entry point, as a bare specifier: fullduplex, fullduplex/frame, … */
const SPECIFIERS = Object.keys(pkg.exports)
  .filter((subpath) => subpath !== './package.json')
  .map((subpath) => (subpath === '.' ? NAME : `${NAME}/${subpath.slice(2)}`));

let work = '';
let project = '';
let tarball = '';

/** Runs a command to completion (bounded by a timeout) and returns its stdout. */
async function run(file: string, args: string[], cwd = project, timeout = 60_000): Promise<string> {
  const { stdout } = await exec(file, args, { cwd, timeout, maxBuffer: 16 << 20, env: { ...process.env, NODE_OPTIONS: '' } });
  return stdout;
}

/** Every file under `dir` whose name ends with `suffix`. */
async function filesUnder(dir: string, suffix: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(suffix)).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  await access(join(REPO, 'dist', 'cjs', 'package.json')).catch(() => {
    throw new Error('dist/ is missing or was built without scripts/build-cjs.mjs: run npm run build first');
  });
  work = await mkdtemp(join(tmpdir(), 'fullduplex-package-'));
  project = join(work, 'consumer');
  await mkdir(project);
  const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], REPO);
  tarball = join(work, packed.trim().split('\n').pop()!);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball]);
  // After the install, which would prune them: the consumer's own typescript and @types/node.
  await mkdir(join(project, 'node_modules', '@types'), { recursive: true });
  await symlink(join(REPO, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'), 'dir');
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds LICENSE, the CommonJS layer and no sources', async () => {
    const files = (await run('tar', ['-tzf', tarball], work)).split('\n').filter(Boolean);
    expect(files).toContain('package/LICENSE');
    expect(files).toContain('package/dist/cjs/package.json');
    expect(files).toContain('package/bin/fullduplex.js');
    expect(files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/'))).toEqual([]);
  });

  it('ships source maps that carry their sources', async () => {
    const maps = await filesUnder(join(project, 'node_modules', NAME, 'dist'), '.js.map');
    expect(maps.length).toBeGreaterThan(0);
    for (const file of maps) {
      const map = JSON.parse(await readFile(file, 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(map.sourcesContent!.every((s) => typeof s === 'string' && s.length > 0), file).toBe(true);
    }
  });

  it('publishes no @internal members in its declarations', async () => {
    const declarations = await filesUnder(join(project, 'node_modules', NAME, 'dist'), '.d.ts');
    const leaking: string[] = [];
    for (const file of declarations) if ((await readFile(file, 'utf8')).includes('@internal')) leaking.push(file);
    expect(leaking).toEqual([]);
  });
});

describe('the installed package', () => {
  it('loads every entry point with a static import', async () => {
    const lines = SPECIFIERS.map((s, i) => `import * as m${i} from '${s}';`);
    lines.push(`console.log(JSON.stringify([${SPECIFIERS.map((_, i) => `Object.keys(m${i}).length`).join(', ')}]));`);
    await writeFile(join(project, 'esm-entries.mjs'), lines.join('\n'));
    const counts = JSON.parse(await run(process.execPath, ['esm-entries.mjs'])) as number[];
    expect(counts).toHaveLength(SPECIFIERS.length);
    for (const count of counts) expect(count).toBeGreaterThan(0);
  });

  it('loads every entry point with require(), sharing the classes of the import (one copy)', async () => {
    await writeFile(
      join(project, 'cjs-entries.cjs'),
      `(async () => {
  const result = {};
  for (const specifier of ${JSON.stringify(SPECIFIERS)}) {
    const required = require(specifier);
    const imported = await import(specifier);
    if (specifier.endsWith('/ws')) {
      // As require('ws'): the WebSocket class itself, with the server and stream helpers attached.
      const statics = ['WebSocket', 'WebSocketServer', 'Server', 'createWebSocketStream'];
      result[specifier] = { required: statics, imported: statics, same: required === imported.default && required === imported.WebSocket && statics.every((k) => required[k] === imported[k]) };
      continue;
    }
    const keys = Object.keys(imported);
    result[specifier] = { required: Object.keys(required).sort(), imported: [...keys].sort(), same: keys.every((k) => required[k] === imported[k]) };
  }
  console.log(JSON.stringify(result));
})().catch((error) => { console.error(error); process.exit(1); });
`,
    );
    const result = JSON.parse(await run(process.execPath, ['cjs-entries.cjs'])) as Record<string, { required: string[]; imported: string[]; same: boolean }>;
    expect(Object.keys(result)).toEqual(SPECIFIERS);
    for (const [specifier, { required, imported, same }] of Object.entries(result)) {
      expect(required.length, specifier).toBeGreaterThan(0);
      expect(required.filter((k) => k !== '__esModule'), specifier).toEqual(imported);
      expect(same, specifier).toBe(true);
    }
  });

  it('runs the fullduplex bin', async () => {
    const out = await run('npx', ['--no-install', NAME, '--help']);
    expect(out).toMatch(/^Usage:/);
    expect(out).toContain('fullduplex echo');
  }, 60_000);

  const echo = (load: string): string => `${load}
(async () => {
  const server = await serve(async (ws) => { for await (const message of ws) await ws.send(message); }, { host: '127.0.0.1', port: 0 });
  const ws = await connect('ws://127.0.0.1:' + server.address().port + '/');
  await ws.send('hello through the package');
  const reply = await ws.recv();
  await ws.close();
  await server.close();
  console.log(JSON.stringify(reply));
})().catch((error) => { console.error(error); process.exit(1); });
`;

  it('echoes a message between serve() and connect(), loaded with import and with require', async () => {
    await writeFile(join(project, 'echo.mjs'), echo(`import { serve, connect } from '${NAME}';`));
    await writeFile(join(project, 'echo.cjs'), echo(`const { serve, connect } = require('${NAME}');`));
    const replies = await Promise.all(['echo.mjs', 'echo.cjs'].map(async (file) => JSON.parse(await run(process.execPath, [file], project, 20_000)) as unknown));
    expect(replies).toEqual(['hello through the package', 'hello through the package']);
  }, 60_000);

  it('typechecks a TypeScript consumer under node16 (ESM and CommonJS files) and bundler resolution', async () => {
    const body = `${SPECIFIERS.slice(1).map((s, i) => `import * as entry${i} from '${s}';`).join('\n')}
import { serve, connect, WebSocketConnection, ConnectionClosedError, type ServerOptions } from '${NAME}';

export const entries: object[] = [${SPECIFIERS.slice(1).map((_, i) => `entry${i}`).join(', ')}];
const options: ServerOptions = { host: '127.0.0.1', port: 0, maxMessageSize: 1 << 20 };

export async function roundTrip(text: string): Promise<string | Buffer> {
  const server = await serve(async (ws: WebSocketConnection) => {
    for await (const message of ws) await ws.send(message);
  }, options);
  const ws = await connect(\`ws://127.0.0.1:\${server.address().port}/\`);
  await ws.send(text);
  const reply = await ws.recv();
  await ws.close();
  await server.close();
  return reply;
}

export function isClosed(error: unknown): boolean {
  return error instanceof ConnectionClosedError;
}
`;
    await Promise.all(['consumer.mts', 'consumer.cts', 'consumer.ts'].map((file) => writeFile(join(project, file), body)));
    const common = { target: 'ES2022', lib: ['ES2022'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false };
    const configs = {
      'tsconfig.node16.json': { compilerOptions: { ...common, module: 'node16', moduleResolution: 'node16' }, files: ['consumer.mts', 'consumer.cts'] },
      // The declarations themselves were checked above (skipLibCheck: false); here only resolution
      // and the consumer's code, which keeps this test's time down.
      'tsconfig.bundler.json': { compilerOptions: { ...common, module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true }, files: ['consumer.ts'] },
    };
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    // One after the other: on two cores, parallel tsc runs only contend.
    for (const [file, config] of Object.entries(configs)) {
      await writeFile(join(project, file), JSON.stringify(config));
      // tsc reports type errors on stdout; surface them in the failure message.
      await run(process.execPath, [tsc, '-p', file]).catch((error: { stdout?: string }) => {
        throw new Error(`${file}:\n${error.stdout ?? String(error)}`);
      });
    }
  }, 120_000);

  it('passes arethetypeswrong in its strict profile', async () => {
    await run(join(BIN, 'attw'), [tarball, '--profile', 'strict', '--format', 'ascii'], work).catch((error: { stdout?: string }) => {
      throw new Error(`attw:\n${error.stdout ?? String(error)}`);
    });
  }, 60_000);
});
