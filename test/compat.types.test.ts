/**
 * Users of @types/ws compile against fullduplex/ws with only the import changed: the fixture is
 * written like @types/ws usage (handlers typed through the events, statics, options, EventTarget
 * handlers) and must typecheck under the project's strict settings.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('fullduplex/ws types', () => {
  it('a file written against @types/ws typechecks against our declarations', () => {
    const args = [
      'tsc', '--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext',
      '--types', 'node', '--skipLibCheck', '--exactOptionalPropertyTypes', 'false', 'test/fixtures/compat/ws-types-usage.ts',
    ];
    let output = '';
    try {
      execFileSync('npx', args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe('');
  }, 120_000);
});
