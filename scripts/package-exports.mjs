/**
 * Derives package.json `exports` and `typesVersions` from scripts/entries.mjs.
 *
 *   node scripts/package-exports.mjs --check   exit 1 when package.json disagrees (npm run check:package)
 *   node scripts/package-exports.mjs --write   rewrite those two fields (run under flock /tmp/npm.lock)
 *
 * Each subpath gets an `import` condition (the ES modules in dist/) and a `require` condition
 * (the CommonJS entries of dist/cjs/, see build-cjs.mjs), each with its own `types` so TypeScript
 * sees ESM declarations from ESM and CommonJS declarations from CommonJS. `typesVersions` serves
 * TypeScript's old `node10` resolution, which does not read `exports`, for the subpaths.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { ENTRIES } from './entries.mjs';

const packageUrl = new URL('../package.json', import.meta.url);

/** The `exports` and `typesVersions` fields that the entry list implies. */
export function expectedFields() {
  const exports = {};
  const paths = {};
  for (const { subpath, module } of ENTRIES) {
    exports[subpath] = {
      import: { types: `./dist/${module}.d.ts`, default: `./dist/${module}.js` },
      require: { types: `./dist/cjs/${module}.d.ts`, default: `./dist/cjs/${module}.js` },
    };
    if (subpath !== '.') paths[subpath.slice(2)] = [`./dist/cjs/${module}.d.ts`];
  }
  exports['./package.json'] = './package.json';
  return { exports, typesVersions: { '*': paths } };
}

const mode = process.argv[2];
if (mode === '--check' || mode === '--write') {
  const text = readFileSync(packageUrl, 'utf8');
  const pkg = JSON.parse(text);
  const expected = expectedFields();
  const stale = Object.keys(expected).filter((key) => !isDeepStrictEqual(pkg[key], expected[key]));
  if (mode === '--check') {
    if (stale.length > 0) {
      process.stderr.write(`package.json ${stale.join(', ')} out of date with scripts/entries.mjs: run node scripts/package-exports.mjs --write\n`);
      process.exit(1);
    }
  } else if (stale.length > 0) {
    // Re-read and write immediately so the window for concurrent edits stays small.
    const fresh = JSON.parse(readFileSync(packageUrl, 'utf8'));
    Object.assign(fresh, expected);
    writeFileSync(packageUrl, `${JSON.stringify(fresh, null, 2)}\n`);
  }
}
