/**
 * A prompt's schema for prompt-level forks, as the ParallelPrompt benchmark (arXiv 2506.18728)
 * writes its rows: a task `template` with `{data}` where each input goes, shared `context`, and
 * the independent inputs (`data`) or a count (`n`: the same request answered n times).
 */
import { z } from 'zod';

/**
 * A prompt split for prompt-level forks (ParallelPrompt's row shape): a task template, shared
 * context, and the independent inputs or a count.
 */
export interface PromptSchema {
  /** The task for one input; `{data}` marks where the input goes (absent in the `n` form). */
  template: string;
  /** Text every input needs, put before each part's prompt ('' when none). */
  context: string;
  /** The independent inputs, in the prompt's order (empty in the `n` form). */
  data: string[];
  /** The `n` form: the template answered this many times, each with its own sample. */
  n?: number;
}

/** Inputs of one prompt at most (a longer list runs as one task). */
export const MAX_PARTS = 64;

/** The prompts of the parts, in order. */
export function partPrompts(schema: PromptSchema): string[] {
  const head = schema.context.trim() ? `${schema.context.trim()}\n\n` : '';
  if (schema.n !== undefined) return Array.from({ length: schema.n }, () => head + schema.template);
  return schema.data.map((item) => head + schema.template.replace('{data}', item));
}

/** The labels of the parts: the inputs (or `1`…`n`). */
export function partInputs(schema: PromptSchema): string[] {
  return schema.n !== undefined ? Array.from({ length: schema.n }, (_, i) => String(i + 1)) : [...schema.data];
}

/** What a model answers when asked for the schema (prompts/decompose-schema.txt). */
export const modelSchemaAnswer = z.union([
  z.strictObject({ serial: z.literal(true) }),
  z
    .strictObject({
      serial: z.literal(false).optional(),
      template: z.string().trim().min(1),
      context: z.string().default(''),
      data: z.array(z.string().trim().min(1)).min(2).max(MAX_PARTS).optional(),
      n: z.number().int().min(2).max(MAX_PARTS).optional(),
    })
    .refine((v) => (v.data === undefined) !== (v.n === undefined), {
      message: 'give either data (the inputs) or n (a count)',
    })
    .refine((v) => v.data === undefined || v.template.split('{data}').length === 2, {
      message: 'the template must hold {data} once',
    }),
]);
