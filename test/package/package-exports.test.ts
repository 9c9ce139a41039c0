import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/helpers.js';

// The public surface, checked against the built package (dist/, rebuilt by the global setup):
// every subpath's values (what `import()` gives) and types (what its .d.ts adds) are exactly the
// lists in fixtures/public-api.json, so an export is added or removed on purpose; a name exported
// by two subpaths is the same declaration; every error class is a ThreadweaverError.
// After a deliberate change: `UPDATE_PUBLIC_API=1 npx vitest run test/package-exports.test.ts`
// rewrites the lists, and the diff shows what changed.

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string }>;
};
const listFile = path.join(repoRoot, 'test/fixtures/public-api.json');
const expected = JSON.parse(readFileSync(listFile, 'utf8')) as Record<string, { values: string[]; types: string[] }>;
const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');

/** What docs/api.md says of a name: the first sentence of its doc comment. */
const summaries = new Map<string, string>();

/** Every name a subpath's declarations export, with the declaration it resolves to (`file:offset`). */
function declaredExports(): Map<string, Map<string, string>> {
  const files = subpaths.map((s) => path.join(repoRoot, (pkg.exports[s] as { types: string }).types));
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const out = new Map<string, Map<string, string>>();
  subpaths.forEach((sub, i) => {
    const source = program.getSourceFile(files[i]!);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`${files[i]}: no declarations (is dist/ built?)`);
    const names = new Map<string, string>();
    for (const e of checker.getExportsOfModule(module)) {
      const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      const d = target.declarations?.[0];
      names.set(e.name, d ? `${path.relative(repoRoot, d.getSourceFile().fileName)}:${d.pos}` : `${sub}#${e.name}`);
      const doc = ts.displayPartsToString(target.getDocumentationComment(checker)).replace(/\s+/g, ' ').trim();
      if (!summaries.has(e.name)) summaries.set(e.name, firstSentence(doc));
    }
    out.set(sub, names);
  });
  return out;
}

function firstSentence(doc: string): string {
  const end = doc.search(/[.:;](\s|$)/);
  const text = (end < 0 ? doc : doc.slice(0, end)).replace(/\|/g, '\\|');
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

const apiDoc = path.join(repoRoot, 'docs/api.md');

/** docs/api.md: a section per subpath, a row per export with its doc comment's first sentence. */
function renderApiDoc(lists: Record<string, { values: string[]; types: string[] }>): string {
  const lines = [
    '# API',
    '',
    'Every export of every subpath of the package, with the first sentence of its doc comment (the',
    "editor's hover shows the rest). Written from the built declarations by",
    '`UPDATE_PUBLIC_API=1 npx vitest run test/package/package-exports.test.ts`, which also updates',
    '`test/fixtures/public-api.json`; the test fails when an export is missing here. Indices in JSON',
    '(blocks, threads, calls) are 0-based; the CLI and the pages number blocks from 1.',
  ];
  for (const [sub, { values, types }] of Object.entries(lists)) {
    const name = sub === '.' ? 'threadweaver-ts' : `threadweaver-ts/${sub.slice(2)}`;
    lines.push('', `## \`${name}\``, '', '| export | kind | what it is |', '| --- | --- | --- |');
    const rows = [...values.map((v) => [v, 'value'] as const), ...types.map((t) => [t, 'type'] as const)];
    for (const [n, kind] of rows.sort((a, b) => a[0].localeCompare(b[0])))
      lines.push(`| \`${n}\` | ${kind} | ${summaries.get(n) || '—'} |`);
  }
  return lines.join('\n') + '\n';
}

describe('public exports of the built package', () => {
  const declared = declaredExports();

  it('lists every subpath of package.json', () => {
    expect(Object.keys(expected).sort()).toEqual([...subpaths].sort());
  });

  it.each(subpaths)('%s exports exactly the listed values and types', async (sub) => {
    const mod = (await import(path.posix.join('threadweaver-ts', sub))) as Record<string, unknown>;
    const values = Object.keys(mod).sort();
    const types = [...declared.get(sub)!.keys()].filter((n) => !(n in mod)).sort();
    if (process.env.UPDATE_PUBLIC_API === '1') {
      expected[sub] = { values, types };
      writeFileSync(
        listFile,
        JSON.stringify(Object.fromEntries(subpaths.map((s) => [s, expected[s]])), null, 2) + '\n',
      );
    }
    expect(values).toEqual(expected[sub]!.values);
    expect(types).toEqual(expected[sub]!.types);
  });

  it('docs/api.md names every export of every subpath, and nothing else', () => {
    if (process.env.UPDATE_PUBLIC_API === '1') writeFileSync(apiDoc, renderApiDoc(expected));
    const text = readFileSync(apiDoc, 'utf8');
    const documented = new Map<string, string[]>();
    let sub = '';
    for (const line of text.split('\n')) {
      const heading = /^## `threadweaver-ts(?:\/([\w-]+))?`/.exec(line);
      if (heading) sub = heading[1] ? `./${heading[1]}` : '.';
      const row = /^\| `(\w+)` \|/.exec(line);
      if (row && sub) documented.set(sub, [...(documented.get(sub) ?? []), row[1]!]);
    }
    for (const s of subpaths)
      expect((documented.get(s) ?? []).sort(), s).toEqual([...expected[s]!.values, ...expected[s]!.types].sort());
  });

  it('a name exported by several subpaths is one declaration (no clashes)', () => {
    const seen = new Map<string, { sub: string; where: string }>();
    const clashes: string[] = [];
    for (const [sub, names] of declared) {
      for (const [name, where] of names) {
        const first = seen.get(name);
        if (!first) seen.set(name, { sub, where });
        else if (first.where !== where) clashes.push(`${name}: ${first.sub} (${first.where}) and ${sub} (${where})`);
      }
    }
    expect(clashes).toEqual([]);
  });

  it('every exported error class is a ThreadweaverError', async () => {
    const { ThreadweaverError } = await import('threadweaver-ts');
    const errors: string[] = [];
    for (const sub of subpaths) {
      const mod = (await import(path.posix.join('threadweaver-ts', sub))) as Record<string, unknown>;
      for (const [name, value] of Object.entries(mod)) {
        if (typeof value === 'function' && value.prototype instanceof Error) {
          errors.push(name);
          expect(value.prototype instanceof ThreadweaverError || value === ThreadweaverError, `${sub} ${name}`).toBe(
            true,
          );
        }
      }
    }
    // The classes a caller catches by name are among them.
    expect(errors).toEqual(
      expect.arrayContaining([
        'SolveError',
        'RetriesExhaustedError',
        'SettingsMismatchError',
        'DatasetError',
        'ResultsError',
        'RolloutFileError',
        'ApiError',
        'TraceError',
      ]),
    );
  });
});
