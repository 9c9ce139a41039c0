import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasSharedFile, sharedDir } from '../support/helpers.js';
import { generateArith, parseArithProblem, renderArith, productsTask } from '../../eval/arith.js';
import { loadDataset } from '../../eval/dataset.js';

const hasRecipeData =
  hasSharedFile('benchmarks/arith500.jsonl', "eval-arith's checks against the recipe's data") &&
  hasSharedFile('models/tiny-threadweaver/trie-vectors.jsonl', "eval-arith's checks against the recipe's data");

describe('arith generator', () => {
  it('is deterministic per seed and answers are right', () => {
    const a = generateArith(200, 3);
    expect(generateArith(200, 3)).toEqual(a);
    expect(generateArith(200, 4)).not.toEqual(a);
    for (const t of a) {
      // The answer is the value of the problem's expression (evaluated independently of the scratchpad).
      const expr = t.problem.startsWith('Let f')
        ? (() => {
            const m = t.problem.match(/f\(x\) = (\d+)x\^2 \+ (\d+)x(?: \+ (\d+))?\. Compute (.*)\.$/)!;
            const [a2, b1, c0] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
            return [...m[4]!.matchAll(/f\((\d+)\)/g)].reduce(
              (s, x) => s + a2 * Number(x[1]) ** 2 + b1 * Number(x[1]) + c0,
              0,
            );
          })()
        : Function(`return ${t.problem.slice('Compute '.length, -1)}`)();
      expect(t.answer).toBe(expr);
      expect(t.answer).toBeGreaterThanOrEqual(0);
    }
  });

  it('draws every family in roughly the recipe mix', () => {
    const fams = generateArith(2000, 11).map((t) => t.family);
    const share = (f: string) => fams.filter((x) => x === f).length / fams.length;
    expect(share('products')).toBeGreaterThan(0.5);
    expect(share('products')).toBeLessThan(0.6);
    expect(share('single')).toBeGreaterThan(0.12);
    expect(share('chain')).toBeGreaterThan(0.07);
    expect(share('poly')).toBeGreaterThan(0.17);
    // Subtraction happens, and never makes a result negative.
    expect(generateArith(2000, 11).some((t) => t.problem.includes(' - '))).toBe(true);
  });

  it('parses its own problems back to the same task', () => {
    for (const t of generateArith(300, 5)) expect(parseArithProblem(t.problem)).toEqual(t);
    expect(parseArithProblem('What is 2+2?')).toBeNull();
  });

  it('renders the sequential and parallel forms of a products task', () => {
    const t = productsTask(
      [
        [37, 24],
        [18, 53],
      ],
      ['+'],
    );
    expect(renderArith(t, 'sequential')).toBe(
      [
        'The expression has 2 independent products; compute each, then combine.',
        'Step 1: 37*24 = 37*20 + 37*4 = 740 + 148 = 888. So the result is 888.',
        'Step 2: 18*53 = 53*10 + 53*8 = 530 + 424 = 954. So the result is 954.',
        'Combine: 888 + 954 = 1842.',
        '</think>',
        'The answer is \\boxed{1842}.',
      ].join('\n'),
    );
    expect(renderArith(t, 'parallel')).toContain(
      '<Outline>2: Compute 18*53.</Outline>\n</Outlines>\n<Thread>\n1: 37*24',
    );
  });

  it('loads as the arith dataset with a fixed default list', async () => {
    const a = await loadDataset({ name: 'arith', limit: 50 });
    const b = await loadDataset({ name: 'arith', limit: 50 });
    expect(a).toEqual(b);
    expect(a.problems).toHaveLength(50);
    expect(new Set(a.problems.map((p) => p.id)).size).toBe(50);
    const c = await loadDataset({ name: 'arith', limit: 50, seed: 9 });
    expect(c.problems.map((p) => p.problem)).not.toEqual(a.problems.map((p) => p.problem));
    expect(a.problems[0]).toMatchObject({ family: expect.any(String), parallelizable: expect.any(Boolean) });
  });
});

describe.skipIf(!hasRecipeData)('arith against the recipe data', () => {
  const model = path.join(sharedDir, 'models/tiny-threadweaver');

  it('renders byte-identical trajectories to trie-vectors.jsonl', () => {
    const lines = readFileSync(path.join(model, 'trie-vectors.jsonl'), 'utf8').trim().split('\n');
    // MODEL.md: 12 reference trie flattenings.
    expect(lines).toHaveLength(12);
    let sequential = 0;
    for (const line of lines) {
      const v = JSON.parse(line) as { prompt: string; completion: string };
      const problem = v.prompt.match(/<\|im_start\|>user\n([\s\S]*?)<\|im_end\|>/)![1]!;
      const mode = v.prompt.includes('<|im_start|>system') ? 'sequential' : 'parallel';
      if (mode === 'sequential') sequential++;
      const task = parseArithProblem(problem);
      expect(task, problem).not.toBeNull();
      expect('<think>\n' + renderArith(task!, mode) + '<|im_end|>').toBe(v.completion);
    }
    expect(sequential).toBeGreaterThan(0);
  });

  it('agrees with arith500.jsonl on answer, family and parallelizable', () => {
    const lines = readFileSync(path.join(sharedDir, 'benchmarks/arith500.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(500);
    for (const line of lines) {
      const row = JSON.parse(line) as { problem: string; answer: string; family: string; parallelizable: boolean };
      const t = parseArithProblem(row.problem)!;
      expect(t, row.problem).not.toBeNull();
      expect([String(t.answer), t.family, t.subs !== null]).toEqual([row.answer, row.family, row.parallelizable]);
    }
  });
});
