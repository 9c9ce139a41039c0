import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { affinityPolicy, DEFAULT_AFFINITY_HEADERS, HEADER_NAME } from '../engine/remote/affinity.js';
import { OpenAIEngine, type OpenAIEngineOptions } from '../engine/remote/openai.js';
import { bundledHasFp32, missingGraph, resolveModelSource } from '../engine/model-source.js';
import { RoutedEngine } from '../engine/remote/router.js';
import type { Engine } from '../engine/types.js';
import { embeddedEngine, llamaCppEngine } from '../engine/load.js';
import type { LlamaCppEngineOptions } from '../engine/llama-cpp/engine.js';
import { intFlag, numberFlag } from './args.js';
import { UsageError } from './command.js';

/** Flags shared by every command that runs a model: the embedded engine, or remote servers. */
export const engineFlagOptions = {
  engine: { type: 'string' },
  model: { type: 'string' },
  dtype: { type: 'string' },
  threads: { type: 'string' },
  'base-url': { type: 'string', multiple: true },
  'served-model': { type: 'string' },
  'api-key': { type: 'string' },
  tokenizer: { type: 'string' },
  'chat-template': { type: 'string' },
  'prompt-format': { type: 'string' },
  'context-length': { type: 'string' },
  timeout: { type: 'string' },
  'max-retries': { type: 'string' },
  affinity: { type: 'string' },
  'affinity-header': { type: 'string', multiple: true },
  'no-stream-upstream': { type: 'boolean' },
  'prompt-style': { type: 'string' },
  gpu: { type: 'string' },
  sequences: { type: 'string' },
  sampler: { type: 'string' },
} as const;

const httpUrl = z.string().refine((s) => /^https?:\/\/[^/]/.test(s), 'must be an http:// or https:// URL');

export const engineFlagSchema = z.object({
  engine: z.enum(['embedded', 'llama-cpp']).optional(),
  model: z.string().min(1).optional(),
  dtype: z.enum(['q8', 'fp32']).optional(),
  threads: intFlag().min(1).optional(),
  baseUrl: z.array(httpUrl).optional(),
  servedModel: z.string().min(1).optional(),
  apiKey: z.string().min(1).optional(),
  tokenizer: z.string().min(1).optional(),
  chatTemplate: z.enum(['model', 'none']).optional(),
  promptFormat: z.enum(['ids', 'text']).optional(),
  contextLength: intFlag().min(2).optional(),
  timeout: intFlag().min(1).optional(),
  maxRetries: intFlag().min(0).max(100).optional(),
  affinity: z.enum(['key', 'none']).optional(),
  affinityHeader: z.array(z.string().regex(HEADER_NAME, 'must be an HTTP header name')).optional(),
  noStreamUpstream: z.boolean().optional(),
  promptStyle: z.enum(['trained', 'instructed']).optional(),
  gpu: z.enum(['auto', 'cpu', 'metal', 'cuda', 'vulkan']).optional(),
  sequences: intFlag().min(1).max(64).optional(),
  sampler: z.enum(['threadweaver', 'llama.cpp']).optional(),
});

export type EngineFlags = z.infer<typeof engineFlagSchema>;

// fp32 is offered as is only when the bundled folder has that graph (only q8 is vendored).
const dtypeUsage = bundledHasFp32()
  ? '  --dtype q8|fp32       ONNX weights to load (default q8)'
  : `  --dtype q8|fp32       ONNX weights to load (default q8). The bundled model ships q8 only:
                        fp32 needs --model DIR, a folder with onnx/model.onnx (an fp32 export)`;

export const embeddedEngineFlagUsage = `Engine options (embedded):
  --model DIR|ID        model folder or Hugging Face id (default: the bundled tiny-threadweaver)
${dtypeUsage}
  --threads N           onnxruntime intra-op threads (default 1; llama.cpp threads with --engine llama-cpp)
Engine options (llama-cpp: a GGUF file in-process through node-llama-cpp, docs/llama-cpp.md):
  --engine llama-cpp    run --model FILE.gguf (a .gguf --model is recognised without it)
  --gpu auto|cpu|metal|cuda|vulkan   the llama.cpp build to use (default auto: a GPU when found)
  --sequences N         rows decoded at once: the controller and its threads (default 5); each
                        reserves a full context of KV cache
  --sampler threadweaver|llama.cpp   who samples above temperature 0 (default threadweaver: our
                        order and seeded streams; llama.cpp: its own chain)
  --context-length N    per sequence: max prompt + completion tokens (default: the file's, at most 8192)
  --chat-template none  the bare problem text instead of the file's chat template (base models)`;

