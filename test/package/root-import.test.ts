import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/helpers.js';

// What importing a subpath loads, read from the built modules' static imports (dist/, rebuilt by
// the global setup): the package root must not pull in the batch runs, the viewer or the CLI, and
// no subpath loads transformers.js until an embedded engine or a tokenizer is loaded.

/** Every module a built file reaches through static imports: our files, and the packages named. */
function staticGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    // `import x from`, `export { x } from` and bare `import '…'`; `import type` is erased at build.
    for (const m of source.matchAll(/^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) walk(path.resolve(path.dirname(file), spec));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  walk(path.join(repoRoot, entry));
  return { files: [...files].map((f) => path.relative(path.join(repoRoot, 'dist'), f)), packages };
}

describe('what a subpath loads', () => {
  it('the package root loads the front door and the core, not eval, rl, sft, the viewer or the CLI', () => {
    const { files, packages } = staticGraph('dist/src/index.js');
    expect(files.filter((f) => /^(eval|rl)\/|^src\/(sft|cli|batch\/(?!setting-differences))|viewer/.test(f))).toEqual(
      [],
    );
    expect(files).toContain('src/solve/solve.js');
    expect(packages.has('@huggingface/transformers')).toBe(false);
  });

  it('threadweaver-ts/math loads the grader alone', () => {
    const { files, packages } = staticGraph('dist/src/math/index.js');
    expect(
      files.every((f) => f.startsWith('src/math/') || f.startsWith('src/internal/') || f === 'src/errors.js'),
    ).toBe(true);
    expect([...packages].filter((p) => !p.startsWith('node:')).sort()).toEqual(['@cortex-js/compute-engine', 'zod']);
  });

  it('no subpath imports transformers.js statically: it loads with the first model or tokenizer', () => {
    for (const entry of ['dist/src/index.js', 'dist/src/trie/index.js', 'dist/eval/index.js', 'dist/rl/index.js'])
      expect(staticGraph(entry).packages.has('@huggingface/transformers'), entry).toBe(false);
  });
});
