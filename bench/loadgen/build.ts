/**
 * Builds the C load generator (loadgen.c) with the system C compiler on first use and caches the
 * binary under bench/.build/, named by a hash of the source so an edited loadgen.c is rebuilt.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./loadgen.c', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('../.build/', import.meta.url));

/** The C compiler to use: `$CC`, else `cc`. */
function compiler(): string {
  return process.env.CC ?? 'cc';
}

/** Whether a C compiler can be run (the smoke test skips without one). */
export function hasCompiler(): boolean {
  try {
    execFileSync(compiler(), ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the path of the load generator binary, compiling it (`cc -O2`) if the cached one is
 * missing or was built from another version of loadgen.c. Throws with the compiler's output if
 * the build fails.
 */
export function buildLoadgen(): string {
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const binary = `${BUILD_DIR}loadgen-${hash}`;
  if (existsSync(binary)) return binary;
  mkdirSync(BUILD_DIR, { recursive: true });
  // Build to a temporary name and rename: a concurrent run never sees a half-written binary.
  const temporary = `${binary}.${process.pid}.tmp`;
  try {
    execFileSync(compiler(), ['-O2', '-Wall', '-o', temporary, SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    throw new Error(`building the load generator failed (${compiler()} -O2 ${SOURCE}):\n${e.stderr?.toString() ?? e.message}`);
  }
  renameSync(temporary, binary);
  return binary;
}
