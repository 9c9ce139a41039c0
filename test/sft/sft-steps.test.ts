import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/engine/types.js';
import { validateTrajectory } from '../../src/format/validate.js';
import { askChecked } from '../../src/sft/ask.js';
import { AnswerCache, requestKey } from '../../src/sft/cache.js';
import { applyEdits, removeDependencies } from '../../src/sft/dependencies.js';
import { renderTrajectory, type Draft } from '../../src/sft/draft.js';
import { parseJsonAnswer } from '../../src/internal/json-answer.js';
import { createLimiter } from '../../src/sft/limiter.js';
import type { ChatModel } from '../../src/sft/llm.js';
import { readOutlines, writeOutlines } from '../../src/sft/outlines.js';
import { splice } from '../../src/sft/splice.js';
import { datasetStats, distribution, histogram } from '../../src/sft/stats.js';
import { blockCandidates, readStepPlan, type BlockCandidate } from '../../src/sft/steps.js';
import { parseTraces } from '../../src/sft/traces.js';
import type { Assessment } from '../../src/sft/assess.js';
import { readSftDataset, writeSftDataset } from '../../src/sft/dataset.js';
import type { Tokenizer } from '../../src/engine/types.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A ChatModel answering from a function of the conversation; records every conversation. */
function scripted(answer: (messages: readonly ChatMessage[]) => string): ChatModel & { calls: ChatMessage[][] } {
  const calls: ChatMessage[][] = [];
  return {
    model: 'scripted',
    counters: { sent: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0 },
    calls,
    async chat(messages) {
      calls.push([...messages]);
      return { content: answer(messages), key: String(calls.length), cached: false };
    },
  };
}

const thread = (start: number, end: number, steps = [String(start)]) => ({ steps, lines: [start, end] as const });
const group = (g: number, ...threads: ReturnType<typeof thread>[]): BlockCandidate => ({ group: g, threads });
/** Lines of n characters each ("a" repeated), with a label so texts differ. */
const line = (label: string, n: number) => (label + ' ' + 'x'.repeat(n)).slice(0, n);

