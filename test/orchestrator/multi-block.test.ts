import { describe, expect, it } from 'vitest';
import { runRollouts } from '../../rl/rollout.js';
import { solve } from '../../src/solve/solve.js';
import { EOS, ScriptedEngine } from '../support/scripted-engine.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

// Trajectories of several parallel blocks, run through solve() on a scripted model, with T, L, η
// and the RL reward worked out by hand. The scripted tokenizer reads every tag as one token and
// every other character as one token, so the counts below are character counts.

interface BlockSpec {
  outlines: string[];
  /** What each thread writes after its `\n<Thread>\n{n}:` header, before `\n</Thread>`. */
  bodies: string[];
}

const outlinesText = (b: BlockSpec) =>
  `\n<Outlines>\n${b.outlines.map((o, i) => `<Outline>${i + 1}: ${o}</Outline>\n`).join('')}</Outlines>`;

/**
 * The model: `<think>\n<Parallel>` and block 1's plan; each thread its body; between blocks
 * `</Parallel>\nx\n<Parallel>` and the next plan; at the end `</Parallel>\ny\n</think>\n\boxed{3}` and EOS.
 */
function blocksModel(blocks: readonly BlockSpec[]) {
  return (context: string): string => {
    const planned = context.split('</Outlines>').length - 1;
    const thread = /<Thread>\n(\d+):$/.exec(context);
    if (thread) return `${blocks[planned - 1]!.bodies[Number(thread[1]) - 1]}\n</Thread>`;
    if (planned === 0) return `<think>\n<Parallel>${outlinesText(blocks[0]!)}`;
    if (planned < blocks.length) return `</Parallel>\nx\n<Parallel>${outlinesText(blocks[planned]!)}`;
    return `</Parallel>\ny\n</think>\n\\boxed{3}${EOS}`;
  };
}

const B1: BlockSpec = { outlines: ['A', 'B'], bodies: [' aa', ' bbbb'] };
const B2: BlockSpec = { outlines: ['C', 'D', 'E'], bodies: [' c', ' dddddd', ' eee'] };
const B3: BlockSpec = { outlines: ['F', 'G'], bodies: [' f', ' ggg'] };

