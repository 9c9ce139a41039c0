/** Types shared by the grader's comparison tiers. */
import type { Deadline } from './deadline.js';

/** The outcome of one comparison: the verdict and the rule that decided it. */
export interface Verdict {
  equal: boolean;
  reason: string;
}

/** Settings and budget for comparing one item. */
export interface CompareContext {
  deadline: Deadline;
  /** Relative tolerance used when either side is written as a decimal. */
  relTol: number;
  /** Longest LaTeX handed to compute-engine. */
  maxLength: number;
}

/** More free variables than this and sampling is not attempted. */
export const MAX_VARIABLES = 8;
