import type { Dataset } from '../../eval/dataset.js';
import type { RunEvalOptions } from '../../eval/runner.js';
import { engineSolver } from '../../src/batch/solver.js';
import { gradeAnswer } from '../../src/math/grade.js';
import type { ScriptedEngine } from './scripted-engine.js';

/** runEval's options for a greedy run of both modes, k = 1, on a scripted engine through the real solve(). */
export function scriptedEvalOptions(
  out: string,
  engine: ScriptedEngine,
  datasets: Dataset[],
  extra: Partial<RunEvalOptions> = {},
): RunEvalOptions {
  return {
    datasets,
    k: 1,
    modes: ['parallel', 'sequential'],
    concurrency: 1,
    temperature: 0,
    topP: 1,
    seedBase: 0,
    out,
    solve: engineSolver(engine),
    grade: (pred, gold) => gradeAnswer(pred, gold),
    progress: false,
    ...extra,
  };
}
