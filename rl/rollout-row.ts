/**
 * The rollout row: one trajectory with its calls, grade, reward and (once its group is complete)
 * its advantage. Rows extend the eval harness's result rows, so a rollout file is also a valid
 * eval results file. This module owns the row's types and its validation when read from disk.
 */
import { z } from 'zod';
import { resultRowSchema, type ResultRow } from '../eval/results.js';
import type { FinishReason } from '../src/engine/types.js';
import { DEFAULT_PROMPT_FORMAT, type PromptFormat, type PromptStyle } from '../src/orchestrator/prompt.js';
import { DEFAULT_PRESET } from '../src/solve/preset.js';
import type { CallRole, TrajectoryEnd } from '../src/orchestrator/trajectory.js';
import { RewardConfigSchema, type Reward, type RewardConfig } from './reward.js';
import { parseJsonLine, readJsonLines } from '../src/internal/jsonl.js';
import { ThreadweaverError } from '../src/errors.js';

/** How a rollout run's advantages are scaled, `mean` (P-GRPO) or `std` (GRPO). */
export type AdvantageMode = 'mean' | 'std';

/** One engine call of the trajectory, as stored. */
export interface RolloutCall {
  index: number;
  role: CallRole;
  /** Tokens of prompt + trajectory the call's context starts with. */
  prefixLength: number;
  /** Ids appended to that prefix for this call only (a thread's `\n<Thread>\n{n}:`). */
  suffixIds: number[];
  /** prefixLength + suffixIds.length. */
  contextLength: number;
  /** The full context, when the run was asked to keep it (else rebuild it with contextIdsOf). */
  contextIds?: number[];
  completionIds: number[];
  text: string;
  finishReason: FinishReason;
}

/** What a row's content depends on besides its seed and sampling; a resumed run must match it. */
export interface RolloutSettings {
  /** Trajectories per problem (the advantage group). */
  group: number;
  /** The response budget, or null for the engine's context length. */
  maxTokens: number | null;
  /** How the problem was put to the model (see buildPrompt). */
  promptStyle: PromptStyle;
  /** The rest of the prompt format (absent in older files: the defaults). */
  prompt: Omit<PromptFormat, 'style'>;
  /** The preset the run was made with (absent in older files: the default preset). */
  preset: string;
  reward: RewardConfig;
  advantage: AdvantageMode;
}

/**
 * One trajectory. From the eval row: `gold` is the reference answer, `answer` the extracted
 * prediction (null when none), `acceleration` the response's η = 1 − L/T.
 */
export interface RolloutRow extends ResultRow {
  problem: string;
  text: string;
  finishReason: TrajectoryEnd;
  /** True when the model ended the trajectory with EOS. */
  eos: boolean;
  /** The tokenizer's end-of-turn id, appended to EOS-terminated calls in RL rows (null: none). */
  eosId: number | null;
  /** The chat-templated prompt and its ids. */
  prompt: string;
  promptIds: number[];
  /** The joined completion ids (no EOS). */
  ids: number[];
  promptTokens: number;
  calls: RolloutCall[];
  /** The scalar reward, and its parts (computeReward). */
  reward: number;
  rewardParts: Omit<Reward, 'reward'>;
  settings: RolloutSettings;
  /** The group-relative advantage; only on rows of a complete group. */
  advantage?: number;
}

/** A stable id of one trajectory (the `trajectory` column of RL rows). */
export function rolloutUid(row: Pick<RolloutRow, 'dataset' | 'problemId' | 'mode' | 'sample'>): string {
  return `${row.dataset}/${row.problemId}/${row.mode}/${row.sample}`;
}

const count = z.number().int().nonnegative();
const ids = z.array(count);
const roleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sequential') }),
  z.object({ kind: z.literal('thread'), block: count, thread: z.string() }),
]);
const callSchema = z.object({
  index: count,
  role: roleSchema,
  prefixLength: count,
  suffixIds: ids,
  contextLength: count,
  contextIds: ids.optional(),
  completionIds: ids,
  text: z.string(),
  finishReason: z.enum(['stop', 'eos', 'length', 'abort']),
});

/**
 * The zod schema a rollout row is validated with when read from a file (settings missing in older
 * files get their defaults).
 */
export const RolloutRowSchema = resultRowSchema.extend({
  totalTokens: count,
  criticalPathTokens: count,
  problem: z.string(),
  text: z.string(),
  finishReason: z.enum(['done', 'thread-eos', 'budget', 'context', 'transitions', 'abort', 'error']),
  eos: z.boolean(),
  eosId: count.nullable(),
  prompt: z.string(),
  promptIds: ids,
  ids,
  promptTokens: count,
  calls: z.array(callSchema),
  reward: z.number(),
  rewardParts: z.object({
    correctness: z.number(),
    acceleration: z.number(),
    eta: z.number(),
    formatPenalty: z.number(),
  }),
  settings: z.object({
    group: z.number().int().positive(),
    maxTokens: z.number().int().positive().nullable(),
    promptStyle: z.enum(['trained', 'instructed']),
    prompt: z
      .object({
        suffix: z.string(),
        sequentialSystem: z.boolean(),
        chatTemplateKwargs: z.record(z.string(), z.unknown()),
      })
      .default({
        suffix: DEFAULT_PROMPT_FORMAT.suffix,
        sequentialSystem: DEFAULT_PROMPT_FORMAT.sequentialSystem,
        chatTemplateKwargs: {},
      }),
    preset: z.string().default(DEFAULT_PRESET),
    reward: RewardConfigSchema,
    advantage: z.enum(['mean', 'std']),
  }),
  advantage: z.number().optional(),
});

/** A rollout file that cannot be read; the message names the file and line. */
export class RolloutFileError extends ThreadweaverError {
  override name = 'RolloutFileError';
}

/** Parse and validate one JSONL line; `where` (`file:line`) prefixes any error. */
export function parseRolloutLine(line: string, where: string): RolloutRow {
  return parseJsonLine(line, where, RolloutRowSchema, { error: RolloutFileError }) as RolloutRow;
}

/** Stream a rollout file's rows (blank lines skipped), each with its line number. */
export function readRolloutLines(
  file: string,
  signal?: AbortSignal,
): AsyncGenerator<{ row: RolloutRow; line: number }> {
  return readJsonLines(file, parseRolloutLine, { error: RolloutFileError, signal });
}

/** Every row of a rollout file, validated. */
export async function readRollouts(file: string): Promise<RolloutRow[]> {
  const rows: RolloutRow[] = [];
  for await (const { row } of readRolloutLines(file)) rows.push(row);
  return rows;
}
