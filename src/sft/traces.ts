/**
 * Stage-1 input: sequential reasoning traces, one JSONL row each, checked row by row.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { TAG } from '../format/tags.js';
import { parseJsonLines } from '../internal/jsonl.js';
import { ThreadweaverError } from '../errors.js';

/** One sequential trace as read from the input file. */
export interface Trace {
  id: string;
  problem: string;
  /** The gold answer. */
  answer: string;
  /** The chain of thought: the text between `<think>` and `</think>`. */
  reasoning: string;
  /** The answer text written after the reasoning (it holds the `\boxed{}`). */
  response: string;
}

/** An input file that cannot be used; the message names the file and line. */
export class TraceError extends ThreadweaverError {
  override name = 'TraceError';
}

const text = z.string().refine((s) => s.trim().length > 0, 'must be a non-empty string');
const idOrText = z.union([z.string(), z.number()]).transform(String);
const rowSchema = z.looseObject({
  id: idOrText.pipe(z.string().min(1, 'must not be empty')),
  problem: text,
  answer: idOrText,
  reasoning: text,
  response: z.string().optional(),
});

/**
 * Split a row's reasoning into the chain of thought and the response. A `</think>` inside the
 * reasoning ends the chain (what follows is the response); otherwise the row's `response` is used,
 * else one is written from the gold answer.
 */
export function splitReasoning(
  reasoning: string,
  answer: string,
  response?: string,
): { reasoning: string; response: string } {
  let chain = reasoning;
  let tail = response;
  const close = chain.indexOf(TAG.thinkClose);
  if (close >= 0) {
    tail = chain.slice(close + TAG.thinkClose.length);
    chain = chain.slice(0, close);
  }
  const open = chain.indexOf(TAG.thinkOpen);
  if (open >= 0) chain = chain.slice(open + TAG.thinkOpen.length);
  chain = chain.replace(/^\s*\n/, '').replace(/\s+$/, '');
  tail = tail?.trim() || `The answer is \\boxed{${answer}}.`;
  return { reasoning: chain, response: tail };
}

/** Parse JSONL traces; `file` is only used in error messages. */
export function parseTraces(input: string, file: string): Trace[] {
  const traces: Trace[] = [];
  const seen = new Map<string, number>();
  for (const { row, line } of parseJsonLines(input, file, rowSchema, { error: TraceError })) {
    const where = `${file}:${line}`;
    const { id, problem, answer } = row;
    const first = seen.get(id);
    if (first !== undefined) throw new TraceError(`${where}: duplicate id "${id}" (first on line ${first})`);
    seen.set(id, line);
    const split = splitReasoning(row.reasoning, answer, row.response);
    if (!split.reasoning.trim()) throw new TraceError(`${where}: field "reasoning": no text before </think>`);
    traces.push({ id, problem, answer, ...split });
  }
  if (traces.length === 0) throw new TraceError(`${file}: no traces (the file is empty)`);
  return traces;
}

/** Read and parse a traces file (see parseTraces); a missing or unreadable file is a TraceError. */
export async function readTraces(file: string): Promise<Trace[]> {
  let input: string;
  try {
    input = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TraceError(code === 'ENOENT' ? `${file}: no such file` : `${file}: ${(err as Error).message}`);
  }
  return parseTraces(input, file);
}
