/**
 * The code examples in the docs import from the package (`threadweaver-ts`, `threadweaver-ts/math`,
 * …), never from `./src/...`, and every name they import is exported there.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/helpers.js';

const docs = [
  'README.md',
  'eval/README.md',
  ...readdirSync(path.join(repoRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  exports: Record<string, { default: string } | string>;
};

/** `import { a, b as c } from 'x'` statements of a markdown file's ts/js code blocks. */
function imports(markdown: string): Array<{ names: string[]; from: string }> {
  const blocks = [...markdown.matchAll(/```(?:ts|typescript|js|javascript)\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((code) =>
    [...code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)].map((m) => ({
      names: m[1]!
        .split(',')
        .map(
          (n) =>
            n
              .trim()
              .replace(/^type\s+/, '')
              .split(/\s+as\s+/)[0]!,
        )
        .filter(Boolean),
      from: m[2]!,
    })),
  );
}

describe('doc examples', () => {
  it.each(docs)('%s imports from the package, and the names exist', async (doc) => {
    const md = readFileSync(path.join(repoRoot, doc), 'utf8');
    expect(md).not.toMatch(/from '\.{1,2}\/(src|eval|rl)\//);
    for (const { names, from } of imports(md)) {
      if (!from.startsWith('threadweaver-ts')) continue;
      const entry = pkg.exports[from.replace(/^threadweaver-ts/, '.')];
      expect(entry, `${doc}: ${from} is not an export of the package`).toBeDefined();
      const target = typeof entry === 'string' ? entry : entry!.default;
      const mod = (await import(pathToFileURL(path.join(repoRoot, target)).href)) as Record<string, unknown>;
      // Type-only names leave no trace at run time; every value named must be there.
      for (const name of names.filter(
        (n) => /^[a-z]|^[A-Z][a-z]/.test(n) && !/^(Solve|Grade|Run|Engine)[A-Z]?\w*(Options|Result)$/.test(n),
      )) {
        expect(mod[name], `${doc}: ${name} is not exported by ${from}`).toBeDefined();
      }
    }
  });
});
