import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openResults, ResultsError, type ResultRow } from '../../eval/results.js';

const repo = path.resolve(import.meta.dirname, '../..');

function row(
  problemId: string,
  sample: number,
  mode: ResultRow['mode'] = 'parallel',
  extra: Partial<ResultRow> = {},
): ResultRow {
  return {
    dataset: 'd',
    problemId,
    sample,
    mode,
    seed: sample,
    temperature: 0.6,
    topP: 0.95,
    gold: '1',
    answer: '1',
    correct: true,
    gradeReason: 'equal',
    formatValid: true,
    parallelBlocks: 1,
    threads: 2,
    totalTokens: 10,
    criticalPathTokens: 7,
    acceleration: 0.3,
    wallMs: 5,
    ...extra,
  };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-results-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('results store', () => {
  it('appends, reads back, and refuses a duplicate key', async () => {
    const file = path.join(dir, 'a.jsonl');
    const s = await openResults(file);
    expect(s.rows()).toEqual([]);
    await Promise.all([s.append(row('p1', 0)), s.append(row('p1', 0, 'sequential')), s.append(row('p2', 0))]);
    expect(s.has({ dataset: 'd', problemId: 'p1', sample: 0, mode: 'sequential' })).toBe(true);
    expect(s.has({ dataset: 'd', problemId: 'p1', sample: 1, mode: 'sequential' })).toBe(false);
    await expect(s.append(row('p1', 0))).rejects.toThrow(ResultsError);
    await s.close();
    const text = await readFile(file, 'utf8');
    expect(text.split('\n')).toHaveLength(4); // three lines and the final newline
    const again = await openResults(file);
    expect(again.rows()).toEqual([row('p1', 0), row('p1', 0, 'sequential'), row('p2', 0)]);
    expect(again.repairedBytes).toBe(0);
    await again.close();
  });

  it('cuts a torn last line and keeps every complete one', async () => {
    const file = path.join(dir, 'torn.jsonl');
    const full = JSON.stringify(row('p1', 0)) + '\n' + JSON.stringify(row('p2', 0)) + '\n';
    const torn = JSON.stringify(row('p3', 0)).slice(0, 40);
    await writeFile(file, full + torn);
    const s = await openResults(file);
    expect(s.repairedBytes).toBe(Buffer.byteLength(torn));
    expect(s.rows().map((r) => r.problemId)).toEqual(['p1', 'p2']);
    expect(await readFile(file, 'utf8')).toBe(full);
    await s.append(row('p3', 0));
    await s.close();
    expect((await openResults(file)).rows().map((r) => r.problemId)).toEqual(['p1', 'p2', 'p3']);
  });

  it('names file:line for a corrupt complete line, and keeps the first of duplicate keys', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    await writeFile(bad, JSON.stringify(row('p1', 0)) + '\n{nope\n');
    await expect(openResults(bad)).rejects.toThrow(`${bad}:2: invalid JSON`);
    await writeFile(
      bad,
      JSON.stringify(row('p1', 0)) + '\n' + JSON.stringify({ ...row('p2', 0), correct: 'yes' }) + '\n',
    );
    await expect(openResults(bad)).rejects.toThrow(`${bad}:2: field "correct"`);
    const dup = path.join(dir, 'dup.jsonl');
    await writeFile(
      dup,
      [row('p1', 0, 'parallel', { answer: 'first' }), row('p1', 0, 'parallel', { answer: 'second' })]
        .map((r) => JSON.stringify(r) + '\n')
        .join(''),
    );
    const s = await openResults(dup);
    expect(s.rows().map((r) => r.answer)).toEqual(['first']);
  });
});

describe('resume after SIGKILL', () => {
  const N = 40;
  let script: string;

  beforeAll(async () => {
    // The child runs the real store from the TypeScript sources (see rl-ts-loader.mjs).
    script = path.join(dir, 'child.mjs');
    // Rows of ~1 MiB are written in several chunks, so the kill can land inside a row (rarely: the sync
    // dominates); the torn-line test above covers that case deterministically.
    await writeFile(
      script,
      `import { openResults } from ${JSON.stringify(pathToFileURL(path.join(repo, 'eval/results.ts')).href)};
const [file, n] = [process.argv[2], Number(process.argv[3])];
const store = await openResults(file);
const text = 'x'.repeat(1024 * 1024);
for (let i = 0; i < n; i++) {
  for (const mode of ['parallel', 'sequential']) {
    const key = { dataset: 'd', problemId: 'p' + i, sample: 0, mode };
    if (store.has(key)) continue;
    await store.append({ ...key, seed: i, temperature: 0, topP: 1, gold: String(i), answer: String(i), correct: true,
      gradeReason: 'equal', formatValid: true, parallelBlocks: 1, threads: 2, totalTokens: i, criticalPathTokens: i,
      acceleration: 0, wallMs: 1, text });
    process.stdout.write('.');
  }
}
await store.close();
process.stdout.write('done');
`,
    );
  });

  function run(file: string, killAfter?: number): Promise<{ out: string; signal: NodeJS.Signals | null }> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', path.join(repo, 'test/support/rl-ts-loader.mjs'), script, file, String(N)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (killAfter !== undefined && out.length >= killAfter) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('exit', (_code, signal) => resolve({ out, signal }));
    });
  }

  it('keeps every complete line, drops garbage, and the rerun completes the set without duplicates', async () => {
    const file = path.join(dir, 'killed.jsonl');
    const first = await run(file, 7);
    expect(first.signal).toBe('SIGKILL');
    expect(first.out).not.toContain('done');

    const reopened = await openResults(file);
    const survivors = reopened.rows();
    // Everything reported as appended before the kill is there (a write may also have landed unreported).
    expect(survivors.length).toBeGreaterThanOrEqual(first.out.length);
    expect(survivors.length).toBeLessThan(2 * N);
    expect(new Set(survivors.map((r) => `${r.problemId}/${r.mode}`)).size).toBe(survivors.length);
    await reopened.close();
    const text = await readFile(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n').filter(Boolean)).toHaveLength(survivors.length);

    const second = await run(file);
    expect(second.signal).toBeNull();
    expect(second.out.endsWith('done')).toBe(true);
    expect(second.out.length - 'done'.length).toBe(2 * N - survivors.length);

    const final = await openResults(file);
    const keys = final.rows().map((r) => `${r.problemId}/${r.mode}`);
    expect(keys).toHaveLength(2 * N);
    expect(new Set(keys).size).toBe(2 * N);
    expect((await readFile(file, 'utf8')).split('\n').filter(Boolean)).toHaveLength(2 * N);
    await final.close();
  });
});
