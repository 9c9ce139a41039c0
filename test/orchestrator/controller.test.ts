import { describe, expect, it } from 'vitest';
import { shareBudget } from '../../src/engine/siblings.js';
import type { Engine } from '../../src/engine/types.js';
import { Controller } from '../../src/orchestrator/controller.js';
import { parallelStats, trajectoryMetrics } from '../../src/orchestrator/metrics.js';
import { callContextIds } from '../../src/orchestrator/trajectory.js';
import { validateTrajectory } from '../../src/format/validate.js';
import { solve } from '../../src/solve/solve.js';
import { SolveError } from '../../src/solve/types.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';

const PROMPT = '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n';
const OUTLINES =
  '<think>\nTwo parts.\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>';

/** A well-behaved model: two outlines, two threads, then the combination. */
const wellBehaved = rules(
  [/<Thread>\n1:$/, ' a = 1.\n</Thread>'],
  [/<Thread>\n2:$/, ' b = 22.\n</Thread>'],
  [/<\/Thread>\n$/, `</Parallel>\nSo 23.\n</think>\nThe answer is \\boxed{23}.${EOS}`],
  [/assistant\n$/, OUTLINES],
);

async function run(
  script: Parameters<typeof rules>[0] extends never ? never : ReturnType<typeof rules>,
  options: ConstructorParameters<typeof ScriptedEngine>[1] = {},
  runOptions: Parameters<Controller['run']>[2] = {},
) {
  const engine = new ScriptedEngine(script, options);
  const controller = new Controller(engine);
  const events: string[] = [];
  for (const e of ['phase', 'outlines', 'thread:start', 'thread:end', 'join', 'done', 'error'] as const)
    controller.on(e, () => events.push(e));
  const t = await controller.run('Q', PROMPT, runOptions);
  return { t, engine, events };
}

/** An engine that ignores a sibling call's shared budget: it runs every sibling to its own cap. */
function ignoringTotal(inner: ScriptedEngine): Engine {
  return {
    name: 'ignores-total',
    tokenizer: inner.tokenizer,
    contextLength: inner.contextLength,
    complete: (r) => inner.complete(r),
    completeSiblings: (prefix, suffixes, r) =>
      Promise.all(suffixes.map((s) => inner.complete({ ...r, prompt: [...prefix, ...s], onDelta: () => {} }))),
  };
}

describe('controller: the reference semantics', () => {
  it('forks at </Outlines>, prompts each thread with \\n<Thread>\\n{n}:, joins byte-exactly', async () => {
    const { t, engine, events } = await run(wellBehaved);
    expect(t.finishReason).toBe('done');
    expect(t.eos).toBe(true);
    expect(t.text).toBe(
      `${OUTLINES}\n<Thread>\n1: a = 1.\n</Thread><Thread>\n2: b = 22.\n</Thread>\n</Parallel>\nSo 23.\n</think>\nThe answer is \\boxed{23}.`,
    );
    expect(validateTrajectory(t.text)).toEqual([]);
    // Calls: sequential, 2 threads (same prefix), sequential.
    expect(t.calls.map((c) => (c.role.kind === 'thread' ? `t${c.role.thread}` : 's'))).toEqual(['s', 't1', 't2', 's']);
    expect(engine.requests[0]!.stop).toEqual(['</Outlines>']);
    expect(engine.requests[1]!.stop).toEqual(['</Thread>']);
    expect(engine.requests[1]!.context).toBe(PROMPT + OUTLINES + '\n<Thread>\n1:');
    expect(engine.requests[2]!.context).toBe(PROMPT + OUTLINES + '\n<Thread>\n2:');
    // The model writes </Parallel>: the controller only inserted headers and '\n'.
    expect(t.pieces.filter((p) => p.source === 'inserted').map((p) => p.text)).toEqual([
      '\n<Thread>\n1:',
      '<Thread>\n2:',
      '\n',
    ]);
    expect(callContextIds(t, t.calls[2]!)).toEqual(engine.tokenizer.encode(engine.requests[2]!.context));
    expect(events).toEqual([
      'phase',
      'outlines',
      'phase',
      'thread:start',
      'thread:start',
      'thread:end',
      'thread:end',
      'join',
      'phase',
      'done',
    ]);
  });

  it('counts T and L with wrappers on the critical path', async () => {
    const { t, engine } = await run(wellBehaved);
    const m = trajectoryMetrics(t, engine.tokenizer);
    const tok = (s: string) => engine.tokenizer.count(s);
    const t1 = tok('\n1: a = 1.\n');
    const t2 = tok('\n2: b = 22.\n');
    expect(m.blocks[0]!.threadTokens).toEqual([t1, t2]);
    expect(m.totalTokens).toBe(t.ids.length + 1); // + EOS
    expect(m.totalTokens - m.criticalPathTokens).toBe(Math.min(t1, t2));
    expect(m.parallelBlocks).toBe(1);
    expect(m.threads).toBe(2);
    expect(m.acceleration).toBeCloseTo(1 - m.criticalPathTokens / m.totalTokens, 12);
    // A sequential text has η = 0.
    const seq = 'Step 1. Step 2.';
    expect(parallelStats(seq, engine.tokenizer.encode(seq), engine.tokenizer).acceleration).toBe(0);
  });

  it('sequential mode never forks', async () => {
    const { t, engine } = await run(
      rules([/assistant\n$/, `${OUTLINES}\nno threads here</think>${EOS}`]),
      {},
      { mode: 'sequential' },
    );
    expect(engine.requests).toHaveLength(1);
    expect(engine.requests[0]!.stop).toEqual([]);
    expect(t.calls.every((c) => c.role.kind === 'sequential')).toBe(true);
  });
});

