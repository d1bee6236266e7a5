/**
 * The API reference (`npm run docs` → docs/api) must stay complete: typedoc converts every entry
 * point of typedoc.json with zero errors, typedoc.json lists every public entry point of the
 * package (scripts/entries.mjs, the list package.json's `exports` is checked against), and every
 * export of every entry point — function, class, interface, type, constant — carries an
 * `@example`. Members need no example of their own.
 *
 * typedoc runs through its API in this process and renders nothing (conversion and validation
 * are what can fail; rendering HTML would only cost time), so nothing is written into docs/api.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Application, ReflectionKind, TSConfigReader, TypeDocReader, type DeclarationReflection, type Reflection } from 'typedoc';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function hasExample(item: DeclarationReflection): boolean {
  const carriers: Reflection[] = [item, ...(item.signatures ?? []), ...(item.getSignature ? [item.getSignature] : [])];
  return carriers.some((r) => r.comment?.getTag('@example') !== undefined);
}

describe('API reference (typedoc)', () => {
  it('typedoc.json lists every public entry point of the package', async () => {
    const config = JSON.parse(await readFile(join(root, 'typedoc.json'), 'utf8')) as { entryPoints: string[] };
    // A plain .mjs module without declarations.
    const { ENTRIES } = (await import(pathToFileURL(join(root, 'scripts', 'entries.mjs')).href)) as { ENTRIES: Array<{ module: string }> };
    const expected = ENTRIES.map((entry) => `src/${entry.module}.ts`);
    expect([...config.entryPoints].sort()).toEqual([...expected].sort());
  });

  it('converts with zero errors, and every export of every entry point has an @example', { timeout: 120_000 }, async () => {
    const app = await Application.bootstrapWithPlugins({ logLevel: 'Error', options: join(root, 'typedoc.json') }, [
      new TypeDocReader(),
      new TSConfigReader(),
    ]);
    const errors: string[] = [];
    const log = app.logger.log.bind(app.logger);
    app.logger.log = (message, level) => {
      // LogLevel.Error is 3 in typedoc 0.28.
      if (level >= 3) errors.push(String(message));
      log(message, level);
    };
    const project = await app.convert();
    expect(project, 'typedoc could not convert the project').toBeDefined();
    app.validate(project!);
    expect(errors).toEqual([]);
    expect(app.logger.hasErrors()).toBe(false);

    const missing: string[] = [];
    let exports = 0;
    for (const module of project!.children ?? []) {
      for (const item of module.children ?? []) {
        // A re-export of something documented in another entry point is a reference: its target is checked there.
        if (item.kindOf(ReflectionKind.Reference)) continue;
        exports++;
        if (!hasExample(item)) missing.push(`${module.name}.${item.name}`);
      }
    }
    expect(exports).toBeGreaterThan(150);
    expect(missing, 'exports without an @example').toEqual([]);
  });
});