describe('step 2: splice', () => {
  const lines = ['Intro line.', line('A', 120), line('B', 120), '', line('C', 120), 'Summary.'];

  it('keeps a block at exactly the threshold and skips it one character below', () => {
    // Threads: 2, 3, 5 → total 360, longest 120: 240 outside the longest.
    const g = group(0, thread(2, 2), thread(3, 3), thread(5, 5));
    expect(splice(lines, [g], { minParallelChars: 240 }).accepted).toEqual([0]);
    const skipped = splice(lines, [g], { minParallelChars: 241 });
    expect(skipped.accepted).toEqual([]);
    expect(skipped.skipped).toEqual([
      {
        group: 0,
        reason: 'too-little-parallel-text',
        detail: '240 characters outside the longest thread (minimum 241)',
      },
    ]);
    expect(skipped.draft.pieces).toEqual([{ kind: 'text', text: lines.join('\n') }]);
  });

  it('uses 200 characters by default', () => {
    const short = ['q', line('A', 150), line('B', 199)];
    expect(splice(short, [group(0, thread(2, 2), thread(3, 3))]).skipped[0]!.reason).toBe('too-little-parallel-text');
    const enough = ['q', line('A', 200), line('B', 201)];
    expect(splice(enough, [group(0, thread(2, 2), thread(3, 3))]).accepted).toEqual([0]);
  });

  it('renumbers threads 1..k in text order and renders a valid trajectory', () => {
    const r = splice(lines, [group(0, thread(5, 5, ['4']), thread(2, 2, ['2']), thread(3, 3, ['3']))], {
      minParallelChars: 0,
    });
    const block = r.draft.pieces[1];
    expect(block?.kind).toBe('block');
    if (block?.kind !== 'block') return;
    expect(block.threads.map((t) => t.steps)).toEqual([['2'], ['3'], ['4']]);
    block.outlines = ['do A', 'do B', 'do C'];
    const text = renderTrajectory(r.draft, 'The answer is \\boxed{1}.');
    expect(validateTrajectory(text)).toEqual([]);
    expect(text).toContain(
      `<Thread>\n1: ${lines[1]}\n</Thread><Thread>\n2: ${lines[2]}\n</Thread><Thread>\n3: ${lines[4]}\n</Thread>\n</Parallel>\nSummary.`,
    );
    expect(text.startsWith('<think>\nIntro line.\n<Parallel>\n<Outlines>\n<Outline>1: do A</Outline>\n')).toBe(true);
  });

  it('drops the lines of a block that belong to no thread, and reports those with text', () => {
    const ls = ['Intro.', line('A', 150), 'A remark between the threads.', '', line('B', 150), 'End.'];
    const r = splice(ls, [group(0, thread(2, 2), thread(5, 5))], { minParallelChars: 100 });
    expect(r.droppedLines).toEqual([3]);
    const block = r.draft.pieces[1]!;
    expect(block.kind === 'block' && block.original).toBe(ls.slice(1, 5).join('\n'));
    expect(r.draft.pieces.map((p) => (p.kind === 'text' ? p.text : 'BLOCK'))).toEqual(['Intro.', 'BLOCK', 'End.']);
  });

  it('skips overlapping threads, blocks overlapping an earlier block, and groups with fewer than two threads of text', () => {
    const r = splice(
      lines,
      [
        group(0, thread(2, 3), thread(3, 5)),
        group(1, thread(2, 2), thread(3, 3)),
        group(2, thread(3, 3), thread(5, 5)),
        group(3, thread(5, 5)),
        group(4, thread(4, 4), thread(5, 5)),
      ],
      { minParallelChars: 0 },
    );
    expect(r.accepted).toEqual([1]);
    expect(r.skipped).toEqual([
      { group: 0, reason: 'overlapping-threads', detail: 'lines 2-3 and 3-5 overlap' },
      { group: 2, reason: 'overlaps-block', detail: 'lines 3-5 overlap the block of group 1 (lines 2-3)' },
      { group: 3, reason: 'too-few-threads', detail: '1 thread(s)' },
      { group: 4, reason: 'too-few-threads', detail: 'only 1 thread(s) hold text' },
    ]);
  });

  it('places blocks in text order, at the very start and back to back', () => {
    const ls = [line('A', 100), line('B', 100), line('C', 100), line('D', 100)];
    const r = splice(ls, [group(0, thread(3, 3), thread(4, 4)), group(1, thread(1, 1), thread(2, 2))], {
      minParallelChars: 0,
    });
    expect(r.accepted).toEqual([1, 0]);
    for (const p of r.draft.pieces) if (p.kind === 'block') p.outlines = p.threads.map((_, i) => `part ${i + 1}`);
    const text = renderTrajectory(r.draft, '\\boxed{0}');
    expect(text.startsWith('<think>\n<Parallel>\n')).toBe(true);
    expect(text).toContain('</Parallel>\n<Parallel>\n');
    expect(text.endsWith('</Parallel>\n</think>\n\\boxed{0}')).toBe(true);
    expect(validateTrajectory(text)).toEqual([]);
  });

  it('rejects line ranges outside the reasoning', () => {
    expect(() => splice(lines, [group(0, thread(2, 2), thread(6, 7))])).toThrow(RangeError);
  });
});

