import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, type Dataset } from '../../eval/dataset.js';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { validateTrajectory } from '../../src/format/validate.js';
import { extractAnswer } from '../../src/math/extract.js';
import { gradeAnswer } from '../../src/math/grade.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { readSftDataset } from '../../src/sft/dataset.js';
import { runStage2, type Stage2Result } from '../../src/sft/stage2.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { readJsonl } from '../support/helpers.js';

let engine: TransformersEngine;
let dataset: Dataset;
let dir: string;
let out: string;
let first: Stage2Result;

beforeAll(async () => {
  engine = await embeddedEngine();
  dataset = await loadDataset({ name: 'arith', limit: 30 });
  dir = await mkdtemp(path.join(tmpdir(), 'tw-sft2-'));
  out = path.join(dir, 'run');
  first = await runStage2({ dataset, engine, samples: 1, out, progress: false });
}, 600_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('stage 2 on the bundled model, arith × 30, greedy', () => {
  it('passes the format check and grades correct on at least 90% and keeps those', () => {
    const s = first.stats;
    console.log(
      `stage 2: format pass ${s.formatPassRate}, accuracy ${s.accuracy}, kept ${s.kept}/${s.generated}, mean η ${s.acceleration?.mean.toFixed(3)}`,
    );
    expect(s.generated).toBe(30);
    expect(s.formatPassRate).toBeGreaterThanOrEqual(0.9);
    expect(s.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(s.kept).toBeGreaterThanOrEqual(27);
    expect(s.kept).toBeLessThanOrEqual(Math.min(s.formatPass, s.correct));
    expect(s.duplicates).toBe(0);
    expect(s.keptWithParallel).toBeGreaterThan(0); // products and poly problems fork
    expect(s.acceleration!.max).toBeGreaterThan(0.1);
    expect(Object.keys(s.threadsPerBlockCounts).length).toBeGreaterThan(0);
  });

  it('writes rows that parse back into valid, correct trajectories, with their trie layouts', async () => {
    const rows = await readSftDataset(path.join(out, 'sft.jsonl'));
    expect(rows).toHaveLength(first.stats.kept);
    const byId = new Map(dataset.problems.map((p) => [p.id, p]));
    for (const row of rows) {
      const problem = byId.get(row.id.replace(/#\d+$/, ''))!;
      expect(row.messages[0].content).toBe(problem.problem);
      const text = row.messages[1].content;
      expect(text.startsWith('<think>\n')).toBe(true);
      expect(validateTrajectory(text), row.id).toEqual([]);
      expect(gradeAnswer(extractAnswer(text), problem.answer).equal, row.id).toBe(true);
    }
    const trie = readJsonl<{ id: string; ids: number[]; parent: number[]; branch: number[]; loss: number[] }>(
      path.join(out, 'sft-trie.jsonl'),
    );
    expect(trie.map((t) => t.id)).toEqual(rows.map((r) => r.id));
    const forked = rows.findIndex((r) => r.messages[1].content.includes('<Parallel>'));
    const t = trie[forked]!;
    const mainLength = t.branch.indexOf(1);
    const prompt = buildPrompt(engine.tokenizer, rows[forked]!.messages[0].content, 'parallel');
    expect(engine.tokenizer.decode(t.ids.slice(0, mainLength))).toBe(
      `${prompt}${rows[forked]!.messages[1].content}<|im_end|>`,
    );
    const stats = JSON.parse(await readFile(path.join(out, 'stats.json'), 'utf8')) as Record<string, unknown>;
    expect(stats).toMatchObject({ stage: 2, dataset: 'arith', generated: 30, kept: rows.length });
    expect(await readFile(path.join(out, 'report.md'), 'utf8')).toContain('## η histogram (kept)');
  });

  it('a rerun resumes from the stored rollouts and writes the same dataset', async () => {
    const before = await readFile(path.join(out, 'sft.jsonl'), 'utf8');
    const again = await runStage2({ dataset, engine, samples: 1, out, progress: false });
    expect(again.ran).toBe(0);
    expect(again.resumed).toBe(30);
    expect(await readFile(path.join(out, 'sft.jsonl'), 'utf8')).toBe(before);
  });

  it('drops repeated trajectories of a problem', async () => {
    // Greedy decoding: the second sample of each problem repeats the first.
    const small = { name: dataset.name, problems: dataset.problems.slice(0, 2) };
    const r = await runStage2({ dataset: small, engine, samples: 2, out: path.join(dir, 'dupes'), progress: false });
    expect(r.stats.generated).toBe(4);
    expect(r.stats.duplicates).toBe(r.stats.kept);
    expect(r.stats.problemsKept).toBe(r.stats.kept);
  });
});
