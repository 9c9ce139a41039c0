/**
 * Step 5's judgement of one trajectory (both stages): the strict format check, the answer
 * graded against the gold one, and the token-level parallel statistics.
 */
import type { Tokenizer } from '../engine/types.js';
import { parseTrajectory } from '../format/parse.js';
import { validateTrajectory, type Violation } from '../format/validate.js';
import { extractAnswer } from '../math/extract.js';
import { gradeAnswer } from '../math/grade.js';
import { parallelStats, type ParallelStats } from '../orchestrator/metrics.js';

/** Step 5's judgement of one trajectory (strict format check, graded answer, threads per block, T/L statistics). */
export interface Assessment {
  formatValid: boolean;
  violations: Violation[];
  /** The extracted final answer, or null. */
  answer: string | null;
  correct: boolean;
  gradeReason: string;
  /** Threads of each parallel block. */
  threadsPerBlock: number[];
  /** T, L and η counted with the tokenizer (completion tokens only). */
  stats: ParallelStats;
}

/**
 * Judge one ThreadWeaver trajectory against the gold answer, counting T and L with `tokenizer`:
 * what both SFT stages filter on (see passesFilter).
 */
export function assessTrajectory(text: string, gold: string, tokenizer: Tokenizer): Assessment {
  const tree = parseTrajectory(text);
  const violations = validateTrajectory(tree);
  const answer = extractAnswer(text);
  const verdict = gradeAnswer(answer, gold);
  return {
    formatValid: violations.length === 0,
    violations,
    answer,
    correct: verdict.equal,
    gradeReason: verdict.reason,
    threadsPerBlock: tree.blocks.map((b) => b.threads.length),
    stats: parallelStats(text, tokenizer.encode(text), tokenizer, { tree }),
  };
}

/** The filter both stages apply: strict format and a correct answer. */
export const passesFilter = (a: Assessment): boolean => a.formatValid && a.correct;
