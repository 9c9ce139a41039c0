/**
 * Step 4 (LLM): one outline per thread, written from the reasoning before the block, so the
 * model learns to plan its threads from what it knows when it forks. A block whose outlines
 * do not come out right within the attempts goes back to being plain text.
 */
import { z } from 'zod';
import type { ChatMessage } from '../engine/types.js';
import { loadPrompt } from '../orchestrator/prompt.js';
import { askChecked, describeIssues, type Exchange } from './ask.js';
import { hasTag, isBlock, linesBefore, revertBlock, type Draft, type DraftBlock } from './draft.js';
import { parseJsonAnswer } from '../internal/json-answer.js';
import type { ChatModel } from './llm.js';
import { AnswerFormatError } from '../internal/json-answer.js';

export interface BlockOutlines {
  /** Index of the block among the draft's blocks (0-based). */
  block: number;
  ok: boolean;
  outlines?: string[];
  /** Why the block was turned back into text. */
  error?: string;
  exchanges: Exchange[];
}

/** Lines of reasoning shown before the block. */
export const OUTLINE_CONTEXT_LINES = 50;

const outlinesSchema = z.object({ outlines: z.array(z.string()) });
// A number the LLM put in front although the format adds its own ("1:", "Thread 2:", "3. ").
const LEADING_NUMBER = /^(?:thread\s*)?\d+\s*(?::|[.)](?=\s))\s*/i;

/** Read and check a step-4 answer for a block of `count` threads; throws saying what is wrong. */
export function readOutlines(content: string, count: number): string[] {
  const parsed = outlinesSchema.safeParse(parseJsonAnswer(content));
  if (!parsed.success)
    throw new AnswerFormatError(`the JSON does not have the asked shape: ${describeIssues(parsed.error.issues)}`);
  const outlines = parsed.data.outlines.map((o) => o.replace(/\s+/g, ' ').trim().replace(LEADING_NUMBER, ''));
  if (outlines.length !== count)
    throw new AnswerFormatError(`${outlines.length} outline(s) for ${count} threads; write exactly ${count}`);
  outlines.forEach((o, i) => {
    if (o === '') throw new AnswerFormatError(`outline ${i + 1} is empty`);
    if (hasTag(o)) throw new AnswerFormatError(`outline ${i + 1} contains a tag; use plain text`);
  });
  return outlines;
}

export function outlineMessages(problem: string, draft: Draft, pieceIndex: number): ChatMessage[] {
  const block = draft.pieces[pieceIndex] as DraftBlock;
  const context = linesBefore(draft, pieceIndex).slice(-OUTLINE_CONTEXT_LINES).join('\n');
  const threads = block.threads.map((t, i) => `Thread ${i + 1}:\n${t.text}`).join('\n\n');
  const content = loadPrompt('sft-outlines', {
    problem,
    context: context || '(nothing yet: the threads start the reasoning)',
    threads,
    count: String(block.threads.length),
  });
  return [{ role: 'user', content }];
}

/** Write the outlines of every block (blocks are independent, so they are asked at once). */
export async function writeOutlines(
  model: ChatModel,
  problem: string,
  draft: Draft,
  attempts: number,
  signal?: AbortSignal,
): Promise<{ draft: Draft; results: BlockOutlines[] }> {
  const blockPieces = draft.pieces.flatMap((p, i) => (isBlock(p) ? [i] : []));
  const results = await Promise.all(
    blockPieces.map(async (pieceIndex, block): Promise<BlockOutlines> => {
      const count = (draft.pieces[pieceIndex] as DraftBlock).threads.length;
      const r = await askChecked(
        model,
        outlineMessages(problem, draft, pieceIndex),
        (c) => readOutlines(c, count),
        attempts,
        signal,
      );
      return r.ok
        ? { block, ok: true, outlines: r.value, exchanges: r.exchanges }
        : { block, ok: false, error: r.error, exchanges: r.exchanges };
    }),
  );
  let out: Draft = { pieces: [...draft.pieces] };
  results.forEach((r, block) => {
    const pieceIndex = blockPieces[block]!;
    if (r.ok) out.pieces[pieceIndex] = { ...(out.pieces[pieceIndex] as DraftBlock), outlines: r.outlines! };
    else out = revertBlock(out, pieceIndex);
  });
  return { draft: out, results };
}