export const engineFlagUsage = `${embeddedEngineFlagUsage}
Engine options (remote, OpenAI-compatible /v1/completions: vLLM, SGLang, threadweaver serve):
  --base-url URL        server API root, e.g. http://localhost:8000/v1; repeat for several servers
  --served-model NAME   model name on the server (default: the first id of GET /v1/models)
  --api-key KEY         bearer token (default: $OPENAI_API_KEY)
  --tokenizer DIR|ID    the served model's tokenizer (default: the bundled model's)
  --chat-template none  send the bare problem text, no chat template (base models)
  --prompt-format ids|text   send prompts as token ids (default; vLLM, SGLang) or as text
  --context-length N    max prompt + completion tokens (default: the server's max_model_len)
  --timeout MS          per-request timeout; streamed, the longest wait for the next chunk (default 120000)
  --max-retries N       retries of a failed request: 429, 5xx, dropped, timed out (default 3)
  --affinity key|none   every request names its sample for a router in front of several servers
                        (default key: in ${DEFAULT_AFFINITY_HEADERS.join(', ')} and the body's user
                        field; docs/scale-out.md); none sends nothing
  --affinity-header NAME   also send the key in this header (repeatable), e.g. x-dynamo-session-id
  --no-stream-upstream  read each completion whole instead of streamed (servers that cannot
                        stream; the text then reaches the output a call at a time)
Prompt:
  --prompt-style trained|instructed   the format the model was trained on (default), or a
                        system prompt that teaches it (for models never trained on it)`;

/** Decoding flags shared by solve, eval, rollout and sft. */
export const samplingFlagOptions = {
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
} as const;

export const samplingFlagSchema = z.object({
  maxTokens: intFlag().min(1).optional(),
  temperature: numberFlag().min(0).max(5).optional(),
  topP: numberFlag().gt(0).max(1).optional(),
  seed: intFlag().min(0).optional(),
});

export const samplingFlagUsage = `Sampling options:
  --max-tokens N        response budget: generated tokens, every thread counted; thread headers
                        and closing tags the controller inserts do not count (default: the context length)
  --temperature T       0 = greedy (default 0)
  --top-p P             nucleus sampling mass (default 1)
  --seed N              base seed; each call and thread derives its own`;

