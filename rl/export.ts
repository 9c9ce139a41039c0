/**
 * Training exports of rollout rows (JSONL, one object per line):
 * - `sft`: chat messages (TRL's conversational format), one row per trajectory;
 * - `trie`: the trie-packed SFT layout of the trajectory (src/trie's sftLayout), one row per trajectory;
 * - `rl`: one row per engine call, with the trajectory's advantage broadcast to each (verl-style).
 * See docs/training-data.md for how trainers consume them.
 */
import { jsonlText, writeAtomically } from '../src/internal/files.js';
import type { ChatMessage, FinishReason, Tokenizer } from '../src/engine/types.js';
import { promptMessages } from '../src/orchestrator/prompt.js';
import { sftLayout, type TrieLayout } from '../src/trie/index.js';
import { expandCalls } from './calls.js';
import { readRolloutLines, rolloutUid, RolloutFileError, type RolloutRow } from './rollout-row.js';

export const EXPORT_FORMATS = ['sft', 'trie', 'rl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface SftExportRow {
  messages: ChatMessage[];
}

export type TrieExportRow = TrieLayout;

export interface RlExportRow {
  /** The call's full context: prompt, trajectory so far, and a thread's `\n<Thread>\n{n}:`. */
  prompt_ids: number[];
  /** The call's generated tokens, with the EOS id when the call ended on EOS. */
  response_ids: number[];
  /** The trajectory's advantage (the same on every call of a trajectory). */
  advantage: number;
  /** The trajectory's reward. */
  reward: number;
  problem_id: string;
  /** The trajectory's uid (dataset/problem/mode/sample): rows of one trajectory share it. */
  trajectory: string;
  role: 'sequential' | 'thread';
  /** The block and thread number of a thread call; null for sequential calls. */
  block: number | null;
  thread: string | null;
  /** The call's index within its trajectory. */
  call: number;
  finish_reason: FinishReason;
  correct: boolean;
}

/** The tokenizer parts the trie export needs. */
export type ExportTokenizer = Pick<Tokenizer, 'encode' | 'decode'>;

/** The trajectory as a chat: the prompt's messages (any system message included) and the answer. */
export function sftExportRow(row: RolloutRow): SftExportRow {
  return {
    messages: [
      ...promptMessages(row.problem, row.mode, { ...row.settings.prompt, style: row.settings.promptStyle }),
      { role: 'assistant', content: row.text },
    ],
  };
}

/** The completion as the trie layout wants it: the text, closed by the EOS text when the model ended with EOS. */
export function sftCompletion(row: RolloutRow, tokenizer: Pick<Tokenizer, 'decode'>): string {
  return row.eos && row.eosId !== null ? row.text + tokenizer.decode([row.eosId]) : row.text;
}

/** The trie-packed SFT layout of the trajectory. Throws when `tokenizer` is not the rollout's. */
export function trieExportRow(row: RolloutRow, tokenizer: ExportTokenizer): TrieExportRow {
  const promptIds = tokenizer.encode(row.prompt);
  if (promptIds.length !== row.promptIds.length || promptIds.some((id, i) => id !== row.promptIds[i])) {
    throw new RolloutFileError(
      'this tokenizer encodes the prompt differently from the rollout (pass the rollout model as --model)',
    );
  }
  return sftLayout({ prompt: row.prompt, completion: sftCompletion(row, tokenizer) }, tokenizer);
}

/** One RL row per call of the trajectory, each carrying the trajectory's advantage. */
export function rlExportRows(row: RolloutRow): RlExportRow[] {
  const advantage = row.advantage;
  if (advantage === undefined) {
    throw new RolloutFileError(
      'the row has no advantage (its group was not complete): export the final rollouts file, not the pending one',
    );
  }
  const trajectory = rolloutUid(row);
  return expandCalls(row, { eosId: row.eosId }).map((call, i) => ({
    prompt_ids: call.contextIds,
    response_ids: call.completionIds,
    advantage,
    reward: row.reward,
    problem_id: row.problemId,
    trajectory,
    role: call.role.kind,
    block: call.role.kind === 'thread' ? call.role.block : null,
    thread: call.role.kind === 'thread' ? call.role.thread : null,
    call: row.calls[i]!.index,
    finish_reason: call.finishReason,
    correct: row.correct,
  }));
}

export interface ExportOptions {
  /** A final rollouts file (runRollouts' `out`). */
  input: string;
  out: string;
  format: ExportFormat;
  /** Keep only trajectories graded correct. */
  onlyCorrect?: boolean | undefined;
  /** Needed by the trie format: the rollout model's tokenizer. */
  tokenizer?: ExportTokenizer | undefined;
  /** Stops the export (its reason is thrown); nothing is written. */
  signal?: AbortSignal | undefined;
}

export interface ExportResult {
  /** Trajectories read / exported. */
  read: number;
  exported: number;
  /** Rows written. */
  rows: number;
}

/** The rows one trajectory exports to. */
export function exportRows(row: RolloutRow, format: ExportFormat, tokenizer?: ExportTokenizer): object[] {
  switch (format) {
    case 'sft':
      return [sftExportRow(row)];
    case 'trie':
      if (!tokenizer) throw new RolloutFileError('the trie export needs a tokenizer');
      return [trieExportRow(row, tokenizer)];
    case 'rl':
      return rlExportRows(row);
  }
}

/**
 * Export a rollouts file. Rows are validated; a bad one stops the export with `FILE:LINE: reason`
 * and leaves no output (it is written beside `out` and renamed at the end).
 */
export async function exportRollouts(o: ExportOptions): Promise<ExportResult> {
  if (o.format === 'trie' && !o.tokenizer) throw new RolloutFileError('the trie export needs a tokenizer');
  return writeAtomically(o.out, async (out) => {
    const result: ExportResult = { read: 0, exported: 0, rows: 0 };
    for await (const { row, line } of readRolloutLines(o.input, o.signal)) {
      result.read++;
      if (o.onlyCorrect && !row.correct) continue;
      let rows: object[];
      try {
        rows = exportRows(row, o.format, o.tokenizer);
      } catch (err) {
        throw new RolloutFileError(`${o.input}:${line}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (rows.length) await out.write(jsonlText(rows));
      result.exported++;
      result.rows += rows.length;
    }
    return result;
  });
}
