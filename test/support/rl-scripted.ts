import type { Dataset } from '../../eval/dataset.js';
import type { RolloutSolveFn, RolloutSolveOptions } from '../../rl/rollout.js';
import { engineSolver } from '../../src/batch/solver.js';
import { EOS, rules, ScriptedEngine } from './scripted-engine.js';

// Rollouts without a model: solve() on a scripted engine whose "model" depends on the
// trajectory's seed, so a group mixes right, wrong, sequential and malformed trajectories.

export const toyDataset: Dataset = {
  name: 'toy',
  problems: ['p0', 'p1', 'p2'].map((id, i) => ({ id, problem: `Q${i}: add 1 and 22.`, answer: '23' })),
};

const OUTLINES =
  '<think>\nTwo parts.\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>';

export type Behaviour = 'wrong' | 'sequential' | 'parallel' | 'malformed';

export function behaviourOf(seed: number): Behaviour {
  return (['wrong', 'sequential', 'parallel', 'malformed'] as const)[seed % 4]!;
}

export function scriptFor(seed: number) {
  const b = behaviourOf(seed);
  if (b === 'sequential')
    return rules([/assistant\n$/, `<think>\n1 + 22 = 23.\n</think>\nThe answer is \\boxed{23}.${EOS}`]);
  if (b === 'malformed')
    return rules([/assistant\n$/, `<think>\nSo 23.\n</Thread>\n</think>\nThe answer is \\boxed{23}.${EOS}`]);
  const answer = b === 'wrong' ? 24 : 23;
  return rules(
    [/<Thread>\n1:$/, ' a = 1.\n</Thread>'],
    [/<Thread>\n2:$/, ` b = ${answer - 1}, a long thread to make the block worth it.\n</Thread>`],
    [/<\/Thread>\n$/, `</Parallel>\nSo ${answer}.\n</think>\nThe answer is \\boxed{${answer}}.${EOS}`],
    [/assistant\n$/, OUTLINES],
  );
}

/** The engine the rollouts get (for its tokenizer: the EOS id). */
export const toyEngine = new ScriptedEngine(() => EOS);

export interface ScriptedLog {
  options: RolloutSolveOptions;
  engine: ScriptedEngine;
}

/** A solve that runs each trajectory on its own scripted engine; `log` collects every call. */
export function scriptedSolve(log: ScriptedLog[] = [], fail?: (o: RolloutSolveOptions) => boolean): RolloutSolveFn {
  return async (problem, options) => {
    if (fail?.(options)) throw new Error('engine down');
    const engine = new ScriptedEngine(scriptFor(options.seed));
    log.push({ options, engine });
    return engineSolver(engine)(problem, options);
  };
}
