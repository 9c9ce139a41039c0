import { z } from 'zod';

/** Most choices one request may ask for (`n`). */
export const MAX_CHOICES = 16;
/** Most stop strings one request may give. */
export const MAX_STOPS = 16;

/**
 * A field this server cannot honour: accepted only absent, null, or at its no-op value. Its
 * message follows the field's name (`logprobs: not supported …`), as every 400 here does.
 */
export const unsupported = (isNoop: (v: unknown) => boolean = () => false, hint = 'leave it out') =>
  z
    .unknown()
    .optional()
    .refine((v) => v === undefined || v === null || isNoop(v), { error: `not supported here: ${hint}` });

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
  // Sampling controls: passed to engines that honour them, refused (400) by the others unless neutral.
  top_k: z.number().int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().gt(0).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: unsupported(isEmpty),
};

/** `stream_options` only with `stream: true`, as OpenAI answers it. */
export function streamOptionsNeedStream(
  body: { stream?: boolean | null | undefined; stream_options?: unknown },
  ctx: z.RefinementCtx,
): void {
  if (body.stream_options != null && body.stream !== true) {
    ctx.addIssue({ code: 'custom', path: ['stream_options'], message: 'only allowed when stream is true' });
  }
}

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

export const completionBodySchema = z
  .object({
    ...common,
    prompt,
    echo: unsupported((v) => v === false),
    logprobs: unsupported((v) => v === 0 || v === false),
    suffix: unsupported((v) => v === ''),
    best_of: unsupported((v) => v === 1),
  })
  .superRefine(streamOptionsNeedStream);

/** A content part: text only (an image, audio or file part is refused with what the model reads). */
const contentPart = z
  .object({ type: z.string(), text: z.string().optional() })
  .superRefine((p, ctx) => {
    if (p.type !== 'text') {
      ctx.addIssue({
        code: 'custom',
        message: `the model reads text only: '${p.type}' parts are not supported (send the content as text parts)`,
      });
    } else if (p.text === undefined) ctx.addIssue({ code: 'custom', path: ['text'], message: 'required' });
  })
  .transform((p) => ({ type: 'text' as const, text: p.text ?? '' }));

export const chatMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  // null: an assistant turn that had no text (its content is empty).
  content: z.union([z.string(), z.array(contentPart), z.null()]),
  name: z.string().nullish(),
  // An assistant turn sent back may carry its reasoning under either name; earlier reasoning is
  // not part of the prompt (as Qwen3's template drops it).
  reasoning: z.string().nullish(),
  reasoning_content: z.string().nullish(),
});

export const chatBodyShape = z.object({
  ...common,
  messages: z.array(chatMessageSchema).min(1),
  /** The newer name of max_tokens; wins when both are given. */
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: unsupported((v) => v === false),
  top_logprobs: unsupported((v) => v === 0),
  tools: unsupported(isEmpty),
  functions: unsupported(isEmpty),
  tool_choice: unsupported((v) => v === 'none'),
  response_format: unsupported(
    (v) => typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'text',
    "leave it out (or { type: 'text' })",
  ),
});

export const chatBodySchema = chatBodyShape.superRefine(streamOptionsNeedStream);

export type CompletionBody = z.infer<typeof completionBodySchema>;
export type ChatBody = z.infer<typeof chatBodySchema>;
export type ChatMessageBody = z.infer<typeof chatMessageSchema>;
