import { z } from 'zod';

// What OpenAI-compatible servers send back, as far as the remote engine reads it (the HTTP
// boundary: only the fields we use are checked, the rest passes).

const stopReport = z.union([z.string(), z.number(), z.null()]).optional();

/** A completion choice, whole or one chunk of a stream (vLLM's `stop_reason` and `token_ids`, SGLang's `matched_stop`). */
const choiceFields = {
  finish_reason: z.string().nullable().optional(),
  stop_reason: stopReport,
  matched_stop: stopReport,
  token_ids: z.array(z.number().int()).nullable().optional(),
};

const usageSchema = z
  .object({
    prompt_tokens: z.number().optional(),
    completion_tokens: z.number().optional(),
    prompt_tokens_details: z.object({ cached_tokens: z.number().nullable().optional() }).nullable().optional(),
  })
  .nullable()
  .optional();

export const completionSchema = z.object({
  choices: z.array(z.object({ text: z.string(), ...choiceFields })).min(1),
  usage: usageSchema,
});

/** One `data:` event of a streamed completion: a choice's next piece, or (last) the usage alone. */
export const completionChunkSchema = z.object({
  choices: z.array(z.object({ index: z.number().int().optional(), text: z.string().nullish(), ...choiceFields })),
  usage: usageSchema,
});

export const modelsSchema = z.object({
  data: z.array(z.object({ id: z.string(), max_model_len: z.number().int().positive().optional() })),
});

export type WireUsage = z.infer<typeof usageSchema>;

/** The stop the server reports: vLLM's and `threadweaver serve`'s `stop_reason`, else SGLang's `matched_stop`. */
export function reportedStop(c: {
  stop_reason?: string | number | null | undefined;
  matched_stop?: string | number | null | undefined;
}): { stopReason?: string | number | null } {
  if (c.stop_reason !== undefined) return { stopReason: c.stop_reason };
  if (c.matched_stop !== undefined) return { stopReason: c.matched_stop };
  return {};
}
