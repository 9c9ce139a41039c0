/**
 * The SFT dataset both stages write: `sft.jsonl` in TRL's conversational format (a user turn
 * with the problem, an assistant turn with the whole trajectory) and, when the tokenizer has
 * the tags as single tokens, `sft-trie.jsonl` with the trie layout of each row.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Tokenizer } from '../engine/types.js';
import { buildPrompt, type PromptFormat } from '../orchestrator/prompt.js';
import { sftLayout, threadTagIds } from '../trie/sft.js';
import { jsonlText, writeFileAtomic } from '../internal/files.js';
import { parseJsonLines } from '../internal/jsonl.js';

/** The SFT dataset's file name in a run folder (TRL's conversational format). */
export const SFT_FILE = 'sft.jsonl';
/** The trie-layout file's name in a run folder, written beside SFT_FILE when the tokenizer allows. */
export const SFT_TRIE_FILE = 'sft-trie.jsonl';

/** One kept trajectory with its problem, as the SFT dataset is written from it. */
export interface SftExample {
  id: string;
  problem: string;
  /** The assistant's text: `<think>...</think>` and the answer (no end-of-turn token). */
  trajectory: string;
}

/** One row of `sft.jsonl`: the user turn with the problem, the assistant turn with the trajectory. */
export interface SftRow {
  id: string;
  messages: [{ role: 'user'; content: string }, { role: 'assistant'; content: string }];
}

/** One row of `sft-trie.jsonl`: an SFT row's trie layout (see TrieLayout), with the row's id. */
export interface TrieRow {
  id: string;
  ids: number[];
  parent: number[];
  position: number[];
  branch: number[];
  loss: number[];
}

/** The files writeSftDataset wrote; the trie file is null, with the reason, when the rows could not be laid out. */
export interface SftFiles {
  sft: string;
  /** Null when the tokenizer cannot lay the rows out (tags not single tokens); see trieError. */
  trie: string | null;
  trieError?: string;
}

export interface SftWriteOptions {
  /** Appended to the problem after a space in the user turn (e.g. "Put the final answer in \\boxed{}."). */
  instruction?: string | undefined;
  /**
   * The prompt format the rows train (a preset's): its suffix ends the user turn (unless
   * `instruction` is given), its template variables shape the trie rows' prompt.
   */
  prompt?: Partial<PromptFormat> | undefined;
}

/** The write options of a stage's options. */
export function writeOptions(o: SftWriteOptions): SftWriteOptions {
  return { instruction: o.instruction, prompt: o.prompt };
}

export function userContent(problem: string, options: SftWriteOptions = {}): string {
  return options.instruction ? `${problem} ${options.instruction}` : problem + (options.prompt?.suffix ?? '');
}

/** The `sft.jsonl` row of an example, its user turn ending with the instruction or else the prompt format's suffix. */
export function sftRow(example: SftExample, options: SftWriteOptions = {}): SftRow {
  return {
    id: example.id,
    messages: [
      { role: 'user', content: userContent(example.problem, options) },
      { role: 'assistant', content: example.trajectory },
    ],
  };
}

/** The trie layout of one row: the chat-templated prompt, and the trajectory ended by the end-of-turn token. */
export function trieRow(row: SftRow, tokenizer: Tokenizer, format: Partial<PromptFormat> = {}): TrieRow {
  // The user turn already ends with the suffix.
  const prompt = buildPrompt(tokenizer, row.messages[0].content, 'parallel', {
    ...format,
    style: 'trained',
    suffix: '',
  });
  const eos = tokenizer.eosIds[0];
  const completion = row.messages[1].content + (eos === undefined ? '' : tokenizer.decode([eos]));
  const { ids, parent, position, branch, loss } = sftLayout({ prompt, completion }, tokenizer);
  return { id: row.id, ids, parent, position, branch, loss };
}

/** Write `sft.jsonl` (and `sft-trie.jsonl` when possible) into `dir`, each file atomically. */
export async function writeSftDataset(
  dir: string,
  examples: readonly SftExample[],
  tokenizer: Tokenizer,
  options: SftWriteOptions = {},
): Promise<SftFiles> {
  const rows = examples.map((e) => sftRow(e, options));
  const sft = path.join(dir, SFT_FILE);
  await writeFileAtomic(sft, jsonlText(rows));
  const trie = path.join(dir, SFT_TRIE_FILE);
  let layouts: TrieRow[];
  try {
    threadTagIds(tokenizer);
    layouts = rows.map((r) => trieRow(r, tokenizer, options.prompt));
  } catch (err) {
    await rm(trie, { force: true }); // a layout file from an earlier run would no longer match
    return { sft, trie: null, trieError: (err as Error).message };
  }
  await writeFileAtomic(trie, jsonlText(layouts));
  return { sft, trie };
}

const rowSchema = z.object({
  id: z.string(),
  messages: z.tuple([
    z.object({ role: z.literal('user'), content: z.string() }),
    z.object({ role: z.literal('assistant'), content: z.string() }),
  ]),
});

/** Read `sft.jsonl` rows back; a bad line is an error naming `file:line` and the field. */
export function parseSftRows(text: string, file: string): SftRow[] {
  return parseJsonLines(text, file, rowSchema).map((r) => r.row);
}

/** Read an `sft.jsonl` file back (see parseSftRows). */
export async function readSftDataset(file: string): Promise<SftRow[]> {
  return parseSftRows(await readFile(file, 'utf8'), file);
}
