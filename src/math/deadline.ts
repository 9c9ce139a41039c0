/**
 * A per-item time budget. Compute-engine calls are synchronous and cannot be interrupted, so the
 * grader checks the budget between steps (parse, compare, each sample point); inputs that could
 * make a single step slow are refused up front by the guards in symbolic.ts.
 */
import { ThreadweaverError } from '../errors.js';

/** Thrown when an item's time budget is spent; the grader turns it into "not equal". */
export class GradeTimeout extends ThreadweaverError {
  override name = 'GradeTimeout';
  constructor(readonly limitMs: number) {
    super(`grading exceeded its ${limitMs} ms time limit`);
  }
}

export class Deadline {
  private readonly at: number;
  constructor(readonly limitMs: number) {
    this.at = performance.now() + limitMs;
  }

  /** Milliseconds left (never negative). */
  remainingMs(): number {
    return Math.max(0, this.at - performance.now());
  }

  /** Throw GradeTimeout once the budget is spent. */
  check(): void {
    if (performance.now() >= this.at) throw new GradeTimeout(this.limitMs);
  }
}
