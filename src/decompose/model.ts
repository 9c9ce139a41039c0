/**
 * The model-based schema extractor: the model is asked for the prompt's schema as JSON
 * (prompts/decompose-schema.txt), and the answer is checked with zod. Anything short of a valid
 * schema (prose, broken JSON, a wrong field, `serial: true`) is no schema, with the reason.
 */
import type { Engine } from '../engine/types.js';
import { answerRegion } from '../math/extract.js';
import { loadPrompt, promptFormat, type PromptFormat } from '../orchestrator/prompt.js';
import { parseJsonAnswer } from '../internal/json-answer.js';
import { modelSchemaAnswer, type PromptSchema } from './schema.js';

export interface ModelExtraction {
  schema: PromptSchema | null;
  /** Why there is no schema. */
  reason?: string;
  /** What the model answered. */
  text: string;
  /** Tokens it generated. */
  tokens: number;
  startMs: number;
  endMs: number;
}

/** Room for the schema answer: a JSON object listing the inputs. */
const ANSWER_TOKENS = 1024;

export async function extractByModel(
  engine: Engine,
  problem: string,
  o: {
    prompt?: Partial<PromptFormat> | undefined;
    maxTokens?: number | undefined;
    signal?: AbortSignal | undefined;
    cacheScope?: string;
    affinityKey?: string | undefined;
  } = {},
): Promise<ModelExtraction> {
  const tok = engine.tokenizer;
  const f = promptFormat(o.prompt ?? {});
  const prompt = tok.applyChatTemplate(
    [{ role: 'user', content: loadPrompt('decompose-schema', { prompt: problem }) }],
    { addGenerationPrompt: true, kwargs: f.chatTemplateKwargs },
  );
  const ids = tok.encode(prompt);
  const room = engine.contextLength - ids.length;
  const startMs = Date.now();
  if (room <= 0)
    return {
      schema: null,
      reason: 'the schema request does not fit the context',
      text: '',
      tokens: 0,
      startMs,
      endMs: startMs,
    };
  const r = await engine.complete({
    prompt: ids,
    maxTokens: Math.min(ANSWER_TOKENS, room, o.maxTokens ?? Infinity),
    temperature: 0,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.cacheScope ? { cacheScope: o.cacheScope } : {}),
    ...(o.affinityKey ? { affinity: { key: o.affinityKey } } : {}),
  });
  const done = { text: r.text, tokens: r.ids.length, startMs: r.startMs, endMs: r.endMs };
  let answer: unknown;
  try {
    answer = parseJsonAnswer(answerRegion(r.text) ?? r.text);
  } catch (err) {
    return { ...done, schema: null, reason: `the model's schema is not JSON: ${(err as Error).message}` };
  }
  const parsed = modelSchemaAnswer.safeParse(answer);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return {
      ...done,
      schema: null,
      reason: `the model's schema is not usable: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`,
    };
  }
  const a = parsed.data;
  if ('serial' in a && a.serial === true)
    return { ...done, schema: null, reason: 'the model found no independent inputs (serial)' };
  const s = a;
  return {
    ...done,
    schema: { template: s.template, context: s.context, data: s.data ?? [], ...(s.n !== undefined ? { n: s.n } : {}) },
  };
}
