/**
 * Smoke test of the compressed benchmark's load generator (bench/loadgen/deflate-loadgen.c): it
 * builds with cc and zlib, negotiates permessage-deflate with fullduplex's and ws's echo servers
 * (bench/deflate-servers.ts), and every echo it inflates matches what it compressed and sent.
 * Skipped with one line when no C compiler or zlib headers are present.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isCI } from './helpers/peers.js';

const toolchain = spawnSync(process.env.CC ?? 'cc', ['--version']).status === 0 && existsSync('/usr/include/zlib.h');
// As for every system peer (test/helpers/peers.ts): skipped with one line locally, run (and failing
// without the toolchain) in CI, where .ci/run installs zlib1g-dev.
const mustRun = isCI(process.env);
if (!toolchain && !mustRun) console.log('deflate bench smoke test skipped: needs a C compiler and zlib headers (apt-get install gcc zlib1g-dev); in CI this runs');

async function echoOnce(impl: 'fd' | 'ws'): Promise<{ ops: number; errors: number; wireBytesPerMsg: number }> {
  const { buildDeflateLoadgen } = await import('../bench/deflate-echo-build.js');
  const binary = buildDeflateLoadgen();
  const server = spawn(process.execPath, ['--import', 'tsx', 'bench/deflate-servers.ts', impl, 'echo'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const run = spawnSync(binary, ['--mode', 'echo', '--port', String(port), '--conns', '4', '--inflight', '2', '--size', '2048', '--warmup', '0.2', '--duration', '0.5'], { encoding: 'utf8', timeout: 20_000 });
    return JSON.parse(run.stdout.trim()) as { ops: number; errors: number; wireBytesPerMsg: number };
  } finally {
    server.kill();
  }
}

describe.skipIf(!toolchain && !mustRun)('compressed load generator', () => {
  for (const impl of ['fd', 'ws'] as const) {
    it(`echoes verified compressed JSON against ${impl}`, async () => {
      const result = await echoOnce(impl);
      expect(result.errors).toBe(0);
      expect(result.ops).toBeGreaterThan(0);
      // 2 KiB of JSON goes over the wire in well under a third of that.
      expect(result.wireBytesPerMsg).toBeLessThan(700);
    }, 60_000);
  }
});