describe('step 1: reading the step plan', () => {
  const plan = (o: object) =>
    JSON.stringify({
      steps: [
        { id: 1, summary: 's', start: 1, end: 2 },
        {
          id: '2',
          start: '3',
          end: 5,
          substeps: [
            { id: '2.1', start: 3, end: 3 },
            { id: '2.2', start: 4, end: 5 },
          ],
        },
        { id: '3', start: 6, end: 6 },
      ],
      groups: [{ threads: [['2.1'], ['2.2']] }],
      ...o,
    });

  it('accepts numbers given as strings and resolves threads to line ranges', () => {
    const p = readStepPlan(`Here it is:\n${plan({})}`, 6);
    expect(p.steps.map((s) => s.id)).toEqual(['1', '2', '3']);
    expect(blockCandidates(p)).toEqual([
      {
        group: 0,
        threads: [
          { steps: ['2.1'], lines: [3, 3] },
          { steps: ['2.2'], lines: [4, 5] },
        ],
      },
    ]);
    const multi = readStepPlan(plan({ groups: [{ threads: [['1', '2.1'], ['3']] }] }), 6);
    expect(blockCandidates(multi)[0]!.threads[0]!.lines).toEqual([1, 3]);
  });

  it('says what is wrong with a bad plan', () => {
    expect(() => readStepPlan(plan({}), 5)).toThrow('step 3: lines 6-6 are outside 1-5');
    expect(() => readStepPlan(plan({ groups: [{ threads: [['2.1'], ['9']] }] }), 6)).toThrow(
      'group 1 names step "9", which is not in "steps"',
    );
    expect(() =>
      readStepPlan(
        JSON.stringify({ steps: [{ id: '1', start: 1, end: 3, substeps: [{ id: '1.1', start: 2, end: 4 }] }] }),
        6,
      ),
    ).toThrow('step 1.1: lines 2-4 are outside 1-3');
    expect(() => readStepPlan(JSON.stringify({ steps: [{ id: '1', start: 3, end: 2 }] }), 6)).toThrow(
      'start 3 is after end 2',
    );
    expect(() =>
      readStepPlan(
        JSON.stringify({
          steps: [
            { id: '1', start: 1, end: 1 },
            { id: '1', start: 2, end: 2 },
          ],
        }),
        6,
      ),
    ).toThrow('"1" is used twice');
    expect(() => readStepPlan(JSON.stringify({ steps: [] }), 6)).toThrow(/steps: no steps/);
    expect(() => readStepPlan('{"steps": [{"id": "1", "start": 0, "end": 1}]}', 6)).toThrow(
      /steps.0.start: line numbers start at 1/,
    );
  });
});

describe('step 3: dependency edits and guards', () => {
  it('applies edits in order, every occurrence, and lists those that do not match', () => {
    expect(
      applyEdits('so x = 2, so y = x', [
        { find: 'so ', replace: '' },
        { find: 'x', replace: 'z' },
        { find: 'w', replace: 'v' },
        { find: '', replace: 'q' },
      ]),
    ).toEqual({
      text: 'z = 2, y = z',
      unmatched: [
        { find: 'w', replace: 'v' },
        { find: '', replace: 'q' },
      ],
    });
  });

  const draft = (): Draft => ({
    pieces: [
      { kind: 'text', text: 'Context line.' },
      {
        kind: 'block',
        lines: [2, 5],
        original: 'orig',
        threads: [
          { lines: [2, 2], steps: ['1'], text: 'First part computes 6*7 = 42.' },
          { lines: [3, 3], steps: ['2'], text: 'Similarly, 5*5 = 25 as before.' },
          { lines: [4, 4], steps: ['3'], text: 'Also, 3*3 = 9.' },
          { lines: [5, 5], steps: ['4'], text: 'Finally 2*2 = 4 here.' },
        ],
      },
    ],
  });

  it('reverts an emptied thread or one given tags; a second over-cut leaves the thread as it was', async () => {
    const model = scripted((m) => {
      const t = m[0]!.content.slice(m[0]!.content.indexOf('<<<'));
      if (t.includes('Similarly')) return '{"edits": [{"find": "Similarly, 5*5 = 25 as before.", "replace": ""}]}';
      if (t.includes('Also')) return '{"edits": [{"find": "Also, ", "replace": "<Thread>"}]}';
      return '{"edits": [{"find": "Finally 2*2 = 4 here.", "replace": "2*2"}]}';
    });
    const r = await removeDependencies(model, 'P', draft());
    expect(r.rewrites.map((x) => [x.thread, x.action, x.retried])).toEqual([
      [2, 'emptied', false],
      [3, 'tags', false],
      [4, 'too-short', true],
    ]);
    const block = r.draft.pieces[1]!;
    expect(block.kind === 'block' && block.threads.map((t) => t.text)).toEqual([
      'First part computes 6*7 = 42.',
      'Similarly, 5*5 = 25 as before.',
      'Also, 3*3 = 9.',
      'Finally 2*2 = 4 here.',
    ]);
    expect(model.calls).toHaveLength(4); // one retry, for the over-cut thread only
  });

  it('asks about threads 2..k only, each with the context before the block and its earlier siblings', async () => {
    const model = scripted(() => '{"edits": []}');
    const r = await removeDependencies(model, 'P', draft());
    expect(r.rewrites.map((x) => x.action)).toEqual(['no-edits', 'no-edits', 'no-edits']);
    const prompts = model.calls.map((c) => c[0]!.content);
    expect(prompts[0]).toContain('Part 1:\nFirst part computes');
    expect(prompts[0]).not.toContain('Part 2:');
    expect(prompts[2]).toContain('Part 3:\nAlso, 3*3 = 9.');
    for (const p of prompts)
      expect(p).toContain('Shared context (the last lines before the parts; the person has read this):\nContext line.');
  });
});

