/**
 * The results file (`results.jsonl`): one row per finished sample, kept in an append-only JSONL
 * store (src/jsonl-store.ts), so a killed run loses at most the sample being written and a rerun
 * resumes.
 */
import { z } from 'zod';
import { openJsonlStore, type JsonlStore } from '../src/batch/jsonl-store.js';
import { parseJsonLine } from '../src/internal/jsonl.js';
import type { ExtractPolicy } from '../src/math/extract.js';
import type { PrefillLedger } from '../src/orchestrator/ledger.js';
import { ThreadweaverError } from '../src/errors.js';

/** How a sample is solved, with fork/join reasoning (`parallel`) or without it (`sequential`). */
export type Mode = 'parallel' | 'sequential';
/** Both modes, parallel first. */
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
  /** Prompt tokens and cached tokens of the sample's calls, by phase, and each join's (rows of runs that record them). */
  prefill?: RowPrefill;
  /** The key every call of the sample carried (sampleAffinityKey). */
  affinityKey?: string;
  /** Whether the trajectory passed the lenient format check (absent in rows written before it was recorded). */
  formatValidLenient?: boolean;
  /** The response budget of the budget sweep point this row belongs to (absent: not a sweep row). */
  budget?: number;
  /** The cap on each thread's tokens of the thread-budget sweep point this row belongs to. */
  threadBudget?: number;
  [extra: string]: unknown;
}

/** A sample's prefill ledger as its row keeps it: the totals by phase and the joins, not every call. */
export type RowPrefill = Omit<PrefillLedger, 'calls'>;

export function rowPrefill(ledger: PrefillLedger): RowPrefill {
  return { phases: ledger.phases, joins: ledger.joins };
}

export interface ResultKey {
  dataset: string;
  problemId: string;
  sample: number;
  mode: Mode;
  /** A sweep row's point: part of its key, so each budget is a sample of its own. */
  budget?: number | undefined;
  threadBudget?: number | undefined;
}

/**
 * A row's key: dataset, problem, sample and mode, and its sweep point when it has one. A row
 * without one keeps the key it always had, so run folders written before sweeps still resume.
 */
export function resultKey(k: ResultKey): string {
  const key: unknown[] = [k.dataset, k.problemId, k.sample, k.mode];
  if (k.budget !== undefined) key.push({ budget: k.budget });
  if (k.threadBudget !== undefined) key.push({ threadBudget: k.threadBudget });
  return JSON.stringify(key);
}

/** The extraction policies (EXTRACT_POLICIES of src/math), without loading the grader. */
export const extractPolicySchema = z.enum(['boxed', 'lenient'] satisfies ExtractPolicy[]);

const count = z.number().int().nonnegative();
const cached = count.nullable();
const tally = z.object({ calls: count, promptTokens: count, cachedPromptTokens: cached });
const rowPrefillSchema = z.object({
  phases: z.object({ sequential: tally, threadStarts: tally, afterJoin: tally }),
  joins: z.array(z.object({ block: count, promptTokens: count, cachedPromptTokens: cached })),
});
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
  prefill: rowPrefillSchema.optional(),
  affinityKey: z.string().optional(),
  formatValidLenient: z.boolean().optional(),
  budget: count.positive().optional(),
  threadBudget: count.positive().optional(),
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
  metrics: {
    parallelBlocks: number;
    threads: number;
    totalTokens: number;
    criticalPathTokens: number;
    acceleration: number;
    wallMs: number;
  };
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

/** The results file: rows keyed by (dataset, problem, sample, mode). */
export type ResultsStore = JsonlStore<ResultRow, ResultKey>;

/** A results file that cannot be used: a bad line (named `file:line`), or a stored row that does not fit the run. */
export class ResultsError extends ThreadweaverError {
  override name = 'ResultsError';
}

/** Parse one stored line of a results file; errors start with `where` (`file:line`). */
export function parseResultLine(line: string, where: string): ResultRow {
  return parseJsonLine(line, where, resultRowSchema, { error: ResultsError }) as ResultRow;
}

/**
 * Open (or create) a results file (see openJsonlStore): a torn last line is cut off, a bad
 * complete line is an error naming file:line, duplicate keys keep the first row.
 */
export function openResults(path: string): Promise<ResultsStore> {
  return openJsonlStore<ResultRow, ResultKey>(path, { parse: parseResultLine, key: resultKey, error: ResultsError });
}
