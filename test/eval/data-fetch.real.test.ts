/**
 * `threadweaver data fetch` against a local HTTP server on 127.0.0.1 laid out like the Hugging
 * Face hub (`/datasets/<repo>/resolve/<revision>/<path>`), serving fixture files in each source's
 * real format (JSONL, or Parquet with the upstream column types) and row counts.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCHMARKS, benchmark } from '../../eval/catalog.js';
import { loadDataset } from '../../eval/dataset.js';
import { fetchBenchmark, fileUrl, FetchError } from '../../eval/fetch.js';
import { runCli } from '../support/cli-process.js';
import { repoRoot } from '../support/helpers.js';

const exec = promisify(execFile);
const cli = path.join(repoRoot, 'dist/src/cli/main.js');

/** Arithmetic the bundled model can answer, so a fetched set also runs through eval. */
const problem = (i: number) => `Compute ${11 + (i % 80)}*${2 + (i % 7)}.`;
const answer = (i: number) => (11 + (i % 80)) * (2 + (i % 7));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const jsonl = (rows: object[]) => Buffer.from(rows.map((r) => JSON.stringify(r) + '\n').join(''));
const parquet = (columns: ColumnSource[]) => Buffer.from(parquetWriteBuffer({ columnData: columns }));

/** Fixture files by hub path, in each upstream's format and with its row count. */
function fixtures(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const put = (repo: string, revision: string, file: string, body: Buffer) =>
    files.set(`/datasets/${repo}/resolve/${revision}/${file}`, body);
  const n30 = range(30);
  put(
    'Maxwell-Jia/AIME_2024',
    'main',
    'aime_2024_problems.parquet',
    parquet([
      { name: 'ID', data: n30.map((i) => `2024-${i < 15 ? 'I' : 'II'}-${(i % 15) + 1}`), type: 'STRING' },
      { name: 'Problem', data: n30.map(problem), type: 'STRING' },
      { name: 'Solution', data: n30.map((i) => `It is ${answer(i)}.`), type: 'STRING' },
      { name: 'Answer', data: n30.map((i) => BigInt(answer(i))), type: 'INT64' },
    ]),
  );
  for (const [k, part] of [
    [0, 'I'],
    [1, 'II'],
  ] as const) {
    put(
      'opencompass/AIME2025',
      'main',
      `aime2025-${part}.jsonl`,
      jsonl(range(15).map((i) => ({ question: problem(i + 15 * k), answer: k ? answer(i + 15) : String(answer(i)) }))),
    );
  }
  const n40 = range(40);
  put(
    'math-ai/amc23',
    'refs/convert/parquet',
    'default/test/0000.parquet',
    parquet([
      { name: 'id', data: n40.map((i) => BigInt(i)), type: 'INT64' },
      { name: 'question', data: n40.map(problem), type: 'STRING' },
      { name: 'answer', data: n40.map((i) => answer(i)), type: 'DOUBLE' },
      {
        name: 'url',
        data: n40.map(
          (i) =>
            `https://artofproblemsolving.com/wiki/index.php/2023_AMC_12${i < 22 ? 'A' : 'B'}_Problems/Problem_${(i % 22) + 1}`,
        ),
        type: 'STRING',
      },
    ]),
  );
  put(
    'HuggingFaceH4/MATH-500',
    'main',
    'test.jsonl',
    jsonl(
      range(500).map((i) => ({
        problem: problem(i),
        solution: `\\boxed{${answer(i)}}`,
        answer: String(answer(i)),
        subject: 'Prealgebra',
        level: 1 + (i % 5),
        unique_id: `test/prealgebra/${i}.json`,
      })),
    ),
  );
  const n272 = range(272);
  put(
    'math-ai/minervamath',
    'refs/convert/parquet',
    'default/test/0000.parquet',
    parquet([
      { name: 'question', data: n272.map(problem), type: 'STRING' },
      { name: 'answer', data: n272.map((i) => String(answer(i))), type: 'STRING' },
    ]),
  );
  const n674 = range(674);
  put(
    'Hothan/OlympiadBench',
    'refs/convert/parquet',
    'OE_TO_maths_en_COMP/train/0000.parquet',
    parquet([
      { name: 'id', data: n674.map((i) => BigInt(1600 + i)), type: 'INT64' },
      { name: 'question', data: n674.map(problem), type: 'STRING' },
      { name: 'final_answer', data: n674.map((i) => (i === 1 ? ['$69$,$84$'] : [`$${answer(i)}$`])) },
      { name: 'context', data: n674.map(() => null), type: 'STRING', nullable: true },
      { name: 'subfield', data: n674.map(() => 'Algebra'), type: 'STRING' },
      { name: 'is_multiple_answer', data: n674.map((i) => i === 1), type: 'BOOLEAN' },
    ]),
  );
  for (const repo of ['hmmt_feb_2025', 'brumo_2025']) {
    put(
      `MathArena/${repo}`,
      'main',
      'data/train-00000-of-00001.parquet',
      parquet([
        { name: 'problem_idx', data: n30.map((i) => BigInt(i + 1)), type: 'INT64' },
        { name: 'problem', data: n30.map(problem), type: 'STRING' },
        { name: 'answer', data: n30.map((i) => (i === 4 ? '\\frac{9}{2}' : String(answer(i)))), type: 'STRING' },
        { name: 'problem_type', data: n30.map((i) => (i % 2 ? ['Algebra'] : ['Combinatorics', 'Number Theory'])) },
      ]),
    );
  }
  const n1319 = range(1319);
  put(
    'openai/gsm8k',
    'main',
    'main/test-00000-of-00001.parquet',
    parquet([
      { name: 'question', data: n1319.map(problem), type: 'STRING' },
      {
        name: 'answer',
        data: n1319.map((i) => `Multiply: <<${answer(i)}>>.\n#### ${i === 2 ? '1,450' : answer(i)}`),
        type: 'STRING',
      },
    ]),
  );
  return files;
}

