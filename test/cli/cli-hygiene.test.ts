import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatProgress } from '../../eval/progress.js';
import { closest, editDistance } from '../../src/cli/suggest.js';
import { etaMs, formatTiming } from '../../src/batch/progress.js';
import { formatProgressBar } from '../../src/batch/progress.js';
import { repoRoot } from '../support/helpers.js';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'dist/src/cli/main.js');

async function threadweaver(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('CLI hygiene', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await threadweaver(flag);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`threadweaver-ts ${version}`);
    }
  });

  it('an unknown command suggests the closest one, exit 2', async () => {
    const r = await threadweaver('slove', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'slove'; did you mean 'solve'\?/);
    const far = await threadweaver('frobnicate');
    expect(far.code).toBe(2);
    expect(far.stderr).not.toMatch(/did you mean/);
  });

  it('closest: typos, swaps and prefixes, nothing for unrelated words', () => {
    const names = ['eval', 'export', 'gateway', 'grade', 'rollout', 'serve', 'sft', 'solve', 'trie', 'view', 'data'];
    expect(editDistance('slove', 'solve')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('slove', names)).toBe('solve');
    expect(closest('evl', names)).toBe('eval');
    expect(closest('gate', names)).toBe('gateway');
    expect(closest('rollouts', names)).toBe('rollout');
    expect(closest('dat', names)).toBe('data');
    expect(closest('frobnicate', names)).toBeUndefined();
  });

  it('progress lines show an ETA at the pace of this run (resumed items do not count)', () => {
    expect(etaMs(0, 10, 5000)).toBeNull();
    expect(etaMs(5, 10, 5000)).toBe(10_000);
    expect(etaMs(5, 0, 5000)).toBe(0);
    expect(formatTiming(65_000, 190_000)).toBe('1m05s, ETA 3m10s');
    expect(formatTiming(65_000, 0)).toBe('1m05s');
    // 30 resumed + 10 run in 20 s, 60 left: 2 s each → 2 min.
    const line = formatProgress(
      {
        done: 40,
        total: 100,
        resumed: 30,
        accuracy: { parallel: 0.5, sequential: null },
        speedup: null,
        elapsedMs: 20_000,
      },
      10,
    );
    expect(line).toBe('[####------] 40/100 40% | acc par 50.0% | 20s, ETA 2m00s');
    expect(formatProgressBar('stage 1', 3, 12, ['kept 2'], 6000, { width: 12 })).toBe(
      'stage 1 [###---------] 3/12 | kept 2 | 6s, ETA 18s',
    );
  });

  it('a one-mode progress line reports the parallel width, not a speedup', () => {
    const line = formatProgress(
      {
        done: 1,
        total: 4,
        resumed: 0,
        accuracy: { parallel: 1, sequential: null },
        speedup: null,
        parallelWidth: 1.41,
        elapsedMs: 1000,
      },
      4,
    );
    expect(line).toBe('[#---] 1/4 25% | acc par 100.0% | width T/L 1.41× | 1s, ETA 3s');
  });
});
