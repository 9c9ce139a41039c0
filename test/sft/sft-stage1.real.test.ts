import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import { validateTrajectory } from '../../src/format/validate.js';
import { promptFit } from '../../src/sft/context-fit.js';
import { readSftDataset } from '../../src/sft/dataset.js';
import { OpenAIChatModel } from '../../src/sft/llm.js';
import { runStage1, type Stage1Result } from '../../src/sft/stage1.js';
import { stepsPrompt } from '../../src/sft/steps.js';
import { readTraces } from '../../src/sft/traces.js';
import { startServer } from '../../src/server/index.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { runCli } from '../support/cli-process.js';
import { readJsonl, repoRoot } from '../support/helpers.js';
import { startReplayServer, type ReplayRule, type ReplayServer } from '../support/sft-replay-server.js';

const fixtures = path.join(repoRoot, 'test/fixtures/sft');
const expected = async (id: string) =>
  (await readFile(path.join(fixtures, 'expected', `${id}.txt`), 'utf8')).replace(/\n$/, '');

let server: ReplayServer;
let tokenizer: HFTokenizer;
let dir: string;
let out: string;
let first: Stage1Result;

const model = (cacheDir: string) =>
  new OpenAIChatModel({
    baseURL: server.url,
    model: 'fixture-model',
    apiKey: 'test',
    cacheDir,
    maxRetries: 0,
    concurrency: 4,
  });
const asked = (rule: string) => server.requests.filter((r) => r.rule === rule).map((r) => r.body.messages);