const EMBEDDED_ONLY = ['model', 'dtype', 'threads'] as const;
const LLAMA_CPP_ONLY = ['gpu', 'sequences', 'sampler'] as const;
// What a GGUF file carries itself, or only servers take.
const NOT_FOR_LLAMA_CPP = ['dtype', 'servedModel', 'tokenizer', 'promptFormat', 'timeout', 'maxRetries'] as const;
// `--api-key` is not refused without --base-url: `threadweaver serve` reads it as its own key.
const REMOTE_ONLY = [
  'servedModel',
  'tokenizer',
  'chatTemplate',
  'promptFormat',
  'contextLength',
  'timeout',
  'maxRetries',
  'affinity',
  'affinityHeader',
  'noStreamUpstream',
] as const;
const flagName = (key: string) => '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/**
 * The engine the flags ask for: the embedded engine without `--base-url`; with one, an
 * OpenAIEngine; with several, a RoutedEngine over them. Flags of the other kind are an error
 * rather than silently ignored. `remoteDefaults` (a preset's) are what the flags leave unset.
 */
export async function engineFromFlags(
  flags: EngineFlags,
  remoteDefaults: Partial<Omit<OpenAIEngineOptions, 'baseUrl'>> = {},
): Promise<Engine> {
  const urls = flags.baseUrl ?? [];
  if (engineKind(flags) === 'llama-cpp') return llamaCppEngine(llamaCppOptionsFromFlags(flags));
  const llamaOnly = LLAMA_CPP_ONLY.filter((k) => flags[k] !== undefined);
  if (llamaOnly.length > 0)
    throw new UsageError(`${llamaOnly.map(flagName).join(', ')} only apply with --engine llama-cpp (a GGUF --model)`);
  if (urls.length === 0) {
    const stray = REMOTE_ONLY.filter((k) => flags[k] !== undefined);
    if (stray.length > 0) throw new UsageError(`${stray.map(flagName).join(', ')} only apply with --base-url`);
    const missing = missingGraph(resolveModelSource(flags.model), flags.dtype ?? 'q8');
    if (missing) throw new UsageError(`--dtype ${flags.dtype ?? 'q8'}: ${missing}`);
    return embeddedEngine({
      ...(flags.model ? { model: flags.model } : {}),
      ...(flags.dtype ? { dtype: flags.dtype } : {}),
      ...(flags.threads ? { threads: flags.threads } : {}),
    });
  }
  const stray = EMBEDDED_ONLY.filter((k) => flags[k] !== undefined);
  if (stray.length > 0) {
    throw new UsageError(
      `${stray.map(flagName).join(', ')} choose the embedded engine; with --base-url name the model with --served-model and its tokenizer with --tokenizer`,
    );
  }
  if (flags.affinity === 'none' && flags.affinityHeader?.length)
    throw new UsageError('--affinity none sends no key: it cannot be combined with --affinity-header');
  const options: Omit<OpenAIEngineOptions, 'baseUrl'> = {
    ...remoteDefaults,
    ...(flags.servedModel ? { model: flags.servedModel } : {}),
    ...(flags.apiKey ? { apiKey: flags.apiKey } : {}),
    ...(flags.tokenizer ? { tokenizer: flags.tokenizer } : {}),
    ...(flags.chatTemplate ? { chatTemplate: flags.chatTemplate } : {}),
    ...(flags.promptFormat ? { promptFormat: flags.promptFormat } : {}),
    ...(flags.contextLength ? { contextLength: flags.contextLength } : {}),
    ...(flags.timeout ? { timeoutMs: flags.timeout } : {}),
    ...(flags.maxRetries !== undefined ? { maxRetries: flags.maxRetries } : {}),
    affinity: affinityPolicy({ none: flags.affinity === 'none', headers: flags.affinityHeader ?? [] }),
    ...(flags.noStreamUpstream ? { stream: false } : {}),
  };
  return urls.length === 1
    ? OpenAIEngine.connect({ ...options, baseUrl: urls[0]! })
    : RoutedEngine.connect({ ...options, baseUrls: urls });
}

/** Which in-process engine the flags choose: `--engine`, else llama-cpp for a `.gguf` --model. */
export function engineKind(
  flags: Pick<EngineFlags, 'engine' | 'model' | 'baseUrl'>,
): 'embedded' | 'llama-cpp' | 'remote' {
  if (flags.engine) return flags.engine;
  if (flags.model && /\.gguf$/i.test(flags.model)) return 'llama-cpp';
  return (flags.baseUrl?.length ?? 0) > 0 ? 'remote' : 'embedded';
}

/**
 * The llama-cpp engine options the flags set; `cap` (a preset's context length) bounds the
 * default context. Flags that do not apply to a GGUF file are an error.
 */
export function llamaCppOptionsFromFlags(flags: EngineFlags, cap?: number): LlamaCppEngineOptions {
  if ((flags.baseUrl?.length ?? 0) > 0)
    throw new UsageError('--engine llama-cpp runs a GGUF file in-process; --base-url is for OpenAI-compatible servers');
  const stray = NOT_FOR_LLAMA_CPP.filter((k) => flags[k] !== undefined);
  if (stray.length > 0)
    throw new UsageError(
      `${stray.map(flagName).join(', ')} do not apply to --engine llama-cpp (the GGUF file carries its tokenizer)`,
    );
  if (!flags.model) throw new UsageError('--engine llama-cpp needs --model FILE.gguf');
  if (!existsSync(flags.model) || !statSync(flags.model).isFile())
    throw new UsageError(`--model: GGUF file not found: ${path.resolve(flags.model)}`);
  return {
    model: flags.model,
    ...(flags.gpu ? { gpu: flags.gpu === 'cpu' ? false : flags.gpu } : {}),
    ...(flags.threads ? { threads: flags.threads } : {}),
    ...(flags.sequences ? { sequences: flags.sequences } : {}),
    ...(flags.sampler ? { sampler: flags.sampler } : {}),
    ...(flags.contextLength
      ? { contextLength: flags.contextLength }
      : cap !== undefined
        ? { maxContextLength: cap }
        : {}),
    ...(flags.chatTemplate ? { chatTemplate: flags.chatTemplate } : {}),
  };
}
