import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetsDir } from '../../src/solve/preset.js';
import { threadweaver } from '../support/cli.js';
import { qwen3Dir } from '../support/qwen3.js';

describe('--format and the format presets on the CLI', () => {
  it('lists every format’s presets, and prints one as its file holds it', async () => {
    const all = await threadweaver('presets', '--format', 'all', '--json');
    expect(JSON.parse(all.stdout).map((p: { name: string }) => p.name)).toEqual([
      'tiny',
      'qwen3-instructed',
      'threadweaver-qwen3-8b',
      'multiverse-32b',
      'npr-4b',
      'parallel-r1-4b',
    ]);
    const one = await threadweaver('presets', 'parallel-r1-4b', '--json');
    expect(JSON.parse(one.stdout)).toEqual(
      JSON.parse(await readFile(path.join(presetsDir(), 'parallel-r1/parallel-r1-4b.json'), 'utf8')),
    );
    const text = await threadweaver('presets', '--format', 'multiverse');
    expect(text.stdout).toContain('format       multiverse');
  });

  it('the prompt a format’s instructed style sends, and a bad format named before anything runs', async () => {
    const r = await threadweaver(
      'prompt',
      '--preset',
      'qwen3-instructed',
      '--format',
      'npr',
      '--tokenizer',
      qwen3Dir,
      'Compute 2*3 + 4*5.',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('<guideline>\n<plan>1: Compute 12*3.</plan>');
    const bad = await threadweaver('solve', '--format', 'parallel-r1:paths=two', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format: format parallel-r1:paths=two: paths /);
  });

  it('eval runs with a format and records it; solve --decompose reports its parts', async () => {
    const out = path.join(await mkdtemp(path.join(os.tmpdir(), 'tw-format-')), 'run');
    const ev = await threadweaver(
      'eval',
      '--dataset',
      'arith',
      '--limit',
      '1',
      '--mode',
      'parallel',
      '--format',
      'npr',
      '--out',
      out,
    );
    expect(ev.code).toBe(0);
    const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.config.preset.settings.format).toBe('npr');
    expect(summary.config.preset.overridden).toContain('format');

    const s = await threadweaver(
      'solve',
      '--json',
      '--decompose',
      '--extractor',
      'rules',
      'Compute each of: 37*24; 18*53; 29*11.',
    );
    expect(s.code).toBe(0);
    const j = JSON.parse(s.stdout);
    expect(j.answer).toBe('888, 954, 319');
    expect(j.decomposition.parts.map((p: { input: string }) => p.input)).toEqual(['37*24', '18*53', '29*11']);
  });
});
