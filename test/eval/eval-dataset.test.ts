import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasSharedFile, sharedDir } from '../support/helpers.js';
import { BENCHMARK_FILES, DatasetError, loadDataset } from '../../eval/dataset.js';

const benchmarks = path.join(sharedDir, 'benchmarks');
const hasShared = hasSharedFile('benchmarks', "eval-dataset's benchmark file checks");

describe.skipIf(!hasShared)('benchmark files', () => {
  const expected: Record<string, number> = {
    aime24: 30,
    aime25: 30,
    amc23: 40,
    math500: 500,
    minerva: 272,
    olympiadbench: 675,
    gsm8k: 1319,
    arith500: 500,
  };

  it.each(Object.entries(expected))('%s loads %i problems', async (name, count) => {
    const d = await loadDataset({ name, dataDir: benchmarks });
    expect(d.name).toBe(name);
    expect(d.problems).toHaveLength(count);
    expect(new Set(d.problems.map((p) => p.id)).size).toBe(count);
    for (const p of d.problems) {
      expect(p.problem.trim()).not.toBe('');
      expect(p.answer.trim()).not.toBe('');
    }
  });

  it('resolves names through the default data folder too', async () => {
    // An empty fetch cache, so the checkout's folder is where the name resolves.
    const cache = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = path.join(os.tmpdir(), 'tw-no-cache');
    const d = await loadDataset({ name: 'aime24' }).finally(() => {
      if (cache === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = cache;
    });
    expect(d.problems).toHaveLength(30);
    // Gold answers stay as written: zero padding is kept.
    expect(d.problems.some((p) => p.answer === '025')).toBe(true);
    // Extra fields survive.
    expect(d.problems[0]!.source).toMatch(/QwenLM/);
  });

  it('limits: first rows, or a seeded subset in file order', async () => {
    const all = await loadDataset({ name: 'math500', dataDir: benchmarks });
    const first = await loadDataset({ name: 'math500', dataDir: benchmarks, limit: 5 });
    expect(first.problems).toEqual(all.problems.slice(0, 5));
    const a = await loadDataset({ name: 'math500', dataDir: benchmarks, limit: 5, seed: 1 });
    const b = await loadDataset({ name: 'math500', dataDir: benchmarks, limit: 5, seed: 1 });
    expect(a).toEqual(b);
    expect(a.problems).not.toEqual(first.problems);
    const idx = a.problems.map((p) => all.problems.findIndex((q) => q.id === p.id));
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect([...idx].sort((x, y) => x - y)).toEqual(idx);
  });

  it('accepts a file path for a dataset name', async () => {
    const d = await loadDataset({ name: path.join(benchmarks, 'amc23.jsonl') });
    expect(d.name).toBe('amc23');
    expect(d.problems).toHaveLength(40);
  });
});

describe('bad dataset files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tw-dataset-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const good = '{"id": 1, "problem": "What is 1+1?", "answer": 2, "topic": "sums"}';
  async function load(text: string, name = 'data.jsonl') {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return { file, load: () => loadDataset({ file }) };
  }

  it('coerces ids and answers to strings and keeps extra fields', async () => {
    const { load: l } = await load(good + '\n\n{"id": "b", "problem": "x?", "answer": "7"}\n');
    const d = await l();
    expect(d.name).toBe('data');
    expect(d.problems).toEqual([
      { id: '1', problem: 'What is 1+1?', answer: '2', topic: 'sums' },
      { id: 'b', problem: 'x?', answer: '7' },
    ]);
  });

  const cases: Array<[string, string, RegExp]> = [
    ['missing field', `${good}\n{"id": 2, "answer": "3"}\n`, /:2: field "problem" is missing/],
    [
      'wrong type',
      `${good}\n${good.replace('"id": 1', '"id": 9')}\n{"id": 3, "problem": "p", "answer": [1]}\n`,
      /:3: field "answer" must be a string or a number, got an array/,
    ],
    [
      'empty problem',
      `{"id": 1, "problem": "  ", "answer": "1"}\n`,
      /:1: field "problem" must be a non-empty string, got an empty string/,
    ],
    ['invalid JSON line', `${good}\n{"id": 2, "problem": "p", "answer": \n`, /:2: invalid JSON/],
    ['not an object', `${good}\n[1, 2]\n`, /:2: row must be a JSON object, got an array/],
    ['duplicate id', `${good}\n${good}\n`, /:2: duplicate id "1" \(first on line 1\)/],
    ['empty file', '', /no problems \(the file is empty\)/],
    ['blank lines only', '\n  \n', /no problems/],
  ];

  it.each(cases)('%s', async (label, text, message) => {
    const { file, load: l } = await load(text, `${label.replace(/\W+/g, '-')}.jsonl`);
    const err = await l().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message.startsWith(file)).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  it('missing file, unknown name, no data folder, bad limit', async () => {
    const missing = path.join(dir, 'nope.jsonl');
    await expect(loadDataset({ file: missing })).rejects.toThrow(`${missing}: no such dataset file`);
    await expect(loadDataset({ name: 'aime99' })).rejects.toThrow(/unknown dataset "aime99"/);
    await expect(loadDataset({ name: 'aime24', dataDir: dir })).rejects.toThrow(
      `${path.join(dir, 'aime24.jsonl')}: no such dataset file`,
    );
    await expect(loadDataset({ name: 'arith', limit: 0 })).rejects.toThrow(/limit must be a positive whole number/);
    await expect(loadDataset({})).rejects.toThrow(/needs a name or a file/);
    expect(BENCHMARK_FILES.minerva).toBe('minerva_math.jsonl');
  });
});
