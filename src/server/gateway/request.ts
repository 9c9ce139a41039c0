import { z } from 'zod';
import type { ChatMessage, Engine, SamplingControls } from '../../engine/types.js';
import { contextTooLong } from '../serve/admission.js';
import { modelNotFound } from '../serve/models.js';
import { controlsInput, honouredControls } from '../serve/generate.js';
import type { DecomposePolicy } from '../../decompose/run.js';
import type { DialectName } from '../../format/dialect.js';
import { buildPrompt, type PromptFormat } from '../../orchestrator/prompt.js';
import type { ClientSystemPolicy } from '../../solve/preset.js';
import { toChatMessage } from '../serve/chat.js';
import { badRequest } from '../http/errors.js';
import { chatBodyShape, streamOptionsNeedStream, unsupported } from '../serve/schemas.js';

export type Mode = 'parallel' | 'sequential';

/**
 * The model ids a gateway answers to: the base id (mode from the request, default parallel), one
 * per mode, and with prompt-level forks enabled `-decompose` (the prompt's inputs answered at once).
 */
export function gatewayModels(
  base: string,
  decompose?: DecomposePolicy,
): { id: string; mode?: Mode; decompose?: DecomposePolicy }[] {
  return [
    { id: base },
    { id: `${base}-parallel`, mode: 'parallel' },
    { id: `${base}-sequential`, mode: 'sequential' },
    ...(decompose ? [{ id: `${base}-decompose`, mode: 'parallel' as const, decompose }] : []),
  ];
}

/** The chat body, with the gateway's own `threadweaver` field and the fields a reasoning run cannot honour refused. */
export const gatewayBodySchema = chatBodyShape
  .extend({
    // A run gives one answer, and its stops are the format's.
    n: unsupported((v) => v === 1, 'a reasoning run gives one answer (n: 1)'),
    stop: unsupported((v) => (Array.isArray(v) ? v.length === 0 : false), 'the run stops where its format ends'),
    // solve()'s range: the base of every call's and thread's derived seed; -1 asks for a random one (as vLLM reads it).
    seed: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).nullish(),
    threadweaver: z
      .strictObject({
        mode: z.enum(['parallel', 'sequential']).optional(),
        /** Response budget over every thread; wins over max_tokens. */
        maxTokens: z.number().int().min(1).optional(),
        /** Live controller events in the stream's chunks (default true). */
        events: z.boolean().optional(),
      })
      .nullish(),
  })
  .superRefine(streamOptionsNeedStream);
export type GatewayBody = z.infer<typeof gatewayBodySchema>;

/** What one request asks the gateway to solve. */
export interface SolveRequest {
  /** The model id as asked (echoed in the response). */
  model: string;
  mode: Mode;
  /** The last user message. */
  problem: string;
  /** The system text the run gets: the client's system (and developer) messages joined, as the policy says. */
  system?: string | undefined;
  /** The conversation's earlier user and assistant turns (assistant turns without their reasoning). */
  history: ChatMessage[];
  /** Tokens of the whole prompt (the conversation through the chat template). */
  promptTokens: number;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  topP?: number | undefined;
  seed?: number | undefined;
  /** Top-k, min-p and penalties, all honoured by the engine. */
  controls: SamplingControls;
  stream: boolean;
  includeUsage: boolean;
  events: boolean;
  /** Prompt-level forks (the `-decompose` model). */
  decompose?: DecomposePolicy | undefined;
}

export interface RequestLimits {
  /** The gateway's base model id. */
  modelName: string;
  maxTokensLimit: number;
  /** How problems are put to the model (see buildPrompt). */
  prompt?: Partial<PromptFormat> | undefined;
  /** The trajectory format (its instructed prompt differs). */
  dialect?: DialectName | undefined;
  /** Serve the `-decompose` model with this extractor policy. */
  decompose?: DecomposePolicy | undefined;
  /** What becomes of the client's system messages (default: kept). */
  clientSystem?: ClientSystemPolicy | undefined;
  /** The closing reasoning tag of the format (default `</think>`; null: none): earlier answers are cut after it. */
  thinkClose?: string | null | undefined;
}

