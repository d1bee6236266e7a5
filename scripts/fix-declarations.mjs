/**
 * Post-processes the declarations emitted into dist/ by `tsc -p tsconfig.build.json`.
 *
 * `stripInternal` removes `@internal` members, including the methods by which a public class
 * implements an internal callback interface (Protocol implements FrameSink, WebSocketConnection
 * implements ProtocolHandler). The emitted `class X implements Y` then fails to typecheck in
 * consumers with `skipLibCheck: false`. An `implements` clause only asks the compiler to check the
 * class; it adds nothing to the type a consumer sees, so this script removes those clauses from
 * the .d.ts files. Run by `npm run build` between tsc and build-cjs.mjs.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

/** Every `.d.ts` file under `dir`. */
function* declarationFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* declarationFiles(path);
    else if (entry.name.endsWith('.d.ts')) yield path;
  }
}

/** `text` without the `implements …` clauses of its class declarations. */
export function withoutImplements(fileName, text) {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const cuts = [];
  const visit = (node) => {
    if (ts.isClassDeclaration(node)) {
      for (const clause of node.heritageClauses ?? []) {
        if (clause.token === ts.SyntaxKind.ImplementsKeyword) cuts.push([clause.pos, clause.end]);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  let out = text;
  for (const [start, end] of cuts.sort((a, b) => b[0] - a[0])) out = out.slice(0, start) + out.slice(end);
  return out;
}

let changed = 0;
for (const file of declarationFiles(dist)) {
  const text = readFileSync(file, 'utf8');
  const fixed = withoutImplements(file, text);
  if (fixed !== text) {
    writeFileSync(file, fixed);
    changed++;
  }
}
process.stdout.write(`fix-declarations: removed implements clauses in ${changed} files\n`);
