/**
 * Grading-case files: JSONL rows of `{pred, gold, equal}` (extra fields such as `source` are kept
 * out of the way), and the agreement report the `grade` command prints.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { gradeAnswer, type GradeOptions } from './grade.js';
import { parseJsonLines } from '../internal/jsonl.js';

const caseRow = z.object({
  pred: z.string().nullable(),
  gold: z.string(),
  equal: z.boolean(),
});

/** One row of a grading-case file, a prediction and a gold answer with the verdict expected of the grader. */
export interface GradingCase extends z.infer<typeof caseRow> {
  /** 1-based line in the file it came from. */
  line: number;
}

/** A grading case the grader judged against its expected verdict, with the grader's reason. */
export interface Disagreement {
  line: number;
  pred: string | null;
  gold: string;
  expected: boolean;
  got: boolean;
  reason: string;
}

/** How far the grader agrees with a set of grading cases, and every case where it does not. */
export interface CaseReport {
  total: number;
  agree: number;
  disagreements: Disagreement[];
}

/** Parse JSONL text; a bad row throws an error naming `file` and the line. Blank lines are skipped. */
export function parseGradingCases(text: string, file: string): GradingCase[] {
  return parseJsonLines(text, file, caseRow).map(({ row, line }) => ({ ...row, line }));
}

/** Read a grading-case JSONL file (see parseGradingCases). */
export async function readGradingCases(file: string): Promise<GradingCase[]> {
  return parseGradingCases(await readFile(file, 'utf8'), file);
}

/** Grade every case and report where the grader disagrees with the expected verdict. */
export function gradeCases(cases: readonly GradingCase[], opts?: GradeOptions): CaseReport {
  const disagreements: Disagreement[] = [];
  for (const c of cases) {
    const { equal, reason } = gradeAnswer(c.pred, c.gold, opts);
    if (equal !== c.equal)
      disagreements.push({ line: c.line, pred: c.pred, gold: c.gold, expected: c.equal, got: equal, reason });
  }
  return { total: cases.length, agree: cases.length - disagreements.length, disagreements };
}
