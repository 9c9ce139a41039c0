import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));

describe('package', () => {
  it('is an ESM package with the threadweaver bin and an offline-safe .npmrc', () => {
    expect(pkg.name).toBe('threadweaver-ts');
    expect(pkg.type).toBe('module');
    expect(pkg.bin.threadweaver).toBe('dist/src/cli/main.js');
    expect(readFileSync(path.join(repoRoot, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'models', 'prompts']));
  });

  it.each(Object.keys(pkg.exports).filter((k) => k !== './package.json'))('export %s loads from the build', async (sub) => {
    const mod = await import(path.posix.join('threadweaver-ts', sub));
    expect(Object.keys(mod).length).toBeGreaterThan(0);
  });
});