/** The system text a run gets from the client's system messages, under `policy`. */
export function systemText(
  client: readonly string[],
  policy: ClientSystemPolicy = { client: 'keep' },
): string | undefined {
  if (client.length === 0 || policy.client === 'drop') return undefined;
  return policy.client === 'replace' ? policy.text : client.join('\n\n');
}

/**
 * An earlier assistant turn as the prompt holds it: its answer, without the reasoning (what
 * follows the last `</think>`, leading newlines dropped), as Qwen3's chat template does.
 */
export function earlierAnswer(content: string, thinkClose: string | null = '</think>'): string {
  if (!thinkClose) return content;
  const at = content.lastIndexOf(thinkClose);
  return at < 0 ? content : content.slice(at + thinkClose.length).replace(/^\n+/, '');
}

/**
 * A validated body as a solve request. The problem is the last message, which must be the
 * user's; earlier user and assistant turns come before it in the prompt, through the chat
 * template; system messages become the run's system text as `clientSystem` says. The whole
 * prompt must leave room for an answer. Bad input is a 400 (an unknown model a 404, as OpenAI
 * answers it).
 */
export function solveRequest(body: GatewayBody, engine: Engine, limits: RequestLimits): SolveRequest {
  const models = gatewayModels(limits.modelName, limits.decompose);
  const model = body.model ?? limits.modelName;
  const known = models.find((m) => m.id === model);
  if (!known)
    throw modelNotFound(
      model,
      models.map((m) => m.id),
    );
  const asked = body.threadweaver?.mode;
  if (known.mode && asked && asked !== known.mode) {
    throw badRequest(
      `threadweaver.mode: '${asked}' contradicts the model '${model}' (${known.mode}); use '${limits.modelName}' to choose the mode in the field`,
      'threadweaver.mode',
    );
  }
  const mode = known.mode ?? asked ?? 'parallel';

  const messages = body.messages.map(toChatMessage);
  const last = messages[messages.length - 1]!;
  if (last.role !== 'user') {
    throw badRequest(
      `messages: the last message must be the user's problem (it is ${last.role === 'assistant' ? 'an assistant' : 'a system'} message)`,
      'messages',
    );
  }
  const problem = last.content;
  if (problem.trim() === '') throw badRequest('messages: the last user message is empty', 'messages');
  const system = systemText(
    messages.filter((m) => m.role === 'system').map((m) => m.content),
    limits.clientSystem,
  );
  const thinkClose = limits.thinkClose === undefined ? '</think>' : limits.thinkClose;
  const history = messages
    .slice(0, -1)
    .filter((m) => m.role !== 'system')
    .map((m) => (m.role === 'assistant' ? { ...m, content: earlierAnswer(m.content, thinkClose) } : m));

  const [maxTokens, maxTokensParam] =
    body.threadweaver?.maxTokens != null
      ? [body.threadweaver.maxTokens, 'threadweaver.maxTokens']
      : body.max_completion_tokens != null
        ? [body.max_completion_tokens, 'max_completion_tokens']
        : [body.max_tokens ?? undefined, 'max_tokens'];
  if (maxTokens !== undefined && maxTokens > limits.maxTokensLimit) {
    throw badRequest(
      `${maxTokensParam}: ${maxTokens} is above this server's limit of ${limits.maxTokensLimit}`,
      maxTokensParam,
    );
  }
  const promptTokens = engine.tokenizer.count(
    buildPrompt(engine.tokenizer, problem, mode, limits.prompt, system, limits.dialect, history),
  );
  if (promptTokens >= engine.contextLength) {
    throw contextTooLong(engine.contextLength, promptTokens, 'messages', promptSubject(messages.length));
  }
  return {
    model,
    mode,
    problem,
    system,
    history,
    promptTokens,
    maxTokens,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    seed: body.seed === -1 ? undefined : (body.seed ?? undefined),
    controls: honouredControls(engine, controlsInput(body)),
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    events: body.threadweaver?.events ?? true,
    decompose: known.decompose,
  };
}

/** How a context error names a conversation's prompt. */
export function promptSubject(messages: number): string {
  return `the prompt (${messages} message${messages === 1 ? '' : 's'})`;
}