describe('controller: bad model output', () => {
  it('unclosed tags and EOS before </Outlines>: ends, nothing forked', async () => {
    const { t } = await run(rules([/assistant\n$/, `<think>\n<Parallel>\n<Outlines>\n<Outline>1: a</Outline>${EOS}`]));
    expect(t.finishReason).toBe('done');
    expect(t.calls).toHaveLength(1);
    expect(validateTrajectory(t.text).map((v) => v.code)).toEqual(
      expect.arrayContaining(['parallel-unclosed', 'outlines-unclosed']),
    );
  });

  it('outlines without numbers: no fork, keeps decoding sequentially', async () => {
    const { t, engine } = await run(
      rules(
        [/<\/Outlines>$/, `\nI will just go on.\n</think>\n\\boxed{1}${EOS}`],
        [
          /assistant\n$/,
          '<think>\n<Parallel>\n<Outlines>\n<Outline>first: a</Outline>\n<Outline>: b</Outline>\n</Outlines>',
        ],
      ),
    );
    expect(t.calls.map((c) => c.role.kind)).toEqual(['sequential', 'sequential']);
    expect(engine.requests[1]!.context.endsWith('</Outlines>')).toBe(true);
    expect(t.finishReason).toBe('done');
  });

  it('duplicate numbers fork once each, dotted numbers kept verbatim', async () => {
    const { t } = await run(
      rules(
        [/<Thread>\n(1|2\.1):$/, ' x\n</Thread>'],
        [/<\/Thread>\n$/, `</Parallel>\n</think>${EOS}`],
        [
          /assistant\n$/,
          '<think>\n<Parallel>\n<Outlines>\n<Outline>1: a</Outline>\n<Outline> 1 : again</Outline>\n<Outline>2.1: b</Outline>\n</Outlines>',
        ],
      ),
    );
    expect(t.calls.filter((c) => c.role.kind === 'thread').map((c) => (c.role as { thread: string }).thread)).toEqual([
      '1',
      '2.1',
    ]);
    expect(t.text).toContain('</Outlines>\n<Thread>\n1: x\n</Thread><Thread>\n2.1: x\n</Thread>\n</Parallel>');
  });

  it('a thread that never stops is cut by the budget; tags are closed; the run ends', async () => {
    const { t } = await run(
      rules(
        [/<Thread>\n1:$/, ' short\n</Thread>'],
        [/<Thread>\n2:$/, ' forever'.repeat(10_000)],
        [/assistant\n$/, OUTLINES],
      ),
      {},
      { maxTokens: 400 },
    );
    expect(t.finishReason).toBe('budget');
    const generated = t.calls.reduce((s, c) => s + c.completionIds.length, 0);
    expect(generated).toBeLessThanOrEqual(400);
    expect(t.text.endsWith('\n</Thread>\n</Parallel>')).toBe(true);
    expect(
      validateTrajectory(t.text).filter((v) => v.code.startsWith('thread') || v.code.startsWith('parallel')),
    ).toEqual([]);
  });

  it('EOS inside a thread closes the thread and the block and ends the run', async () => {
    const { t } = await run(
      rules([/<Thread>\n1:$/, ` oops${EOS}`], [/<Thread>\n2:$/, ' fine\n</Thread>'], [/assistant\n$/, OUTLINES]),
    );
    expect(t.finishReason).toBe('thread-eos');
    expect(t.text.endsWith('<Thread>\n1: oops\n</Thread><Thread>\n2: fine\n</Thread>\n</Parallel>')).toBe(true);
    expect(t.calls.filter((c) => c.role.kind === 'sequential')).toHaveLength(1);
  });

  it('40 outlines: 40 threads, joined in outline order', async () => {
    const n = 40;
    const outlines = Array.from({ length: n }, (_, i) => `<Outline>${i + 1}: p${i + 1}</Outline>\n`).join('');
    const { t } = await run(
      rules(
        [/<Thread>\n(\d+):$/, ' done\n</Thread>'],
        [/<\/Thread>\n$/, `</Parallel>\n</think>${EOS}`],
        [/assistant\n$/, `<think>\n<Parallel>\n<Outlines>\n${outlines}</Outlines>`],
      ),
    );
    expect(t.finishReason).toBe('done');
    expect(t.calls.filter((c) => c.role.kind === 'thread')).toHaveLength(n);
    expect(validateTrajectory(t.text)).toEqual([]);
    const numbers = [...t.text.matchAll(/<Thread>\n(\d+):/g)].map((m) => Number(m[1]));
    expect(numbers).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });

  it('outline soup forever: the transition cap ends it', async () => {
    // Every sequential call writes another outlines section and each thread closes properly:
    // without the cap this would fork forever.
    const { t } = await run((ctx) =>
      ctx.endsWith(':') ? ' again\n</Thread>' : '<Outlines><Outline>1: again</Outline></Outlines>',
    );
    expect(t.finishReason).toBe('transitions');
    expect(t.calls.length).toBe(32); // 16 plans and 16 one-thread forks
  });

  it('respects the context limit', async () => {
    const { t } = await run(() => 'x'.repeat(5000), { contextLength: 300 });
    expect(t.finishReason).toBe('context');
    expect(t.promptIds.length + t.ids.length).toBeLessThanOrEqual(300);
  });

  it('an engine failure ends the run with error; solve() throws SolveError with the partial trajectory', async () => {
    const { t, events } = await run(wellBehaved, { failOnCall: 1 });
    expect(t.finishReason).toBe('error');
    expect(t.error).toMatch(/scripted failure/);
    expect(events).toContain('error');
    const engine = new ScriptedEngine(wellBehaved, { failOnCall: 1 });
    const err = await solve('Q', { engine }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SolveError);
    expect((err as SolveError).trajectory.calls).toHaveLength(1);
  });
});

