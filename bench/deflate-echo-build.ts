/**
 * Builds the compressed benchmark's load generator (bench/loadgen/deflate-loadgen.c) with the
 * system C compiler and zlib, cached under bench/.build/ by a hash of its source.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./loadgen/deflate-loadgen.c', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('./.build/', import.meta.url));

/**
 * Compiles the generator with `cc -O2 … -lz`, cached by a hash of its source. Throws a
 * clear error naming zlib1g-dev when zlib's headers are missing.
 */
export function buildDeflateLoadgen(): string {
  const source = readFileSync(SOURCE);
  const binary = `${BUILD_DIR}deflate-loadgen-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`;
  if (existsSync(binary)) return binary;
  if (!existsSync('/usr/include/zlib.h')) {
    throw new Error('the compressed benchmark needs zlib headers to build its load generator: install zlib1g-dev (Debian) or zlib-devel');
  }
  mkdirSync(BUILD_DIR, { recursive: true });
  const temporary = `${binary}.${process.pid}.tmp`;
  const cc = process.env.CC ?? 'cc';
  try {
    execFileSync(cc, ['-O2', '-Wall', '-o', temporary, SOURCE, '-lz'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    throw new Error(`building the deflate load generator failed (${cc} -O2 ${SOURCE} -lz):\n${e.stderr?.toString() ?? e.message}`);
  }
  renameSync(temporary, binary);
  return binary;
}