describe('step 4: outlines', () => {
  it('cleans outlines and checks their count and content', () => {
    expect(
      readOutlines(
        '{"outlines": ["1: Compute   the\\nfirst product.", "Thread 2: the second.", "3.5 is close to pi; check it."]}',
        3,
      ),
    ).toEqual(['Compute the first product.', 'the second.', '3.5 is close to pi; check it.']);
    expect(() => readOutlines('{"outlines": ["a"]}', 2)).toThrow('1 outline(s) for 2 threads');
    expect(() => readOutlines('{"outlines": ["a", " "]}', 2)).toThrow('outline 2 is empty');
    expect(() => readOutlines('{"outlines": ["a", "b </Outline>"]}', 2)).toThrow('outline 2 contains a tag');
    expect(() => readOutlines('{"plan": []}', 2)).toThrow(/outlines/);
  });

  it('turns a block back into its original lines when no attempt gives the right count', async () => {
    const model = scripted(() => '{"outlines": ["only one"]}');
    const d: Draft = {
      pieces: [
        { kind: 'text', text: 'Before.' },
        {
          kind: 'block',
          lines: [2, 4],
          original: 'line two\nline three\nline four',
          threads: [
            { lines: [2, 2], steps: ['1'], text: 'line two' },
            { lines: [4, 4], steps: ['2'], text: 'line four' },
          ],
        },
      ],
    };
    const r = await writeOutlines(model, 'P', d, 2);
    expect(model.calls).toHaveLength(2);
    expect(r.results[0]).toMatchObject({
      ok: false,
      error: 'no usable answer after 2 attempt(s): 1 outline(s) for 2 threads; write exactly 2',
    });
    expect(r.draft.pieces).toEqual([
      { kind: 'text', text: 'Before.' },
      { kind: 'text', text: 'line two\nline three\nline four' },
    ]);
    expect(renderTrajectory(r.draft, '\\boxed{1}')).toBe(
      '<think>\nBefore.\nline two\nline three\nline four\n</think>\n\\boxed{1}',
    );
  });
});