describe('controller: where a plan starts', () => {
  it('a </Outlines> with no <Outlines> since the last block does not fork again', async () => {
    const { t } = await run(
      rules(
        [/<Thread>\n1:$/, ' a = 1.\n</Thread>'],
        [/<Thread>\n2:$/, ' b = 22.\n</Thread>'],
        // After the block, the model writes a closing </Outlines> with no plan of its own.
        [/<\/Thread>\n$/, '</Parallel>\nStray </Outlines>'],
        [/Stray <\/Outlines>$/, `\nSo 23.\n</think>\n\\boxed{23}${EOS}`],
        [/assistant\n$/, OUTLINES],
      ),
    );
    // Block 0's outlines are not read again: one block, then sequential to the end.
    expect(t.calls.map((c) => (c.role.kind === 'thread' ? `t${c.role.thread}` : 's'))).toEqual([
      's',
      't1',
      't2',
      's',
      's',
    ]);
    expect(t.finishReason).toBe('done');
    expect(t.text.endsWith('Stray </Outlines>\nSo 23.\n</think>\n\\boxed{23}')).toBe(true);
  });

  it('a segment that opens <Outlines> twice forks on the last plan only', async () => {
    const opened = (...labels: number[]) =>
      `\n<Outlines>\n${labels.map((n) => `<Outline>${n}: part ${n}.</Outline>\n`).join('')}`;
    const script = rules(
      [/<Thread>\n\d:$/, ' c = 3.\n</Thread>'],
      [/<\/Thread>\n$/, `</Parallel>\n</think>\n\\boxed{3}${EOS}`],
      [/assistant\n$/, `<think>\n<Parallel>${opened(1, 2)}${opened(3)}</Outlines>`],
    );
    const { t } = await run(script);
    expect(t.calls.map((c) => (c.role.kind === 'thread' ? `t${c.role.thread}` : 's'))).toEqual(['s', 't3', 's']);
    expect(t.finishReason).toBe('done');
  });

  it('outline lines before any <Outlines> are no plan', async () => {
    const { t } = await run(
      rules(
        [/<\/Outlines>$/, `\nno fork.\n</think>\n\\boxed{1}${EOS}`],
        [/assistant\n$/, '<think>\n<Outline>1: a</Outline>\n<Outline>2: b</Outline>\n</Outlines>'],
      ),
    );
    expect(t.calls.map((c) => c.role.kind)).toEqual(['sequential', 'sequential']);
    expect(t.finishReason).toBe('done');
  });

  it('a second block forks on its own plan, not the first one', async () => {
    const second =
      '\n<Parallel>\n<Outlines>\n<Outline>1: c</Outline>\n<Outline>2: d</Outline>\n<Outline>3: e</Outline>\n</Outlines>';
    const { t } = await run(
      rules(
        [/<Thread>\n\d:$/, ' x\n</Thread>'],
        [/3: x\n<\/Thread>\n$/, `</Parallel>\n</think>\n\\boxed{1}${EOS}`],
        [/<\/Thread>\n$/, `</Parallel>${second}`],
        [/assistant\n$/, OUTLINES],
      ),
    );
    expect(
      t.calls
        .filter((c) => c.role.kind === 'thread')
        .map((c) => `${(c.role as { block: number }).block}:${(c.role as { thread: string }).thread}`),
    ).toEqual(['0:1', '0:2', '1:1', '1:2', '1:3']);
    expect(validateTrajectory(t.text)).toEqual([]);
  });
});