// By hand, per block: the overhead is everything between `<Parallel>` and `</Parallel>` that is not
// a thread body: `\n<Outlines>\n` (3) + 7 per outline line + `</Outlines>` (1), then `\n<Thread>` (2)
// before the first body, `</Thread><Thread>` (2) between bodies, `</Thread>` (1) and the joined `\n` (1).
//   B1: 3 + 14 + 1 + 2 + 2 + 1 + 1 = 24; bodies `\n1: aa\n` = 7, `\n2: bbbb\n` = 9.
//   B2: 3 + 21 + 1 + 2 + 4 + 1 + 1 = 33; bodies 6, 11, 8.
//   B3: 3 + 14 + 1 + 2 + 2 + 1 + 1 = 24; bodies 6, 8.
// Sequential: `<think>\n<Parallel>` 3 before the first block; `</Parallel>\nx\n<Parallel>` 5 between
// blocks; `</Parallel>\ny\n</think>\n\boxed{3}` 15 and EOS 1 = 16 after the last.
describe('T, L and η over several blocks, counted by hand', () => {
  it('two blocks: T = 24 + (24+7+9) + (33+6+11+8) = 122, L = 24 + (24+9) + (33+11) = 101', async () => {
    const r = await solve('Q', { engine: new ScriptedEngine(blocksModel([B1, B2])) });
    expect(r.finishReason).toBe('done');
    expect(r.formatValid).toBe(true);
    expect(r.answer).toBe('3');
    const m = r.metrics;
    expect(m.blocks.map((b) => [b.overheadTokens, b.threadTokens])).toEqual([
      [24, [7, 9]],
      [33, [6, 11, 8]],
    ]);
    expect(m.sequentialRuns).toEqual([3, 5, 16]);
    expect(m.sequentialTokens).toBe(24);
    expect(m.totalTokens).toBe(122);
    expect(m.criticalPathTokens).toBe(101);
    expect(m.acceleration).toBeCloseTo(21 / 122, 12);
    expect(m.parallelBlocks).toBe(2);
    expect(m.threadsPerBlock).toEqual([2, 3]);
    // The generated ids are T without the EOS.
    expect(r.trajectory.ids).toHaveLength(121);
  });

  it('three blocks: T = 29 + 40 + 58 + 38 = 165, L = 29 + 33 + 44 + 32 = 138', async () => {
    const r = await solve('Q', { engine: new ScriptedEngine(blocksModel([B1, B2, B3])) });
    expect(r.finishReason).toBe('done');
    const m = r.metrics;
    expect(m.blocks.map((b) => [b.overheadTokens, b.threadTokens])).toEqual([
      [24, [7, 9]],
      [33, [6, 11, 8]],
      [24, [6, 8]],
    ]);
    expect(m.sequentialRuns).toEqual([3, 5, 5, 16]);
    expect(m.totalTokens).toBe(165);
    expect(m.criticalPathTokens).toBe(138);
    expect(m.acceleration).toBeCloseTo(27 / 165, 12);
  });

  it('the reward of each: 1 + 0.5 × η for a correct answer (η under the 0.2 clip), over the response tokens', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tw-multiblock-'));
    try {
      const rewards: number[] = [];
      for (const [name, blocks] of [
        ['two', [B1, B2]],
        ['three', [B1, B2, B3]],
      ] as const) {
        const result = await runRollouts({
          dataset: { name, problems: [{ id: 'q', problem: 'Q', answer: '3' }] },
          group: 1,
          out: path.join(dir, `${name}.jsonl`),
          engine: new ScriptedEngine(blocksModel(blocks)),
          rewardConfig: { countPromptTokens: false },
        });
        const [row] = result.rows;
        expect(row!.correct).toBe(true);
        expect(row!.rewardParts.eta).toBeCloseTo(name === 'two' ? 21 / 122 : 27 / 165, 12);
        rewards.push(row!.reward);
      }
      // 1 + 0.5 × 21/122 = 1 + 21/244; 1 + 0.5 × 27/165 = 1 + 9/110.
      expect(rewards[0]).toBeCloseTo(1 + 21 / 244, 12);
      expect(rewards[1]).toBeCloseTo(1 + 9 / 110, 12);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the transition cap (32 by default)', () => {
  const blocks = (n: number): BlockSpec[] =>
    Array.from({ length: n }, () => ({ outlines: ['A', 'B'], bodies: [' a', ' b'] }));

  it('15 blocks take 31 transitions (a plan and a fork each, then the answer) and finish', async () => {
    const r = await solve('Q', { engine: new ScriptedEngine(blocksModel(blocks(15))) });
    expect(r.finishReason).toBe('done');
    expect(r.metrics.parallelBlocks).toBe(15);
    expect(r.trajectory.calls.filter((c) => c.role.kind === 'sequential')).toHaveLength(16);
  });

  it('16 blocks need 33: the 32nd transition is the last, so the 16th block joins and the answer is never written', async () => {
    const r = await solve('Q', { engine: new ScriptedEngine(blocksModel(blocks(16))) });
    expect(r.finishReason).toBe('transitions');
    expect(r.metrics.parallelBlocks).toBe(16);
    expect(r.trajectory.calls.filter((c) => c.role.kind === 'sequential')).toHaveLength(16);
    expect(r.trajectory.calls.filter((c) => c.role.kind === 'thread')).toHaveLength(32);
    expect(r.answer).toBeNull();
  });

  it('a run that never forks is cut at exactly 32 calls', async () => {
    // Every call writes an empty plan: nothing to fork, so the run would go on forever.
    const engine = new ScriptedEngine(() => 'x</Outlines>');
    const r = await solve('Q', { engine });
    expect(r.finishReason).toBe('transitions');
    expect(engine.requests).toHaveLength(32);
  });
});

describe('threads and the context room', () => {
  // One sequential call writes the plan; every thread would write forever.
  const endless = (context: string) =>
    /<Thread>\n\d:$/.test(context) ? ' more'.repeat(300) : `<think>\n<Parallel>${outlinesText(B1)}`;

  it('threads share the room the context has left once the block tags are counted: the run fills it exactly', async () => {
    const engine = new ScriptedEngine(endless);
    const probe = await solve('Q', { engine: new ScriptedEngine(endless), contextLimit: 100_000, maxTokens: 1 });
    const prompt = probe.metrics.promptTokens;
    // Prompt, the plan (21 tokens), headers `\n<Thread>\n1:` (5) and `<Thread>\n2:` (4), two `\n</Thread>` (4)
    // and `\n</Parallel>` (2): 36 + prompt tokens before any thread text; 60 more tokens of room.
    const limit = prompt + 36 + 60;
    const r = await solve('Q', { engine, contextLimit: limit });
    expect(r.finishReason).toBe('context');
    expect(r.trajectory.promptIds.length + r.trajectory.ids.length).toBe(limit);
    // Shared in lockstep: 30 tokens each, and each thread was offered the whole room, no more.
    const threads = r.trajectory.calls.filter((c) => c.role.kind === 'thread');
    expect(threads.map((c) => c.completionIds.length)).toEqual([30, 30]);
    expect(engine.requests.slice(1).map((q) => q.maxTokens)).toEqual([60, 60]);
    expect(r.text.endsWith(' more\n</Thread>\n</Parallel>')).toBe(true);
  });

  it('with no room for the block tags there is no fork', async () => {
    const engine = new ScriptedEngine(endless);
    const probe = await solve('Q', { engine: new ScriptedEngine(endless), contextLimit: 100_000, maxTokens: 1 });
    // The plan fits (prompt + 21) but not the 15 tokens of tags a two-thread block adds.
    const r = await solve('Q', { engine, contextLimit: probe.metrics.promptTokens + 21 + 14 });
    expect(r.finishReason).toBe('context');
    expect(r.trajectory.calls.map((c) => c.role.kind)).toEqual(['sequential']);
  });
});