describe('asking with checks', () => {
  it('continues the conversation with the bad answer and the reason, up to the attempts', async () => {
    let n = 0;
    const model = scripted(() => (++n < 3 ? `bad ${n}` : '{"ok": true}'));
    const r = await askChecked(model, [{ role: 'user', content: 'Q' }], (c) => parseJsonAnswer(c), 3);
    expect(r.ok).toBe(true);
    expect(r.exchanges.map((e) => e.error ?? 'ok')).toEqual([
      'the answer holds no JSON object',
      'the answer holds no JSON object',
      'ok',
    ]);
    expect(model.calls[2]!.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(model.calls[2]![3]!.content).toBe('bad 2');
  });

  it('reads JSON from prose and code fences', () => {
    expect(parseJsonAnswer('Sure:\n```json\n{"a": 1}\n```\nDone.')).toEqual({ a: 1 });
    expect(parseJsonAnswer('The object is {"a": {"b": 2}} as asked.')).toEqual({ a: { b: 2 } });
    expect(() => parseJsonAnswer('{"a": 1,}')).toThrow(/not valid JSON/);
  });
});

describe('input traces', () => {
  it('reads the answer text after </think> and writes one from the gold answer otherwise', () => {
    const [a, b, c] = parseTraces(
      [
        JSON.stringify({ id: 'a', problem: 'p', answer: 3, reasoning: '<think>\nstep\n</think>\n\nSo \\boxed{3}.' }),
        JSON.stringify({ id: 'b', problem: 'p', answer: '4', reasoning: 'step b', response: 'It is \\boxed{4}.' }),
        '',
        JSON.stringify({ id: 7, problem: 'p', answer: '5', reasoning: 'step c\n' }),
      ].join('\n'),
      'in.jsonl',
    );
    expect(a).toEqual({ id: 'a', problem: 'p', answer: '3', reasoning: 'step', response: 'So \\boxed{3}.' });
    expect(b!.response).toBe('It is \\boxed{4}.');
    expect(c).toEqual({
      id: '7',
      problem: 'p',
      answer: '5',
      reasoning: 'step c',
      response: 'The answer is \\boxed{5}.',
    });
  });

  it('names the file and line of a bad row', () => {
    const ok = JSON.stringify({ id: 'a', problem: 'p', answer: '1', reasoning: 'r' });
    expect(() => parseTraces(`${ok}\n{"id": "b", "problem": "p", "answer": "1"}`, 'in.jsonl')).toThrow(
      'in.jsonl:2: field "reasoning": is missing',
    );
    expect(() => parseTraces(`${ok}\n${ok}`, 'in.jsonl')).toThrow('in.jsonl:2: duplicate id "a" (first on line 1)');
    expect(() => parseTraces('{oops', 'in.jsonl')).toThrow('in.jsonl:1: invalid JSON');
    expect(() =>
      parseTraces(JSON.stringify({ id: 'a', problem: ' ', answer: '1', reasoning: 'r' }), 'in.jsonl'),
    ).toThrow('in.jsonl:1: field "problem": must be a non-empty string');
    expect(() =>
      parseTraces(
        JSON.stringify({ id: 'a', problem: 'p', answer: '1', reasoning: '<think>\n</think> \\boxed{1}' }),
        'in.jsonl',
      ),
    ).toThrow('no text before </think>');
    expect(() => parseTraces('\n', 'in.jsonl')).toThrow('in.jsonl: no traces');
  });
});

describe('the answer cache', () => {
  it('keys requests by content, whatever the key order', () => {
    const a = requestKey({ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 0 });
    expect(requestKey({ temperature: 0, messages: [{ content: 'x', role: 'user' }], model: 'm' })).toBe(a);
    expect(requestKey({ model: 'm', messages: [{ role: 'user', content: 'y' }], temperature: 0 })).not.toBe(a);
    expect(requestKey({ model: 'm2', messages: [{ role: 'user', content: 'x' }], temperature: 0 })).not.toBe(a);
  });

  it('stores answers as whole files and treats an unreadable one as absent', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tw-cache-'));
    dirs.push(dir);
    const cache = new AnswerCache(dir);
    const key = requestKey({ q: 1 });
    expect(await cache.get(key)).toBeUndefined();
    await cache.put({ key, request: { q: 1 }, content: 'answer' });
    expect(await cache.get(key)).toMatchObject({ key, content: 'answer' });
    const sub = path.join(dir, key.slice(0, 2));
    expect(await readdir(sub)).toEqual([`${key}.json`]); // no temporary file left
    await writeFile(path.join(sub, `${key}.json`), '{"key": "');
    expect(await cache.get(key)).toBeUndefined();
    await cache.put({ key, request: { q: 1 }, content: 'again' });
    expect(JSON.parse(await readFile(path.join(sub, `${key}.json`), 'utf8')).content).toBe('again');
  });
});