describe('controller: budget', () => {
  /** Thread 1 is short; thread 2 never stops. */
  const unequal = rules(
    [/<Thread>\n1:$/, ' short one.\n</Thread>'],
    [/<Thread>\n2:$/, ' long'.repeat(10_000)],
    [/assistant\n$/, OUTLINES],
  );
  const generated = (t: Awaited<ReturnType<typeof run>>['t']) =>
    t.calls.reduce((s, c) => s + c.completionIds.length, 0);

  it('a thread may use all the budget its siblings leave: none is left unused, the end is labelled budget', async () => {
    const head = new ScriptedEngine(unequal).tokenizer.count(OUTLINES);
    const short = new ScriptedEngine(unequal).tokenizer.count(' short one.\n</Thread>');
    const budget = head + 200;
    const { t, engine } = await run(unequal, {}, { maxTokens: budget });
    const [t1, t2] = t.calls.filter((c) => c.role.kind === 'thread');
    // Each thread was offered the whole remaining budget, not a split of it.
    expect(engine.requests.slice(1).map((r) => r.maxTokens)).toEqual([200, 200]);
    expect(t1!.completionIds).toHaveLength(short);
    expect(t1!.finishReason).toBe('stop');
    expect(t2!.completionIds).toHaveLength(200 - short);
    expect(t2!.finishReason).toBe('length');
    expect(generated(t)).toBe(budget);
    expect(t.finishReason).toBe('budget');
    expect(t.text.endsWith('\n</Thread>\n</Parallel>')).toBe(true);
  });

  it('inserted tokens (headers, closing tags, separators) do not count toward the budget; the context counts them', async () => {
    const { t } = await run(unequal, {}, { maxTokens: 300 });
    const inserted = t.pieces.filter((p) => p.source === 'inserted').reduce((s, p) => s + p.ids.length, 0);
    expect(inserted).toBeGreaterThan(0);
    expect(generated(t)).toBe(300);
    expect(t.ids.length).toBe(300 + inserted);
  });

  it('the total is enforced after the join even when an engine ignores the shared budget', async () => {
    const t = await new Controller(ignoringTotal(new ScriptedEngine(unequal))).run('Q', PROMPT, { maxTokens: 250 });
    expect(generated(t)).toBe(250);
    expect(t.finishReason).toBe('budget');
    const reference = await run(unequal, {}, { maxTokens: 250 });
    expect(t.text).toBe(reference.t.text);
  });

  it('siblings share the budget in lockstep: one token each per step, in thread order', () => {
    expect(shareBudget([10, 100, 100], 50)).toEqual([10, 20, 20]);
    expect(shareBudget([10, 100, 100], 51)).toEqual([10, 21, 20]);
    expect(shareBudget([3, 4], 100)).toEqual([3, 4]);
    expect(shareBudget([5, 5, 5], 0)).toEqual([0, 0, 0]);
    // What a batch engine keeps when it stops at the budget: simulated step by step.
    for (const [lengths, total] of [
      [[7, 1, 30, 12], 33],
      [[0, 9, 9], 10],
      [[40, 2, 40, 2], 81],
    ] as const) {
      const got = lengths.map(() => 0);
      let spent = 0;
      for (let step = 0; spent < total && got.some((g, i) => g < lengths[i]!); step++) {
        for (let i = 0; i < lengths.length && spent < total; i++) {
          if (got[i]! < lengths[i]!) {
            got[i]!++;
            spent++;
          }
        }
      }
      expect(shareBudget(lengths, total)).toEqual(got);
    }
  });

  it('a thread ending with EOS right at the budget keeps its EOS', async () => {
    const engine = new ScriptedEngine(rules([/<Thread>\n1:$/, ` 12345${EOS}`]));
    const prefix = engine.tokenizer.encode('ctx');
    const suffixes = [engine.tokenizer.encode('\n<Thread>\n1:')];
    const [r] = await engine.completeSiblings(prefix, suffixes, { maxTokens: 100, maxTotalTokens: 6 });
    expect(r).toMatchObject({ text: ' 12345', finishReason: 'eos' });
    const [cut] = await engine.completeSiblings(prefix, suffixes, { maxTokens: 100, maxTotalTokens: 5 });
    expect(cut).toMatchObject({ text: ' 1234', finishReason: 'length' });
  });
});

