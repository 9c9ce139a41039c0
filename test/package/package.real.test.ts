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

/** The environment without the npm_* variables `npm test` passes down (they carry this repo's .npmrc). */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
/** The lines npm itself warned with (`npm warn …`), from a command's stderr. */
const npmWarnings = (stderr: string): string[] => stderr.split('\n').filter((l) => /^npm warn/i.test(l));

describe('package', () => {
  it('is an ESM package with the threadweaver bin; installs here run no install scripts', () => {
    expect(pkg.name).toBe('threadweaver-ts');
    expect(pkg.type).toBe('module');
    expect(pkg.bin.threadweaver).toBe('dist/src/cli/main.js');
    expect(readFileSync(path.join(repoRoot, '.npmrc'), 'utf8')).toMatch(/^ignore-scripts=true$/m);
    // npm 11's policy, should someone install here with scripts on: every dependency of the
    // lockfile with an install script is denied, and nothing is allowed.
    const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const scripted = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([key]) => key.replace(/^.*node_modules\//, ''));
    expect(scripted).toEqual(expect.arrayContaining(['onnxruntime-node', 'protobufjs']));
    for (const name of scripted) expect(pkg.allowScripts[name], name).toBe(false);
    expect(Object.values(pkg.allowScripts).every((v) => v === false)).toBe(true);
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'models', 'prompts']));
  });

  it("the repository's commands print no npm warnings (the .npmrc holds only keys npm knows)", async () => {
    const r = await exec('npx', ['threadweaver', '--version'], { cwd: repoRoot, env: cleanEnv });
    expect(r.stdout.trim()).toBe(`threadweaver-ts ${pkg.version}`);
    expect(npmWarnings(r.stderr)).toEqual([]);
    const config = await exec('npm', ['config', 'get', 'ignore-scripts'], { cwd: repoRoot, env: cleanEnv });
    expect(config.stdout.trim()).toBe('true');
    expect(npmWarnings(config.stderr)).toEqual([]);
  });

  // Each subpath's export list is checked against the build in package-exports.test.ts.
});

// What a consumer does: `npm install` the published tarball into a project of their own, where this
// repo's .npmrc does not apply. onnxruntime-node's postinstall would fetch CUDA binaries from NuGet
// (failing offline or behind a proxy); the README's settings skip it: ONNXRUNTIME_NODE_INSTALL=skip
// (read by the script itself, on any npm) and, for npm 11, `allowScripts` entries that deny the
// script (npm 10 ignores the field). Dependencies come from the local npm cache (`--offline`); if
// the cache lacks their metadata, from the npm registry.
describe('npm pack, then install into a fresh folder as a consumer would', () => {
  let dir: string;
  let tarball: string;

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

  /** `env`: the variable alone. `allowScripts`: the variable and the package.json entries, as the README advises. */
  type Setting = 'env' | 'allowScripts';
  async function consumer(name: string, setting: Setting): Promise<{ app: string; stderr: string }> {
    const app = path.join(dir, name);
    await exec('mkdir', ['-p', app]);
    // The README's entries, and one for the tarball: installed from a file rather than the registry,
    // this package's own `prepare` counts as an install script for npm 11 (named by its path).
    const allowScripts =
      setting === 'allowScripts'
        ? { allowScripts: { 'onnxruntime-node': false, protobufjs: false, [`file:${tarball}`]: false } }
        : {};
    await writeFile(
      path.join(app, 'package.json'),
      JSON.stringify({ name, private: true, type: 'module', ...allowScripts }),
    );
    const env = { ...cleanEnv, ONNXRUNTIME_NODE_INSTALL: 'skip' };
    const install = (mode: string) =>
      exec('npm', ['install', mode, '--no-audit', '--no-fund', tarball], { cwd: app, env, maxBuffer: 1 << 24 });
    try {
      return { app, stderr: (await install('--offline')).stderr };
    } catch (err) {
      if (!/ENOTCACHED/.test(String((err as { stderr?: string }).stderr))) throw err;
      console.warn(`[package] the npm cache lacks some dependency metadata: installing ${name} with --prefer-offline`);
      return { app, stderr: (await install('--prefer-offline')).stderr };
    }
  }

  it.each(['env', 'allowScripts'] as const)(
    'with the setting in %s: installs, imports, and solves on the bundled model',
    async (setting) => {
      const { app, stderr } = await consumer(`consumer-${setting}`, setting);
      // With both settings npm has nothing to warn about, on npm 10 (which ignores allowScripts) and 11.
      if (setting === 'allowScripts') expect(npmWarnings(stderr)).toEqual([]);
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
