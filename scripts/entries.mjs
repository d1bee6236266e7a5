/**
 * The public entry points of the package: the one list that the build (the CommonJS layer), the
 * package.json `exports`/`typesVersions` check and test/package.test.ts read.
 *
 * To publish a new subpath: add it here, run `node scripts/package-exports.mjs --write` (under
 * `flock /tmp/npm.lock`), then `npm run build && npm run check:package`.
 */

/** @typedef {{ subpath: string, module: string }} Entry  `module`: path under dist/ without extension. */

/** @type {Entry[]} */
export const ENTRIES = [
  { subpath: '.', module: 'index' },
  { subpath: './frame', module: 'frame/index' },
  { subpath: './handshake', module: 'handshake/index' },
  { subpath: './conformance', module: 'conformance/index' },
  { subpath: './redis', module: 'redis/index' },
  { subpath: './cluster', module: 'cluster/index' },
  { subpath: './ws', module: 'compat/ws/index' },
];
