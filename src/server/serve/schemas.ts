import { z } from 'zod';

/** Most choices one request may ask for (`n`). */
export const MAX_CHOICES = 16;
/** Most stop strings one request may give. */
export const MAX_STOPS = 16;

/** A field this server cannot honour: accepted only absent, null, or at its no-op value. */
const unsupported = (what: string, isNoop: (v: unknown) => boolean = () => false) =>
  z
    .unknown()
    .optional()
    .refine((v) => v === undefined || v === null || isNoop(v), { error: `${what} is not supported by this server` });

const isEmpty = (v: unknown) =>
  Array.isArray(v) ? v.length === 0 : typeof v === 'object' && v !== null && Object.keys(v).length === 0;

/** Fields both endpoints share. Unknown fields are ignored, as OpenAI and vLLM do. */
const common = {
  model: z.string().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  // Any safe integer: every one names its own stream (larger ones cannot be told apart as doubles).
  seed: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
  n: z.number().int().min(1).max(MAX_CHOICES).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(MAX_STOPS)]).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  /** vLLM's flag; token ids are returned unless it is false. */
  return_token_ids: z.boolean().nullish(),
  /** vLLM's flags: special tokens are left out of the text unless the first is false. */
  skip_special_tokens: z.boolean().nullish(),
  spaces_between_special_tokens: z.boolean().nullish(),
  presence_penalty: unsupported('presence_penalty', (v) => v === 0),
  frequency_penalty: unsupported('frequency_penalty', (v) => v === 0),
  logit_bias: unsupported('logit_bias', isEmpty),
};

const isTokenId = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * `prompt`: a string, an array of token ids, or an array holding one of those (how the OpenAI
 * client sends a single prompt). Normalized to `string | number[]`.
 */
const prompt = z.unknown().transform((value, ctx): string | number[] => {
  let v = value;
  if (Array.isArray(v) && v.length === 1 && (typeof v[0] === 'string' || Array.isArray(v[0]))) v = v[0];
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length > 1 && v.every((x) => typeof x === 'string' || Array.isArray(x))) {
      ctx.addIssue({
        code: 'custom',
        message: `batched prompts (${v.length} in one request) are not supported: send one prompt per request`,
        input: value,
      });
      return z.NEVER;
    }
    if (v.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must not be empty', input: value });
      return z.NEVER;
    }
    const bad = v.findIndex((x) => !isTokenId(x));
    if (bad < 0) return v as number[];
    ctx.addIssue({
      code: 'custom',
      message: `token ids must be non-negative integers (element ${bad} is ${JSON.stringify(v[bad])})`,
      input: value,
    });
    return z.NEVER;
  }
  ctx.addIssue({
    code: 'custom',
    message: `${v === undefined ? 'required: ' : ''}must be a string, an array of token ids, or an array holding one of those`,
    input: value,
  });
  return z.NEVER;
});

export const completionBodySchema = z.object({
  ...common,
  prompt,
  echo: unsupported('echo', (v) => v === false),
  logprobs: unsupported('logprobs', (v) => v === 0 || v === false),
  suffix: unsupported('suffix', (v) => v === ''),
  best_of: unsupported('best_of', (v) => v === 1),
});

const textPart = z.object({ type: z.literal('text'), text: z.string() });

export const chatMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)]),
  name: z.string().nullish(),
  // An assistant turn sent back may carry its reasoning under either name; earlier reasoning is
  // not part of the prompt (as Qwen3's template drops it).
  reasoning: z.string().nullish(),
  reasoning_content: z.string().nullish(),
});

export const chatBodySchema = z.object({
  ...common,
  messages: z.array(chatMessageSchema).min(1),
  /** The newer name of max_tokens; wins when both are given. */
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: unsupported('logprobs', (v) => v === false),
  top_logprobs: unsupported('top_logprobs', (v) => v === 0),
  tools: unsupported('tools', isEmpty),
  functions: unsupported('functions', isEmpty),
  tool_choice: unsupported('tool_choice', (v) => v === 'none'),
  response_format: unsupported(
    'response_format',
    (v) => typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'text',
  ),
});

export type CompletionBody = z.infer<typeof completionBodySchema>;
export type ChatBody = z.infer<typeof chatBodySchema>;
export type ChatMessageBody = z.infer<typeof chatMessageSchema>;
