import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/helpers.js';

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const exec = promisify(execFile);

describe('package', () => {
  it('is an ESM package with the threadweaver bin and an offline-safe .npmrc', () => {
    expect(pkg.name).toBe('threadweaver-ts');
    expect(pkg.type).toBe('module');
    expect(pkg.bin.threadweaver).toBe('dist/src/cli/main.js');
    expect(readFileSync(path.join(repoRoot, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'models', 'prompts']));
  });

  // Each subpath's export list is checked against the build in package-exports.test.ts.
});

// What a consumer does: `npm install` the published tarball into a project of their own, where this
// repo's .npmrc does not apply. onnxruntime-node's postinstall would fetch CUDA binaries from NuGet
// (failing offline or behind a proxy); the README's setting skips it. Dependencies come from the
// local npm cache (`--offline`); if the cache lacks their metadata, from the npm registry.
describe('npm pack, then install into a fresh folder as a consumer would', () => {
  let dir: string;
  let tarball: string;
  /** The environment without the npm_* variables `npm test` passes down (they carry this repo's .npmrc). */
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tw-pack-'));
    // dist/ is fresh (the global setup rebuilds it), so pack without running `prepare` again.
    const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: repoRoot,
      env: cleanEnv,
    });
    tarball = path.join(dir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function consumer(name: string, setting: 'env' | 'npmrc'): Promise<string> {
    const app = path.join(dir, name);
    await exec('mkdir', ['-p', app]);
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
    const env = { ...cleanEnv, ...(setting === 'env' ? { ONNXRUNTIME_NODE_INSTALL: 'skip' } : {}) };
    if (setting === 'npmrc') await writeFile(path.join(app, '.npmrc'), 'onnxruntime-node-install=skip\n');
    const install = (mode: string) =>
      exec('npm', ['install', mode, '--no-audit', '--no-fund', tarball], { cwd: app, env, maxBuffer: 1 << 24 });
    try {
      await install('--offline');
    } catch (err) {
      if (!/ENOTCACHED/.test(String((err as { stderr?: string }).stderr))) throw err;
      console.warn(`[package] the npm cache lacks some dependency metadata: installing ${name} with --prefer-offline`);
      await install('--prefer-offline');
    }
    return app;
  }

  it.each(['env', 'npmrc'] as const)(
    'with the setting in %s: installs, imports, and solves on the bundled model',
    async (setting) => {
      const app = await consumer(`consumer-${setting}`, setting);
      // The postinstall was skipped: the CUDA provider it downloads on linux/x64 is absent; the CPU binding ships.
      const bin = path.join(app, 'node_modules/onnxruntime-node/bin/napi-v6', `${process.platform}`, process.arch);
      expect(existsSync(path.join(bin, 'onnxruntime_binding.node'))).toBe(true);
      expect(existsSync(path.join(bin, 'libonnxruntime_providers_cuda.so'))).toBe(false);

      await writeFile(
        path.join(app, 'main.mjs'),
        `import { solve } from 'threadweaver-ts';\nimport { gradeAnswer } from 'threadweaver-ts/math';\n` +
          `const r = await solve('Compute 37*24 + 18*53 - 29*11.');\n` +
          `console.log(JSON.stringify({ answer: r.answer, blocks: r.metrics.parallelBlocks, graded: (await gradeAnswer(r.answer, '1523')).equal }));\n`,
      );
      const { stdout } = await exec(process.execPath, ['main.mjs'], { cwd: app, env: cleanEnv });
      expect(JSON.parse(stdout)).toEqual({ answer: '1523', blocks: 1, graded: true });
      const cli = await exec(
        path.join(app, 'node_modules/.bin/threadweaver'),
        ['solve', '--json', 'Compute 25*58 + 13*96.'],
        { cwd: app, env: cleanEnv },
      );
      expect(JSON.parse(cli.stdout).answer).toBe('2698');
    },
  );
});