describe('controller: context limit', () => {
  const endless = rules([/<Thread>\n\d:$/, ' more'.repeat(10_000)], [/assistant\n$/, OUTLINES]);

  it('a block that reaches the context is cut to fit, closing tags included, and labelled context', async () => {
    const tok = new ScriptedEngine(endless).tokenizer;
    const before = tok.count(PROMPT + OUTLINES);
    for (const extra of [20, 21, 57, 200]) {
      const limit = before + extra;
      const { t } = await run(endless, { contextLength: limit });
      expect(t.promptIds.length + t.ids.length, `limit ${limit}`).toBeLessThanOrEqual(limit);
      if (t.calls.some((c) => c.role.kind === 'thread')) {
        expect(t.promptIds.length + t.ids.length, `limit ${limit}`).toBe(limit);
        expect(t.text.endsWith('\n</Thread>\n</Parallel>')).toBe(true);
        expect(
          validateTrajectory(t.text).filter((v) => v.code.startsWith('thread') || v.code.startsWith('parallel')),
        ).toEqual([]);
      }
      expect(t.finishReason).toBe('context');
    }
  });

  it('the threads share the context room, not the budget left, even when an engine ignores the shared budget', async () => {
    const tok = new ScriptedEngine(endless).tokenizer;
    for (const extra of [21, 57, 200]) {
      const limit = tok.count(PROMPT + OUTLINES) + extra;
      // The budget (the engine's whole context) is far from spent: only the room binds.
      const t = await new Controller(ignoringTotal(new ScriptedEngine(endless))).run('Q', PROMPT, {
        contextLimit: limit,
      });
      expect(t.promptIds.length + t.ids.length, `limit ${limit}`).toBe(limit);
      expect(t.finishReason).toBe('context');
      const reference = await run(endless, {}, { contextLimit: limit });
      expect(t.text, `limit ${limit}`).toBe(reference.t.text);
    }
  });

  it('a prompt that fills the context: nothing generated, labelled context, and solve() says why', async () => {
    const engine = new ScriptedEngine(endless, { contextLength: 20 });
    const r = await solve('A problem far longer than twenty tokens.', { engine });
    expect(r.finishReason).toBe('context');
    expect(engine.requests).toHaveLength(0);
    expect(r.warnings).toContainEqual(
      expect.stringMatching(/^the prompt \(\d+ tokens\) leaves no room in the context limit of 20 tokens/),
    );
  });

  it('no room for the block tags: no fork, the run ends at the limit', async () => {
    const { t } = await run(endless, {
      contextLength: new ScriptedEngine(endless).tokenizer.count(PROMPT + OUTLINES) + 5,
    });
    expect(t.calls.map((c) => c.role.kind)).toEqual(['sequential']);
    expect(t.finishReason).toBe('context');
  });

  it('contextLimit below the engine context binds every engine alike; the budget binding first is labelled budget', async () => {
    const tok = new ScriptedEngine(endless).tokenizer;
    const limit = tok.count(PROMPT + OUTLINES) + 150;
    const { t } = await run(endless, {}, { contextLimit: limit });
    expect(t.promptIds.length + t.ids.length).toBe(limit);
    expect(t.finishReason).toBe('context');
    const budgeted = await run(endless, {}, { contextLimit: limit, maxTokens: tok.count(OUTLINES) + 40 });
    expect(budgeted.t.finishReason).toBe('budget');
    expect(budgeted.t.promptIds.length + budgeted.t.ids.length).toBeLessThan(limit);
  });
});

