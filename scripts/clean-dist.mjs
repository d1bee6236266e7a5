/**
 * Empties dist/ before a build, so files of deleted or renamed sources are never packed.
 * A script rather than `rm -rf` so that the build also runs on Windows.
 */
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
