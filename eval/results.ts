/**
 * The append-only results store (`results.jsonl`): one line per finished sample, written at
 * once and synced, so a killed run loses at most the sample being written and a rerun resumes.
 */
import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import type { ExtractPolicy } from '../src/math/extract.js';
import { ThreadweaverError } from '../src/errors.js';

export type Mode = 'parallel' | 'sequential';
export const MODES: readonly Mode[] = ['parallel', 'sequential'];

/** One graded sample. */
export interface ResultRow {
  dataset: string;
  problemId: string;
  /** Sample index within the problem, 0..k-1. */
  sample: number;
  mode: Mode;
  seed: number;
  temperature: number;
  topP: number;
  gold: string;
  /** The extracted answer, or null when none was found. */
  answer: string | null;
  /** The extraction policy that found `answer` (rows written before it was recorded: 'boxed'). */
  extract?: ExtractPolicy;
  correct: boolean;
  /** The grader's reason for its verdict. */
  gradeReason: string;
  formatValid: boolean;
  parallelBlocks: number;
  threads: number;
  totalTokens: number;
  criticalPathTokens: number;
  acceleration: number;
  wallMs: number;
  /** The preset the sample was made with (absent: the default preset). */
  preset?: string;
  /** The problem's family, when the dataset has one (arith). */
  family?: string;
  /** The full trajectory text, unless the run was told not to keep it. */
  text?: string;
  [extra: string]: unknown;
}

export interface ResultKey {
  dataset: string;
  problemId: string;
  sample: number;
  mode: Mode;
}

export function resultKey(k: ResultKey): string {
  return JSON.stringify([k.dataset, k.problemId, k.sample, k.mode]);
}

/**
 * The extraction policies (EXTRACT_POLICIES of src/math), listed here so that this module imports
 * nothing at run time but zod: a test runs it on its own in a child process that it kills.
 */
export const extractPolicySchema = z.enum(['boxed', 'lenient'] satisfies ExtractPolicy[]);

const count = z.number().int().nonnegative();
/** The stored form of a ResultRow (extra fields kept: rollouts extend it). */
export const resultRowSchema = z.looseObject({
  dataset: z.string(),
  problemId: z.string(),
  sample: count,
  mode: z.enum(['parallel', 'sequential']),
  seed: z.number(),
  temperature: z.number(),
  topP: z.number(),
  gold: z.string(),
  answer: z.string().nullable(),
  extract: extractPolicySchema.optional(),
  correct: z.boolean(),
  gradeReason: z.string(),
  formatValid: z.boolean(),
  parallelBlocks: count,
  threads: count,
  totalTokens: z.number().nonnegative(),
  criticalPathTokens: z.number().nonnegative(),
  acceleration: z.number(),
  wallMs: z.number().nonnegative(),
  preset: z.string().optional(),
  family: z.string().optional(),
  text: z.string().optional(),
});

/** What a solved and graded sample contributes to its row. */
export interface GradedSample {
  dataset: string;
  problem: { id: string; answer: string; family?: unknown };
  sample: number;
  mode: Mode;
  seed: number;
  temperature: number;
  topP: number;
  answer: string | null;
  /** How `answer` was extracted; recorded in the row when given. */
  extract?: ExtractPolicy;
  formatValid: boolean;
  metrics: { parallelBlocks: number; threads: number; totalTokens: number; criticalPathTokens: number; acceleration: number; wallMs: number };
  verdict: { equal: boolean; reason: string };
}

/** The row of one graded sample (without its text), shared by eval results and rollouts. */
export function resultRow(s: GradedSample): ResultRow {
  const m = s.metrics;
  return {
    dataset: s.dataset,
    problemId: s.problem.id,
    sample: s.sample,
    mode: s.mode,
    seed: s.seed,
    temperature: s.temperature,
    topP: s.topP,
    gold: s.problem.answer,
    answer: s.answer,
    ...(s.extract ? { extract: s.extract } : {}),
    correct: s.verdict.equal,
    gradeReason: s.verdict.reason,
    formatValid: s.formatValid,
    parallelBlocks: m.parallelBlocks,
    threads: m.threads,
    totalTokens: m.totalTokens,
    criticalPathTokens: m.criticalPathTokens,
    acceleration: m.acceleration,
    wallMs: m.wallMs,
    ...(typeof s.problem.family === 'string' ? { family: s.problem.family } : {}),
  };
}

export interface ResultsStore {
  readonly path: string;
  /** How many bytes of a torn last line were dropped when the file was opened (0 normally). */
  readonly repairedBytes: number;
  has(key: ResultKey): boolean;
  /** Append one row as one synced write. Throws if its key is already stored. */
  append(row: ResultRow): Promise<void>;
  /** All stored rows, in file order. */
  rows(): readonly ResultRow[];
  close(): Promise<void>;
}

export class ResultsError extends ThreadweaverError {
  override name = 'ResultsError';
}

/**
 * Open (or create) a results file. Complete lines are validated; a torn last line (no newline:
 * the process died mid-write) is cut off the file. A bad complete line is an error naming file:line.
 * Duplicate keys in the file keep the first row.
 */
export async function openResults(path: string): Promise<ResultsStore> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const end = text.lastIndexOf('\n') + 1;
  const repairedBytes = Buffer.byteLength(text.slice(end));
  if (repairedBytes > 0) await truncate(path, Buffer.byteLength(text.slice(0, end)));

  const rows: ResultRow[] = [];
  const keys = new Set<string>();
  text
    .slice(0, end)
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        throw new ResultsError(`${path}:${i + 1}: not valid JSON`);
      }
      const parsed = resultRowSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ResultsError(`${path}:${i + 1}: field "${issue.path.join('.')}": ${issue.message}`);
      }
      const row = parsed.data as ResultRow;
      const key = resultKey(row);
      if (keys.has(key)) return;
      keys.add(key);
      rows.push(row);
    });

  let handle: FileHandle | undefined;
  // Writes are chained so concurrent appends land as whole lines in call order.
  let tail: Promise<void> = Promise.resolve();

  const write = async (line: string): Promise<void> => {
    handle ??= await open(path, 'a');
    await handle.appendFile(line); // writes every byte (a bare write may be partial)
    await handle.datasync();
  };

  return {
    path,
    repairedBytes,
    has: (key) => keys.has(resultKey(key)),
    append(row) {
      const key = resultKey(row);
      if (keys.has(key)) return Promise.reject(new ResultsError(`${path}: duplicate result ${key}`));
      keys.add(key); // reserved now, so a concurrent append of the same key fails
      const line = JSON.stringify(row) + '\n';
      const done = tail.then(() => write(line)).then(
        () => void rows.push(row),
        (err: unknown) => {
          keys.delete(key);
          throw err;
        },
      );
      tail = done.catch(() => undefined);
      return done;
    },
    rows: () => rows,
    async close() {
      await tail;
      await handle?.close();
      handle = undefined;
    },
  };
}