describe('statistics and limits', () => {
  it('summarizes distributions and bins η', () => {
    expect(distribution([])).toBeNull();
    expect(distribution([4, 1, 3, 2])).toEqual({
      count: 4,
      mean: 2.5,
      min: 1,
      p10: 1.3,
      median: 2.5,
      p90: 3.7,
      max: 4,
    });
    expect(histogram([0, 0.04, 0.05, 0.31], 0.05)).toEqual({ '0.00-0.05': 2, '0.05-0.10': 1, '0.30-0.35': 1 });
  });

  it('counts rates over all trajectories and shapes over kept ones', () => {
    const a = (
      formatValid: boolean,
      correct: boolean,
      threadsPerBlock: number[],
      acceleration: number,
    ): Assessment => ({
      formatValid,
      correct,
      violations: [],
      answer: null,
      gradeReason: '',
      threadsPerBlock,
      stats: {
        totalTokens: 100,
        criticalPathTokens: 100 * (1 - acceleration),
        sequentialTokens: 0,
        acceleration,
        parallelRatio: 0,
        blocks: [],
        sequentialRuns: [0],
      },
    });
    const all = [a(true, true, [2, 3], 0.3), a(true, true, [], 0), a(false, true, [2], 0.2), a(true, false, [2], 0.1)];
    const s = datasetStats(all, all.slice(0, 2));
    expect(s).toMatchObject({
      generated: 4,
      formatPass: 3,
      formatPassRate: 0.75,
      correct: 3,
      accuracy: 0.75,
      kept: 2,
      keptShare: 0.5,
      keptWithParallel: 1,
      threadsPerBlockCounts: { 2: 1, 3: 1 },
      keptTokens: 200,
    });
    expect(s.blocksPerTrajectory).toMatchObject({ mean: 1, max: 2 });
    expect(s.acceleration).toMatchObject({ mean: 0.15, max: 0.3 });
  });

  it('runs at most n tasks at once', async () => {
    const limit = createLimiter(2);
    let active = 0;
    let peak = 0;
    const task = async () => {
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    };
    await Promise.all(Array.from({ length: 7 }, () => limit(task)));
    expect(peak).toBe(2);
    expect(() => createLimiter(0)).toThrow(RangeError);
  });
});

describe('the dataset files', () => {
  /** Characters as tokens: no tag is a single token. */
  const chars: Tokenizer = {
    encode: (t) => [...t].map((c) => c.codePointAt(0)!),
    decode: (ids) => String.fromCodePoint(...ids),
    count: (t) => [...t].length,
    applyChatTemplate: (m) => m.map((x) => `${x.role}: ${x.content}\n`).join('') + 'assistant: ',
    eosIds: [],
    singleTokenId: (t) => ([...t].length === 1 ? t.codePointAt(0) : undefined),
  };

  it('writes sft.jsonl with the instruction, and no trie file when the tags are not single tokens', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tw-sftds-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'sft-trie.jsonl'), 'stale\n');
    const files = await writeSftDataset(
      dir,
      [{ id: 'a', problem: 'Compute 2*3.', trajectory: '<think>\n2*3 = 6.\n</think>\n\\boxed{6}' }],
      chars,
      { instruction: 'Box the answer.' },
    );
    expect(files.trie).toBeNull();
    expect(files.trieError).toMatch(/"<Parallel>" encodes to 10 tokens/);
    expect(await readdir(dir)).toEqual(['sft.jsonl']);
    expect(await readSftDataset(files.sft)).toEqual([
      {
        id: 'a',
        messages: [
          { role: 'user', content: 'Compute 2*3. Box the answer.' },
          { role: 'assistant', content: '<think>\n2*3 = 6.\n</think>\n\\boxed{6}' },
        ],
      },
    ]);
    await writeFile(files.sft, '{"id": "a", "messages": [{"role": "user", "content": "q"}]}\n');
    await expect(readSftDataset(files.sft)).rejects.toThrow(`${files.sft}:1: field "messages"`);
  });
});