let server: Server;
let mirror: string;
let dir: string;
const files = fixtures();
const requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
/** Paths answered with something else than the fixture: a status, or other bytes. */
const overrides = new Map<string, number | Buffer>();
/** Paths whose answer sends half its bytes, then stalls (a slow download). */
const stalled = new Set<string>();

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-data-'));
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const body = overrides.get(p) ?? files.get(p);
    if (typeof body === 'number' || body === undefined) {
      res.writeHead(typeof body === 'number' ? body : 404).end('no');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    if (stalled.has(p)) res.write(body.subarray(0, body.length >> 1));
    else res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function threadweaver(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the benchmark catalog', () => {
  it('names every benchmark with a source (or why none), a licence and a row count that matches its files', () => {
    expect(BENCHMARKS.map((b) => b.name)).toEqual([
      'aime24',
      'aime25',
      'amc23',
      'math500',
      'minerva',
      'olympiadbench',
      'gsm8k',
      'hmmt25',
      'brumo25',
      'arith500',
    ]);
    for (const b of BENCHMARKS) {
      expect(b.licence).not.toBe('');
      if (b.source) expect(b.source.reduce((s, f) => s + f.rows, 0)).toBe(b.rows);
      else expect(b.origin).toMatch(/not published/);
    }
    expect(benchmark('minerva_math')?.name).toBe('minerva');
  });

  it('builds hub URLs, the Parquet export branch escaped as one segment', () => {
    const f = benchmark('amc23')!.source![0]!;
    expect(fileUrl('https://huggingface.co', f)).toBe(
      'https://huggingface.co/datasets/math-ai/amc23/resolve/refs%2Fconvert%2Fparquet/default/test/0000.parquet',
    );
    expect(fileUrl('https://huggingface.co', benchmark('math500')!.source![0]!)).toBe(
      'https://huggingface.co/datasets/HuggingFaceH4/MATH-500/resolve/main/test.jsonl',
    );
  });
});

