import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeLines, jsonlRows, runCli } from '../support/cli-process.js';

// Ctrl-C (SIGINT) to each long command on the bundled model, as a user would press it: the
// command stops, says so, exits 130, and leaves only whole rows behind; the same command run
// again resumes from them and finishes with every row exactly once.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-sigint-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const key = (r: Record<string, unknown>) => `${r.dataset}/${r.problemId}/${r.sample}/${r.mode}`;

describe('SIGINT, then the same command again', () => {
  it('eval: finished samples and a summary of them are kept; the rerun runs only the rest', async () => {
    const out = path.join(dir, 'eval');
    const results = path.join(out, 'results.jsonl');
    const args = [
      'eval',
      '--dataset',
      'arith',
      '--limit',
      '4',
      '--k',
      '1',
      '--mode',
      'both',
      '--concurrency',
      '1',
      '--out',
      out,
    ];
    const first = await runCli(args, { interruptWhen: () => completeLines(results) >= 2 });
    expect(first.interrupted).toBe(true);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toContain('interrupted: finished samples are kept; rerun to resume');
    const kept = jsonlRows(results);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThan(8);
    // The summary covers exactly what finished.
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    const counted = Object.values(summary.datasets.arith).reduce(
      (s: number, m) => s + ((m as { samples?: number } | null)?.samples ?? 0),
      0,
    );
    expect(counted).toBe(kept.length);

    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`${8 - kept.length} samples run, ${kept.length} resumed`);
    const all = jsonlRows(results);
    expect(all).toHaveLength(8);
    expect(new Set(all.map(key)).size).toBe(8);
    expect(all.slice(0, kept.length)).toEqual(kept);
  });

  it('rollout: stored trajectories are kept in the pending file; the rerun completes every group once', async () => {
    const out = path.join(dir, 'rollouts.jsonl');
    const pending = path.join(dir, 'rollouts.pending.jsonl');
    const args = ['rollout', '--dataset', 'arith', '--limit', '3', '--group', '2', '--out', out];
    const first = await runCli(args, { interruptWhen: () => completeLines(pending) >= 2 });
    expect(first.interrupted).toBe(true);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toMatch(
      /rollout: interrupted; trajectories of unfinished groups are in \S+rollouts\.pending\.jsonl\. Rerun the same command to resume\./,
    );
    const stored = jsonlRows(pending).length + jsonlRows(out).length;
    expect(stored).toBeGreaterThanOrEqual(2);

    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('resumed');
    const rows = jsonlRows(out);
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map(key)).size).toBe(6);
    expect(rows.every((r) => typeof r.advantage === 'number')).toBe(true);
    expect(existsSync(pending)).toBe(false);
  });

  it('sft stage2: stored rollouts are kept; the rerun solves only the rest and writes the dataset', async () => {
    const out = path.join(dir, 'stage2');
    const results = path.join(out, 'rollouts', 'results.jsonl');
    const args = ['sft', 'stage2', '--dataset', 'arith', '--limit', '3', '--out', out];
    const first = await runCli(args, { interruptWhen: () => completeLines(results) >= 1 });
    expect(first.interrupted).toBe(true);
    expect(first.code, first.stderr).toBe(130);
    const kept = jsonlRows(results);
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length).toBeLessThan(3);

    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    const all = jsonlRows(results);
    expect(all).toHaveLength(3);
    expect(all.slice(0, kept.length)).toEqual(kept);
    expect(jsonlRows(path.join(out, 'sft.jsonl')).length).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(path.join(out, 'stats.json'), 'utf8'))).toMatchObject({ stage: 2, problems: 3 });
  });
});
