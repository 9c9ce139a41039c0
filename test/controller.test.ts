import { describe, expect, it } from 'vitest';
import { Controller } from '../src/orchestrator/controller.js';
import { parallelStats, trajectoryMetrics } from '../src/orchestrator/metrics.js';
import { callContextIds } from '../src/orchestrator/trajectory.js';
import { validateTrajectory } from '../src/format/validate.js';
import { solve, SolveError } from '../src/solve.js';
import { EOS, rules, ScriptedEngine } from './scripted-engine.js';

const PROMPT = '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n';
const OUTLINES = '<think>\nTwo parts.\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>';

/** A well-behaved model: two outlines, two threads, then the combination. */
const wellBehaved = rules(
  [/<Thread>\n1:$/, ' a = 1.\n</Thread>'],
  [/<Thread>\n2:$/, ' b = 22.\n</Thread>'],
  [/<\/Thread>\n$/, `</Parallel>\nSo 23.\n</think>\nThe answer is \\boxed{23}.${EOS}`],
  [/assistant\n$/, OUTLINES],
);

async function run(script: Parameters<typeof rules>[0] extends never ? never : ReturnType<typeof rules>, options: ConstructorParameters<typeof ScriptedEngine>[1] = {}, runOptions: Parameters<Controller['run']>[2] = {}) {
  const engine = new ScriptedEngine(script, options);
  const controller = new Controller(engine);
  const events: string[] = [];
  for (const e of ['phase', 'outlines', 'thread:start', 'thread:end', 'join', 'done', 'error'] as const) controller.on(e, () => events.push(e));
  const t = await controller.run('Q', PROMPT, runOptions);
  return { t, engine, events };
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
    expect(t.pieces.filter((p) => p.source === 'inserted').map((p) => p.text)).toEqual(['\n<Thread>\n1:', '<Thread>\n2:', '\n']);
    expect(callContextIds(t, t.calls[2]!)).toEqual(engine.tokenizer.encode(engine.requests[2]!.context));
    expect(events).toEqual(['phase', 'outlines', 'phase', 'thread:start', 'thread:start', 'thread:end', 'thread:end', 'join', 'phase', 'done']);
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
    const { t, engine } = await run(rules([/assistant\n$/, `${OUTLINES}\nno threads here</think>${EOS}`]), {}, { mode: 'sequential' });
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
    expect(validateTrajectory(t.text).map((v) => v.code)).toEqual(expect.arrayContaining(['parallel-unclosed', 'outlines-unclosed']));
  });

  it('outlines without numbers: no fork, keeps decoding sequentially', async () => {
    const { t, engine } = await run(
      rules(
        [/<\/Outlines>$/, `\nI will just go on.\n</think>\n\\boxed{1}${EOS}`],
        [/assistant\n$/, '<think>\n<Parallel>\n<Outlines>\n<Outline>first: a</Outline>\n<Outline>: b</Outline>\n</Outlines>'],
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
        [/assistant\n$/, '<think>\n<Parallel>\n<Outlines>\n<Outline>1: a</Outline>\n<Outline> 1 : again</Outline>\n<Outline>2.1: b</Outline>\n</Outlines>'],
      ),
    );
    expect(t.calls.filter((c) => c.role.kind === 'thread').map((c) => (c.role as { thread: string }).thread)).toEqual(['1', '2.1']);
    expect(t.text).toContain('</Outlines>\n<Thread>\n1: x\n</Thread><Thread>\n2.1: x\n</Thread>\n</Parallel>');
  });

  it('a thread that never stops is cut by the budget; tags are closed; the run ends', async () => {
    const { t } = await run(
      rules([/<Thread>\n1:$/, ' short\n</Thread>'], [/<Thread>\n2:$/, ' forever'.repeat(10_000)], [/assistant\n$/, OUTLINES]),
      {},
      { maxTokens: 400 },
    );
    expect(t.finishReason).toBe('budget');
    const generated = t.calls.reduce((s, c) => s + c.completionIds.length, 0);
    expect(generated).toBeLessThanOrEqual(400);
    expect(t.text.endsWith('\n</Thread>\n</Parallel>')).toBe(true);
    expect(validateTrajectory(t.text).filter((v) => v.code.startsWith('thread') || v.code.startsWith('parallel'))).toEqual([]);
  });

  it('EOS inside a thread closes the thread and the block and ends the run', async () => {
    const { t } = await run(rules([/<Thread>\n1:$/, ` oops${EOS}`], [/<Thread>\n2:$/, ' fine\n</Thread>'], [/assistant\n$/, OUTLINES]));
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
    const { t } = await run((ctx) => (ctx.endsWith(':') ? ' again\n</Thread>' : '<Outlines><Outline>1: again</Outline></Outlines>'));
    expect(t.finishReason).toBe('transitions');
    expect(t.calls.length).toBeLessThanOrEqual(32);
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

describe('controller: cancellation', () => {
  it('abort mid-thread returns promptly with finishReason abort', async () => {
    const ac = new AbortController();
    const engine = new ScriptedEngine(rules([/<Thread>\n\d:$/, ' slow'.repeat(10_000)], [/assistant\n$/, OUTLINES]), { tokenDelayMs: 2 });
    const controller = new Controller(engine);
    controller.on('thread:start', () => setTimeout(() => ac.abort(), 50));
    const t0 = Date.now();
    const t = await controller.run('Q', PROMPT, { signal: ac.signal });
    expect(t.finishReason).toBe('abort');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(t.calls.filter((c) => c.role.kind === 'thread').every((c) => c.finishReason === 'abort')).toBe(true);
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
