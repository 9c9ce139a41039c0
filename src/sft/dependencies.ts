/**
 * Step 3 (LLM): remove what a thread takes from its earlier siblings. At inference a thread sees
 * the context before its block but none of its siblings, so for every thread after the first the
 * LLM proposes minimal find/replace edits that restate or drop such references. Guards: an
 * unreadable answer leaves the thread unchanged; edits that leave under half the text are asked
 * for again once (and dropped if the second try also cuts that much); a thread emptied or given
 * trajectory tags is reverted.
 */
import { z } from 'zod';
import type { ChatMessage } from '../engine/types.js';
import { loadPrompt } from '../orchestrator/prompt.js';
import { describeIssues, type Exchange } from './ask.js';
import { hasTag, isBlock, linesBefore, nonEmptyLines, type Draft, type DraftBlock } from './draft.js';
import { parseJsonAnswer } from '../internal/json-answer.js';
import type { ChatModel } from './llm.js';
import { AnswerFormatError } from '../internal/json-answer.js';

export interface Edit {
  find: string;
  replace: string;
}

/**
 * What happened to one thread: `edited` (edits applied), `no-edits` (none needed or none matched),
 * or unchanged by a guard: `unparseable`, `emptied`, `tags`, `too-short`.
 */
export type RewriteAction = 'edited' | 'no-edits' | 'unparseable' | 'emptied' | 'tags' | 'too-short';

export interface ThreadRewrite {
  /** Index of the block among the draft's blocks (0-based). */
  block: number;
  /** Thread number in its block (2..k). */
  thread: number;
  action: RewriteAction;
  /** True when the first edits cut too much and the LLM was asked again. */
  retried: boolean;
  edits: Edit[];
  /** Edits whose `find` text is not in the thread (ignored). */
  unmatched: Edit[];
  before: string;
  after: string;
  exchanges: Exchange[];
}

/** Context lines shown around the thread under review. */
export const CONTEXT_LINES = 5;
/** A rewrite must keep at least this share of the thread's length. */
export const MIN_KEPT_SHARE = 0.5;

const editsSchema = z.object({ edits: z.array(z.object({ find: z.string(), replace: z.string() })) });

export function readEdits(content: string): Edit[] {
  const parsed = editsSchema.safeParse(parseJsonAnswer(content));
  if (!parsed.success)
    throw new AnswerFormatError(`the JSON does not have the asked shape: ${describeIssues(parsed.error.issues)}`);
  return parsed.data.edits;
}

/** Apply edits in order, each replacing every occurrence of its `find` text. */
export function applyEdits(text: string, edits: readonly Edit[]): { text: string; unmatched: Edit[] } {
  const unmatched: Edit[] = [];
  let out = text;
  for (const e of edits) {
    if (e.find === '' || !out.includes(e.find)) unmatched.push(e);
    else out = out.split(e.find).join(e.replace);
  }
  return { text: out.trim(), unmatched };
}

/** First and last lines of a text, with a marker between when lines were left out. */
function excerpt(text: string, n: number): string {
  const lines = nonEmptyLines(text);
  if (lines.length <= 2 * n) return lines.join('\n');
  return [...lines.slice(0, n), `[... ${lines.length - 2 * n} lines left out ...]`, ...lines.slice(-n)].join('\n');
}

/** The request that asks about thread `t` (0-based, ≥ 1) of `block`. */
export function dependencyMessages(problem: string, draft: Draft, pieceIndex: number, t: number): ChatMessage[] {
  const block = draft.pieces[pieceIndex] as DraftBlock;
  const context = linesBefore(draft, pieceIndex).slice(-CONTEXT_LINES).join('\n');
  const siblings = block.threads
    .slice(0, t)
    .map((s, i) => `Part ${i + 1}:\n${excerpt(s.text, CONTEXT_LINES)}`)
    .join('\n\n');
  const content = loadPrompt('sft-dependencies', {
    problem,
    context: context || '(nothing: the parts start the reasoning)',
    siblings,
    thread: block.threads[t]!.text,
  });
  return [{ role: 'user', content }];
}

/** Check edits against the guards; `null` when they pass. */
function guard(before: string, after: string): 'emptied' | 'tags' | 'too-short' | null {
  if (after === '') return 'emptied';
  if (hasTag(after) && !hasTag(before)) return 'tags';
  if (after.length < MIN_KEPT_SHARE * before.length) return 'too-short';
  return null;
}

async function rewriteThread(
  model: ChatModel,
  problem: string,
  draft: Draft,
  pieceIndex: number,
  block: number,
  t: number,
  signal?: AbortSignal,
): Promise<ThreadRewrite> {
  const before = (draft.pieces[pieceIndex] as DraftBlock).threads[t]!.text;
  const messages = dependencyMessages(problem, draft, pieceIndex, t);
  const result: ThreadRewrite = {
    block,
    thread: t + 1,
    action: 'no-edits',
    retried: false,
    edits: [],
    unmatched: [],
    before,
    after: before,
    exchanges: [],
  };
  for (let attempt = 1; attempt <= 2; attempt++) {
    const answer = await model.chat(messages, signal);
    const exchange: Exchange = { attempt, key: answer.key, cached: answer.cached, content: answer.content };
    result.exchanges.push(exchange);
    let edits: Edit[];
    try {
      edits = readEdits(answer.content);
    } catch (err) {
      exchange.error = (err as Error).message;
      result.action = 'unparseable';
      return result;
    }
    const applied = applyEdits(before, edits);
    const verdict = guard(before, applied.text);
    result.edits = edits;
    result.unmatched = applied.unmatched;
    if (verdict === null) {
      result.after = applied.text;
      result.action = applied.text === before ? 'no-edits' : 'edited';
      return result;
    }
    exchange.error = verdict;
    result.action = verdict;
    if (verdict !== 'too-short' || attempt === 2) return result;
    result.retried = true;
    messages.push(
      { role: 'assistant', content: answer.content },
      {
        role: 'user',
        content: loadPrompt('sft-dependencies-short', {
          kept: String(applied.text.length),
          length: String(before.length),
        }),
      },
    );
  }
  return result;
}

/**
 * Rewrite every thread after the first of every block. Threads are judged against their
 * siblings' original text, so all of them are asked at once.
 */
export async function removeDependencies(
  model: ChatModel,
  problem: string,
  draft: Draft,
  signal?: AbortSignal,
): Promise<{ draft: Draft; rewrites: ThreadRewrite[] }> {
  const jobs: Promise<ThreadRewrite>[] = [];
  let block = 0;
  draft.pieces.forEach((p, pieceIndex) => {
    if (!isBlock(p)) return;
    for (let t = 1; t < p.threads.length; t++)
      jobs.push(rewriteThread(model, problem, draft, pieceIndex, block, t, signal));
    block++;
  });
  const rewrites = await Promise.all(jobs);
  let b = 0;
  const pieces = draft.pieces.map((p) => {
    if (!isBlock(p)) return p;
    const mine = rewrites.filter((r) => r.block === b);
    b++;
    return {
      ...p,
      threads: p.threads.map((t, i) => ({ ...t, text: mine.find((r) => r.thread === i + 1)?.after ?? t.text })),
    };
  });
  return { draft: { pieces }, rewrites };
}
