import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/helpers.js';

// The walls between rooms (docs/architecture.md) are the linter's: this lints code as if it stood
// in a room, with the repository's own rules for that room, and checks what is refused.

const config = (
  (await import(pathToFileURL(path.join(repoRoot, 'eslint.config.js')).href)) as { default: Linter.Config[] }
).default;

/** The lint rules eslint.config.js gives a file at `file` (only the wall and the throw rules). */
function rulesFor(file: string): Linter.RulesRecord {
  const rules: Linter.RulesRecord = {};
  for (const block of config) {
    const files = (block.files ?? []).flat().filter((g): g is string => typeof g === 'string');
    if (!files.some((g) => path.matchesGlob(file, g))) continue;
    for (const name of ['no-restricted-imports', 'no-restricted-syntax'])
      if (block.rules?.[name]) rules[name] = block.rules[name];
  }
  return rules;
}

async function lint(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: repoRoot,
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, rules: rulesFor(file) }],
  });
  const [result] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) });
  return result!.messages.map((m) => m.message);
}

describe('the walls the linter keeps', () => {
  it('an engine file may not import the orchestrator or the front door', async () => {
    const messages = await lint(
      'src/engine/embedded/new-engine.ts',
      "import { Controller } from '../../orchestrator/controller.js';\nimport { solve } from '../../solve/solve.js';\nexport const x = [Controller, solve];\n",
    );
    expect(messages).toEqual([
      expect.stringContaining('the engine room may not import orchestrator'),
      expect.stringContaining('the engine room may not import solve'),
    ]);
  });

  it('no core file imports eval, rl, the servers or the CLI', async () => {
    for (const room of ['format', 'math', 'trie', 'engine', 'orchestrator']) {
      const messages = await lint(
        `src/${room}/x.ts`,
        "import { runEval } from '../../eval/runner.js';\nimport { runRollouts } from '../../rl/rollout.js';\nimport { startServer } from '../server/serve/server.js';\nimport main from '../cli/main.js';\nexport const x = [runEval, runRollouts, startServer, main];\n",
      );
      expect(messages, room).toHaveLength(4);
    }
  });

  it('serve imports the engine, not the front door; the gateway may import both', async () => {
    const code =
      "import { solve } from '../../solve/solve.js';\nimport type { Engine } from '../../engine/types.js';\nexport const x: [typeof solve, Engine?] = [solve];\n";
    expect(await lint('src/server/serve/x.ts', code)).toEqual([
      expect.stringContaining('the serve room may not import solve'),
    ]);
    expect(await lint('src/server/gateway/x.ts', code)).toEqual([]);
  });

  it('nothing imports the CLI, and the package root loads no viewer', async () => {
    expect(await lint('eval/x.ts', "import main from '../src/cli/main.js';\nexport default main;\n")).toHaveLength(1);
    expect(await lint('src/index.ts', "export { startViewer } from './server/viewer/viewer.js';\n")).toEqual([
      expect.stringContaining('the root room may not import viewer'),
    ]);
  });

  it('a thrown plain Error is refused in the package code', async () => {
    expect(await lint('src/solve/x.ts', "export function f(): never {\n  throw new Error('x');\n}\n")).toEqual([
      expect.stringContaining('ThreadweaverError'),
    ]);
  });
});