describe('data fetch from a local mirror', () => {
  it('downloads, converts and stores every benchmark with its counts; --dataset then reads them', async () => {
    const out = path.join(dir, 'all');
    for (const b of BENCHMARKS.filter((x) => x.source)) {
      const r = await fetchBenchmark(b.name, { dataDir: out, endpoint: mirror });
      expect(r.rows).toBe(b.rows);
      expect(r.file).toBe(path.join(out, b.file));
      const d = await loadDataset({ name: b.name, dataDir: out });
      expect(d.name).toBe(b.name);
      expect(d.problems).toHaveLength(b.rows);
      expect(d.problems[0]!.source).toBe(`hf:${b.source![0]!.repo}@${b.source![0]!.revision}:${b.source![0]!.path}`);
      expect(d.source!.sha256).toBe(
        createHash('sha256')
          .update(await readFile(r.file))
          .digest('hex'),
      );
    }
    const load = async (name: string) => (await loadDataset({ name, dataDir: out })).problems;
    // Parquet INT64 answers and ids, whole-number doubles, AIME ids by contest and row, list answers with $ removed.
    expect((await load('aime24'))[0]).toMatchObject({
      id: '2024-I-1',
      problem: problem(0),
      answer: String(answer(0)),
      Solution: `It is ${answer(0)}.`,
    });
    expect((await load('aime25')).map((p) => p.id).slice(13, 17)).toEqual([
      '2025-I-14',
      '2025-I-15',
      '2025-II-1',
      '2025-II-2',
    ]);
    expect((await load('aime25'))[15]!.answer).toBe(String(answer(15)));
    expect((await load('amc23'))[0]).toMatchObject({ id: '2023-12A-1', answer: String(answer(0)) });
    expect((await load('amc23'))[22]!.id).toBe('2023-12B-1');
    expect((await load('math500'))[3]).toMatchObject({ id: 'test/prealgebra/3.json', subject: 'Prealgebra', level: 4 });
    expect((await load('minerva'))[5]).toMatchObject({ id: 'minerva-5', answer: String(answer(5)) });
    expect((await load('olympiadbench'))[1]).toMatchObject({
      id: 'olympiadbench-1601',
      answer: '69,84',
      final_answer: ['$69$,$84$'],
      is_multiple_answer: true,
    });
    // MathArena's post-cutoff sets: ids from problem_idx, LaTeX answers as written, problem types kept.
    expect((await load('hmmt25'))[4]).toMatchObject({
      id: 'hmmt-feb-2025-5',
      answer: '\\frac{9}{2}',
      problem_type: ['Combinatorics', 'Number Theory'],
    });
    expect((await load('brumo25'))[1]).toMatchObject({ id: 'brumo-2025-2', answer: String(answer(1)) });
    expect((await load('brumo25'))[1]!.source).toBe('hf:MathArena/brumo_2025@main:data/train-00000-of-00001.parquet');
    expect((await load('gsm8k'))[2]).toMatchObject({
      id: 'gsm8k-2',
      answer: '1,450',
      solution: `Multiply: <<${answer(2)}>>.`,
    });
  });

  it('CLI: `data fetch NAME` stores into the user cache folder, `data list` shows it, and `eval --dataset NAME` finds it on its own', async () => {
    const cache = path.join(dir, 'xdg');
    // THREADWEAVER_CACHE_DIR (set by CI's fresh-clone run) would take precedence over XDG's folder.
    const env = { THREADWEAVER_CACHE_DIR: '', XDG_CACHE_HOME: cache, HF_ENDPOINT: mirror, HF_TOKEN: 'secret-token' };
    const fetched = await threadweaver(['data', 'fetch', 'math500'], env);
    expect(fetched.code, fetched.stderr).toBe(0);
    const file = path.join(cache, 'threadweaver', 'datasets', 'math500.jsonl');
    expect(fetched.stdout).toBe(`math500: 500 rows → ${file}\n`);
    expect(fetched.stderr).toMatch(
      /math500: http:\/\/127\.0\.0\.1:\d+\/datasets\/HuggingFaceH4\/MATH-500\/resolve\/main\/test\.jsonl \(\d+ KiB\)/,
    );
    expect(requests.at(-1)!.headers.authorization).toBe('Bearer secret-token');

    const list = await threadweaver(['data', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`status:  here: ${file} (500 rows)`);
    expect(list.stdout).toMatch(
      /gsm8k +1319 rows[\s\S]*source: +http:\/\/127\.0\.0\.1:\d+\/datasets\/openai\/gsm8k \(main\/test-00000-of-00001\.parquet\)[\s\S]*licence: MIT/,
    );
    expect(list.stdout).toMatch(/arith500[\s\S]*source: +made for the bundled model/);
    expect(list.stdout).toMatch(
      /hmmt25 +30 rows +HMMT February 2025[\s\S]*source: +http:\/\/127\.0\.0\.1:\d+\/datasets\/MathArena\/hmmt_feb_2025 \(data\/train-00000-of-00001\.parquet\)[\s\S]*licence: CC BY-NC-SA 4\.0/,
    );
    const json = JSON.parse((await threadweaver(['data', 'list', '--json'], env)).stdout);
    expect(json.find((b: { name: string }) => b.name === 'math500').local).toEqual({ file, rows: 500 });

    const out = path.join(dir, 'eval-math500');
    const ev = await threadweaver(
      ['eval', '--dataset', 'math500', '--limit', '2', '--mode', 'parallel', '--out', out],
      { THREADWEAVER_CACHE_DIR: '', XDG_CACHE_HOME: cache },
    );
    expect(ev.code, ev.stderr).toBe(0);
    const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.provenance.datasets.math500).toMatchObject({ path: file, rows: 500, problems: 2 });
    expect(summary.datasets.math500.parallel.accuracy).toBe(1);
  }, 120_000);

  it('`data fetch all --mirror URL --data-dir D` fetches every published benchmark', async () => {
    const out = path.join(dir, 'cli-all');
    const r = await threadweaver(['data', 'fetch', 'all', '--mirror', mirror, '--data-dir', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(9);
    for (const b of BENCHMARKS.filter((x) => x.source)) expect(existsSync(path.join(out, b.file))).toBe(true);
    expect(existsSync(path.join(out, 'arith500.jsonl'))).toBe(false);
  });

  it('Ctrl-C during a download: what was fetched stays, nothing is half-written, and the rerun fetches the rest', async () => {
    const out = path.join(dir, 'interrupted');
    const math = '/datasets/HuggingFaceH4/MATH-500/resolve/main/test.jsonl';
    stalled.add(math);
    const before = requests.length;
    let first;
    try {
      first = await runCli(['data', 'fetch', 'aime24', 'math500', '--mirror', mirror, '--data-dir', out], {
        interruptWhen: () => requests.slice(before).some((r) => r.url.endsWith('/MATH-500/resolve/main/test.jsonl')),
      });
    } finally {
      stalled.delete(math);
    }
    expect(first.interrupted).toBe(true);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stdout).toMatch(/^aime24: 30 rows → /);
    expect(first.stderr).toContain(
      'threadweaver data: interrupted during math500: 1 of 2 fetched and kept, nothing half-written; rerun to fetch the rest',
    );
    expect(await readdir(out)).toEqual(['aime24.jsonl']);
    const again = await runCli(['data', 'fetch', 'math500', '--mirror', mirror, '--data-dir', out]);
    expect(again.code, again.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['aime24.jsonl', 'math500.jsonl']);
    expect((await loadDataset({ name: 'math500', dataDir: out })).problems).toHaveLength(500);
  });

  it('clear errors, and nothing written: a wrong count, a missing file, bad bytes, a bad row, an unreachable host', async () => {
    const out = path.join(dir, 'errors');
    const aime = '/datasets/Maxwell-Jia/AIME_2024/resolve/main/aime_2024_problems.parquet';
    overrides.set(
      aime,
      parquet([
        { name: 'ID', data: range(29).map(String), type: 'STRING' },
        { name: 'Problem', data: range(29).map(problem), type: 'STRING' },
        { name: 'Answer', data: range(29).map((i) => BigInt(i)), type: 'INT64' },
      ]),
    );
    await expect(fetchBenchmark('aime24', { dataDir: out, endpoint: mirror })).rejects.toThrow(
      /aime_2024_problems\.parquet: expected 30 rows, got 29: the upstream file changed; nothing was written/,
    );
    overrides.set(aime, Buffer.from('PAR1 not really'));
    await expect(fetchBenchmark('aime24', { dataDir: out, endpoint: mirror })).rejects.toThrow(
      /aime_2024_problems\.parquet: not a readable Parquet file/,
    );
    overrides.set(aime, 404);
    await expect(fetchBenchmark('aime24', { dataDir: out, endpoint: mirror })).rejects.toThrow(
      /HTTP 404 .*the file is not there/,
    );
    overrides.set(aime, 401);
    await expect(fetchBenchmark('aime24', { dataDir: out, endpoint: mirror })).rejects.toThrow(
      /HTTP 401 .*set \$HF_TOKEN/,
    );
    overrides.delete(aime);
    const gsm = '/datasets/openai/gsm8k/resolve/main/main/test-00000-of-00001.parquet';
    overrides.set(
      gsm,
      parquet([
        { name: 'question', data: range(1319).map(problem), type: 'STRING' },
        { name: 'answer', data: range(1319).map((i) => (i === 6 ? 'no marker' : `#### ${i}`)), type: 'STRING' },
      ]),
    );
    await expect(fetchBenchmark('gsm8k', { dataDir: out, endpoint: mirror })).rejects.toThrow(
      /test-00000-of-00001\.parquet: row 7: answer has no "####" line/,
    );
    overrides.set(gsm, parquet([{ name: 'prompt', data: range(1319).map(problem), type: 'STRING' }]));
    await expect(fetchBenchmark('gsm8k', { dataDir: out, endpoint: mirror })).rejects.toThrow(
      /row 1: no "answer" field \(fields: prompt\)/,
    );
    overrides.delete(gsm);
    expect(existsSync(out)).toBe(false);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const cli = await threadweaver([
      'data',
      'fetch',
      'math500',
      '--mirror',
      `http://127.0.0.1:${port}`,
      '--data-dir',
      out,
    ]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(
      /math500: http:\/\/127\.0\.0\.1:\d+\/datasets\/HuggingFaceH4\/MATH-500\/resolve\/main\/test\.jsonl: cannot download \(ECONNREFUSED\)\. Offline or behind a proxy\? Point --mirror/,
    );
    const none = await threadweaver(['data', 'fetch', 'arith500', '--mirror', mirror, '--data-dir', out]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/arith500 has no public download: made for the bundled model/);
    const unknown = await threadweaver(['data', 'fetch', 'aime2024']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown benchmark 'aime2024'/);
    await expect(loadDataset({ name: 'gsm8k', dataDir: out })).rejects.toThrow(/gsm8k\.jsonl: no such dataset file/);
    expect(FetchError.name).toBe('FetchError');
  });
});