beforeAll(async () => {
  const rules = JSON.parse(await readFile(path.join(fixtures, 'answers.json'), 'utf8')) as ReplayRule[];
  server = await startReplayServer(rules);
  tokenizer = await loadTokenizer(resolveModelSource());
  dir = await mkdtemp(path.join(tmpdir(), 'tw-sft1-'));
  out = path.join(dir, 'run');
  const traces = await readTraces(path.join(fixtures, 'traces.jsonl'));
  first = await runStage1({ traces, out, model: model(path.join(out, 'llm-cache')), tokenizer, progress: false });
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('stage 1 against recorded LLM answers', () => {
  it('sends each recorded request once and no unrecorded one', () => {
    expect(server.requests.filter((r) => r.rule === null)).toEqual([]);
    // poly-three 5, cases-abs 5, short-sum 1, broken 3, wrong-answer 1.
    expect(server.requests).toHaveLength(15);
    expect(first.stats.llm).toMatchObject({ sent: 15, cacheHits: 0 });
    for (const r of server.requests) expect(r.body.model).toBe('fixture-model');
  });

  it('assembles the expected trajectories, byte for byte', async () => {
    for (const id of ['poly-three', 'cases-abs']) {
      const text = await readFile(path.join(out, 'items', id, 'trajectory.txt'), 'utf8');
      expect(text).toBe(await expected(id));
      expect(validateTrajectory(text)).toEqual([]);
    }
    const seq = await readFile(path.join(out, 'items/short-sum/trajectory.txt'), 'utf8');
    expect(seq).toBe(
      '<think>\nWe need 12*3 and 5*4.\n12*3 = 36.\n5*4 = 20.\nThe sum is 36 + 20 = 56.\n</think>\nThe answer is \\boxed{56}.',
    );
  });

  it('step 1 asks with numbered lines and retries a non-JSON answer with what was wrong', () => {
    const [poly] = asked('poly-three step 1');
    expect(poly).toHaveLength(1);
    expect(poly![0]!.content).toContain('Reasoning (12 lines');
    expect(poly![0]!.content).toContain('L3: First, f(4).');
    expect(poly![0]!.content).toContain('L12: Finally, the sum is 61 + 166 + 21 = 248.');
    const [retry] = asked('cases-abs step 1, second attempt');
    expect(retry!.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(retry![1]!.content).toBe('The reasoning has two cases, lines 2-3 and 5-6, which are independent.');
    expect(retry![2]!.content).toMatch(/could not be used: the answer holds no JSON object/);
  });

  it('step 3 shows the context before the block and earlier siblings only', () => {
    const [t2] = asked('poly-three step 3, thread 2: drop the pointers to thread 1');
    const prompt = t2![0]!.content;
    const section = (from: string, to: string) => prompt.slice(prompt.indexOf(from), prompt.indexOf(to));
    expect(section('Shared context', 'Parts written beside it')).toContain(
      'so we evaluate f at three points and add the values.',
    );
    const siblings = section('Parts written beside it', 'The part under review');
    expect(siblings).toContain('Part 1:\nFirst, f(4).');
    expect(siblings).not.toContain('Next, f(2)');
    expect(prompt).not.toContain('Finally, the sum');
    const [t3] = asked('poly-three step 3, thread 3: a malformed answer (guard: unchanged)');
    expect(t3![0]!.content).toContain('Part 2:\nSimilarly, for f(7)'); // siblings as first written, not as edited
  });

  it('step 3 guards: a malformed answer leaves the thread, an over-cut is asked again once', async () => {
    const poly = JSON.parse(await readFile(path.join(out, 'items/poly-three/3-dependencies.json'), 'utf8')) as {
      thread: number;
      action: string;
    }[];
    expect(poly.map((r) => [r.thread, r.action])).toEqual([
      [2, 'edited'],
      [3, 'unparseable'],
    ]);
    const cases = JSON.parse(await readFile(path.join(out, 'items/cases-abs/3-dependencies.json'), 'utf8')) as {
      action: string;
      retried: boolean;
      unmatched: unknown[];
    }[];
    expect(cases).toHaveLength(1);
    expect(cases[0]).toMatchObject({
      action: 'edited',
      retried: true,
      unmatched: [{ find: 'text that is not there', replace: 'x' }],
    });
    const [retry] = asked('cases-abs step 3, thread 2, second attempt');
    expect(retry![2]!.content).toMatch(/leave only \d+ of the part's 248 characters/);
    expect(first.stats.rewrites).toEqual({ edited: 2, unparseable: 1 });
    expect(first.stats.rewritesRetried).toBe(1);
  });

  it('step 4 retries a wrong outline count and shows the reasoning before the block', () => {
    const [firstTry] = asked('poly-three step 4: two outlines for three threads');
    expect(firstTry![0]!.content).toContain('Reasoning so far:\nWe need f(4) + f(7) + f(2)');
    expect(firstTry![0]!.content).toContain('Thread 3:\nNext, f(2).');
    expect(firstTry![0]!.content).toContain('holding exactly 3 outlines');
    const [second] = asked('poly-three step 4, second attempt');
    expect(second).toHaveLength(3);
    expect(second![2]!.content).toContain('2 outline(s) for 3 threads');
  });

  it('step 2 records skipped groups and dropped lines', async () => {
    const short = JSON.parse(await readFile(path.join(out, 'items/short-sum/2-splice.json'), 'utf8')) as {
      skipped: { reason: string }[];
    };
    expect(short.skipped.map((s) => s.reason)).toEqual(['too-little-parallel-text', 'overlapping-threads']);
    const cases = JSON.parse(await readFile(path.join(out, 'items/cases-abs/2-splice.json'), 'utf8')) as {
      droppedLines: number[];
    };
    expect(cases.droppedLines).toEqual([4]);
    expect(first.stats.skippedBlocks).toEqual({ 'too-little-parallel-text': 1, 'overlapping-threads': 1 });
  });

  it('an item without a usable step plan fails without stopping the run; a wrong answer is filtered', async () => {
    const items = readJsonl<{ id: string; status: string; reason?: string }>(path.join(out, 'items.jsonl'));
    expect(items.map((i) => [i.id, i.status])).toEqual([
      ['poly-three', 'kept'],
      ['cases-abs', 'kept'],
      ['short-sum', 'kept'],
      ['broken', 'failed'],
      ['wrong-answer', 'rejected'],
    ]);
    expect(items[3]!.reason).toMatch(/^steps: no usable answer after 3 attempt\(s\): the JSON object is never closed/);
    expect(items[4]!.reason).toMatch(/^answer: /);
    const trace = readJsonl<{ step: string; attempt?: number; error?: string }>(
      path.join(out, 'items/broken/trace.jsonl'),
    );
    expect(trace.filter((e) => e.step === 'steps').map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(trace.at(-1)!.step).toBe('failed');
  });

  it('writes sft.jsonl rows that parse back into valid trajectories, their trie rows and the statistics', async () => {
    const rows = await readSftDataset(path.join(out, 'sft.jsonl'));
    expect(rows.map((r) => r.id)).toEqual(['poly-three', 'cases-abs', 'short-sum']);
    expect(rows[0]!.messages[0]).toEqual({
      role: 'user',
      content: 'Let f(x) = 3x^2 + 2x + 5. Compute f(4) + f(7) + f(2).',
    });
    expect(rows[0]!.messages[1].content).toBe(await expected('poly-three'));
    for (const r of rows) expect(validateTrajectory(r.messages[1].content)).toEqual([]);

    const trie = readJsonl<{ id: string; ids: number[]; branch: number[]; loss: number[] }>(
      path.join(out, 'sft-trie.jsonl'),
    );
    expect(trie.map((t) => t.id)).toEqual(['poly-three', 'cases-abs', 'short-sum']);
    expect(Math.max(...trie[0]!.branch)).toBe(2); // threads 2 and 3 as branches
    expect(Math.max(...trie[2]!.branch)).toBe(0);
    expect(tokenizer.decode(trie[2]!.ids)).toBe(
      `<|im_start|>user\nCompute 12*3 + 5*4.<|im_end|>\n<|im_start|>assistant\n${rows[2]!.messages[1].content}<|im_end|>`,
    );

    const stats = JSON.parse(await readFile(path.join(out, 'stats.json'), 'utf8')) as Record<string, unknown>;
    expect(stats).toMatchObject({
      items: 5,
      failed: 1,
      generated: 4,
      formatPass: 4,
      formatPassRate: 1,
      correct: 3,
      accuracy: 0.75,
      kept: 3,
      keptShare: 0.75,
      keptWithParallel: 2,
      threadsPerBlockCounts: { 2: 1, 3: 1 },
      droppedLines: 1,
      outlineFailures: 0,
    });
    const eta = first.items.find((i) => i.id === 'poly-three')!.acceleration!;
    expect(eta).toBeGreaterThan(0.2);
    expect(stats.acceleration).toMatchObject({ count: 3, min: 0, max: eta });
    const report = await readFile(path.join(out, 'report.md'), 'utf8');
    expect(report).toContain('# SFT stage 1: 5 traces → 3 kept');
    expect(report).toContain('| format pass | 4 (100.0%) |');
  });

  it('a rerun sends no request and rewrites the same outputs', async () => {
    const before = server.requests.length;
    const sft = await readFile(path.join(out, 'sft.jsonl'), 'utf8');
    const traces = await readTraces(path.join(fixtures, 'traces.jsonl'));
    const again = await runStage1({
      traces,
      out,
      model: model(path.join(out, 'llm-cache')),
      tokenizer,
      progress: false,
    });
    expect(server.requests.length).toBe(before);
    expect(again.stats.llm).toMatchObject({ sent: 0, cacheHits: 15 });
    expect(await readFile(path.join(out, 'sft.jsonl'), 'utf8')).toBe(sft);
    expect(again.items).toEqual(first.items);
  });

  it('a changed threshold reuses every cached answer; an endpoint error fails only its item', async () => {
    const before = server.requests.length;
    const traces = await readTraces(path.join(fixtures, 'traces.jsonl'));
    const other = path.join(dir, 'threshold-0');
    const run = await runStage1({
      traces,
      out: other,
      model: model(path.join(out, 'llm-cache')),
      tokenizer,
      minParallelChars: 0,
      progress: false,
    });
    // short-sum now splices its first group, so its steps 3 and 4 are new requests nobody recorded (400).
    expect(server.requests.slice(before).map((r) => r.rule)).toEqual([null]);
    expect(run.stats.llm).toMatchObject({ sent: 1, cacheHits: 15 });
    const short = run.items.find((i) => i.id === 'short-sum')!;
    expect(short.status).toBe('failed');
    expect(short.reason).toMatch(/^error: 400 /);
    expect(run.items.filter((i) => i.status === 'kept').map((i) => i.id)).toEqual(['poly-three', 'cases-abs']);
    expect(await readdir(path.join(other, 'items'))).toHaveLength(5);
  });
});

describe('threadweaver sft stage1', () => {
  it('runs the pipeline from the command line, then replays it from the cache', async () => {
    const { default: sft } = await import('../../src/cli/commands/sft.js');
    const cliOut = path.join(dir, 'cli');
    const args = [
      'stage1',
      '--input',
      path.join(fixtures, 'traces.jsonl'),
      '--out',
      cliOut,
      '--llm-base-url',
      server.url,
      '--llm-model',
      'fixture-model',
      '--llm-retries',
      '0',
      '--limit',
      '2',
    ];
    const before = server.requests.length;
    expect(await sft.run(args)).toBe(0);
    expect(server.requests.length - before).toBe(10); // poly-three and cases-abs, 5 requests each
    expect((await readSftDataset(path.join(cliOut, 'sft.jsonl'))).map((r) => r.id)).toEqual([
      'poly-three',
      'cases-abs',
    ]);
    expect(await sft.run(args)).toBe(0);
    expect(server.requests.length - before).toBe(10);
    expect(JSON.parse(await readFile(path.join(cliOut, 'stats.json'), 'utf8'))).toMatchObject({
      items: 2,
      kept: 2,
      llm: { sent: 0, cacheHits: 10 },
    });
    expect(await readFile(path.join(cliOut, 'report.md'), 'utf8')).toContain(
      '| LLM requests sent / answered from cache | 0 / 10 |',
    );
  });

  it('Ctrl-C: finished items and the LLM answers already received are kept; the rerun asks only for the rest', async () => {
    const rules = JSON.parse(await readFile(path.join(fixtures, 'answers.json'), 'utf8')) as ReplayRule[];
    const slow = await startReplayServer(rules, { delayMs: 150 });
    try {
      const runDir = path.join(dir, 'interrupted');
      const args = [
        'sft',
        'stage1',
        '--input',
        path.join(fixtures, 'traces.jsonl'),
        '--out',
        runDir,
        '--llm-base-url',
        slow.url,
        '--llm-model',
        'fixture-model',
        '--llm-retries',
        '0',
        '--llm-concurrency',
        '1',
        '--limit',
        '2',
      ];
      // Interrupted once the first trace is done (5 answers) and the second has had one more.
      const first = await runCli(args, { interruptWhen: () => slow.requests.length >= 6 });
      expect(first.interrupted).toBe(true);
      expect(first.code, first.stderr).toBe(130);
      const askedFirst = slow.requests.length;
      expect(askedFirst).toBeLessThan(10);
      const second = await runCli(args);
      expect(second.code, second.stderr).toBe(0);
      // Each of the 10 answers was asked for once (the one in flight at the interrupt perhaps twice).
      expect(slow.requests.length).toBeGreaterThanOrEqual(10);
      expect(slow.requests.length).toBeLessThanOrEqual(11);
      expect(JSON.parse(await readFile(path.join(runDir, 'stats.json'), 'utf8')).llm.cacheHits).toBeGreaterThanOrEqual(
        5,
      );
      expect((await readSftDataset(path.join(runDir, 'sft.jsonl'))).map((r) => r.id)).toEqual([
        'poly-three',
        'cases-abs',
      ]);
    } finally {
      await slow.close();
    }
  });

  it('rejects bad usage with a usage error', async () => {
    const { default: sft } = await import('../../src/cli/commands/sft.js');
    const { UsageError } = await import('../../src/cli/command.js');
    await expect(sft.run([])).rejects.toThrow(UsageError);
    await expect(sft.run(['stage3'])).rejects.toThrow(/unknown stage 'stage3'/);
    await expect(sft.run(['stage1', '--input', 'x.jsonl', '--out', dir, '--llm-model', 'm'])).rejects.toThrow(
      /--llm-base-url/,
    );
    await expect(sft.run(['stage2', '--out', dir])).rejects.toThrow(/exactly one of --dataset and --data/);
    await expect(
      sft.run([
        'stage1',
        '--input',
        path.join(dir, 'missing.jsonl'),
        '--out',
        dir,
        '--llm-base-url',
        server.url,
        '--llm-model',
        'm',
      ]),
    ).rejects.toThrow(/missing\.jsonl: no such file/);
  });
});

describe('stage 1: failures on the console, and an LLM too small for the prompts', () => {
  /** A stream that records what was written, as a non-TTY stderr would show it. */
  const recorder = () => {
    const lines: string[] = [];
    return {
      lines,
      stream: Object.assign(new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }), { isTTY: false }),
    };
  };

  it("prints each failed or rejected item's reason as it happens", async () => {
    const traces = await readTraces(path.join(fixtures, 'traces.jsonl'));
    const { lines, stream } = recorder();
    await runStage1({
      traces,
      out: path.join(dir, 'console'),
      model: model(path.join(out, 'llm-cache')),
      tokenizer,
      progress: stream,
    });
    const text = lines.join('');
    expect(text).toMatch(
      /^stage 1: broken failed: steps: no usable answer after 3 attempt\(s\): the JSON object is never closed/m,
    );
    expect(text).toMatch(/^stage 1: wrong-answer rejected: answer: /m);
    expect(text).not.toMatch(/poly-three (failed|rejected)/);
  });

  it('promptFit estimates the longest step-1 request against the context', async () => {
    const traces = await readTraces(path.join(fixtures, 'traces.jsonl'));
    const fit = promptFit(traces, 1024)!;
    expect(fit.longestId).toBe('poly-three');
    expect(fit.promptTokens).toBe(
      Math.ceil(stepsPrompt(traces[0]!.problem, traces[0]!.reasoning.split('\n')).length / 4),
    );
    expect(fit).toMatchObject({ answerTokens: 1024, contextLength: 1024, fits: false });
    expect(promptFit(traces, 32_768)!.fits).toBe(true);
    expect(promptFit([], 10)).toBeUndefined();
  });

  describe('against threadweaver serve on the bundled model', () => {
    let serve: Awaited<ReturnType<typeof startServer>>;
    beforeAll(async () => {
      serve = await startServer({ engine: await embeddedEngine(), port: 0 });
    });
    afterAll(async () => {
      await serve?.close();
    });

    it('refuses up front: its 1,024-token context cannot hold the prompts, and the message says what to point it at', async () => {
      const { default: sft } = await import('../../src/cli/commands/sft.js');
      const runDir = path.join(dir, 'too-small');
      const err = await sft
        .run([
          'stage1',
          '--input',
          path.join(fixtures, 'traces.jsonl'),
          '--out',
          runDir,
          '--llm-base-url',
          serve.baseURL,
          '--llm-model',
          'tiny-threadweaver',
        ])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      const msg = (err as Error).message;
      expect(msg).toContain(`stage 1: ${serve.baseURL}: the LLM 'tiny-threadweaver' has a context of 1,024 tokens`);
      expect(msg).toMatch(/longest request \(step 1 of poly-three\) is about [\d,]+ tokens, plus 1,024 for the answer/);
      expect(msg).toMatch(/general instruction-following chat model with a long context \(32k tokens or more/);
      expect(existsSync(path.join(runDir, 'items'))).toBe(false); // nothing was sent
    });

    it('told a larger context, it runs and each item prints the reason the server refused it', async () => {
      const traces = (await readTraces(path.join(fixtures, 'traces.jsonl'))).slice(0, 2);
      const { lines, stream } = recorder();
      const llm = new OpenAIChatModel({ baseURL: serve.baseURL, model: 'tiny-threadweaver', maxRetries: 0 });
      expect(await llm.contextLength()).toBe(1024);
      const r = await runStage1({
        traces,
        out: path.join(dir, 'forced'),
        model: llm,
        tokenizer,
        llmContextLength: 1_000_000,
        progress: stream,
      });
      expect(r.items.map((i) => i.status)).toEqual(['failed', 'failed']);
      const text = lines.join('');
      for (const t of traces)
        expect(text).toMatch(new RegExp(`^stage 1: ${t.id} failed: error: 400 .*(context|tokens)`, 'm'));
    });
  });
});