describe('controller: cancellation', () => {
  it('abort mid-thread returns promptly with finishReason abort', async () => {
    const ac = new AbortController();
    const engine = new ScriptedEngine(rules([/<Thread>\n\d:$/, ' slow'.repeat(10_000)], [/assistant\n$/, OUTLINES]), {
      tokenDelayMs: 2,
    });
    const controller = new Controller(engine);
    controller.on('thread:start', () => setTimeout(() => ac.abort(), 50));
    const t = await controller.run('Q', PROMPT, { signal: ac.signal });
    expect(t.finishReason).toBe('abort');
    const threads = t.calls.filter((c) => c.role.kind === 'thread');
    expect(threads.every((c) => c.finishReason === 'abort')).toBe(true);
    // Promptness in tokens, not wall time (a busy machine slows the timer and the tokens alike):
    // 50 ms of 2 ms tokens is about 25 each; a thread that ignored the abort would write 50,000.
    for (const c of threads) expect(c.completionIds.length).toBeLessThan(2_000);
  });
});

describe('solve() input', () => {
  it('rejects an empty problem', async () => {
    await expect(solve('   ', { engine: new ScriptedEngine(wellBehaved) })).rejects.toThrow(/empty/);
  });
  it('answers from the last box after </think>', async () => {
    const r = await solve('Q', { engine: new ScriptedEngine(wellBehaved) });
    expect(r.answer).toBe('23');
    expect(r.formatValid).toBe(true);
  });
});
