import path from 'node:path';
import { z } from 'zod';
import { resolveModelSource } from '../../engine/model-source.js';
import { loadTokenizer } from '../../engine/tokenizer.js';
import type { PromptFormat } from '../../orchestrator/prompt.js';
import { ContextTooSmallError } from '../../sft/context-fit.js';
import { OpenAIChatModel } from '../../sft/llm.js';
import { runStage1, type Stage1Stats } from '../../sft/stage1.js';
import { runStage2 } from '../../sft/stage2.js';
import type { DatasetStats } from '../../sft/stats.js';
import { readTraces } from '../../sft/traces.js';
import { intFlag, numberFlag, parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import {
  engineFlagOptions,
  engineFlagSchema,
  engineFlagUsage,
  samplingFlagOptions,
  samplingFlagSchema,
  samplingFlagUsage,
} from '../engine-flags.js';
import { engineFromPreset, presetFlagOptions, presetFlagSchema, presetFlagUsage, presetRun } from '../preset-flags.js';
import { presetTokenizer } from '../../solve/preset.js';
import { datasetFlagOptions, datasetFlagSchema, datasetFromFlags } from '../dataset-flags.js';
import { withSigint } from '../interrupt.js';
import { ThreadweaverError } from '../../errors.js';

const usage = `Usage:
  threadweaver sft stage1 --input FILE.jsonl --out DIR --llm-base-url URL --llm-model NAME [options]
  threadweaver sft stage2 --dataset NAME|--data FILE.jsonl --out DIR [options]

Make SFT data in the trajectory format (see docs/sft.md). Both write DIR/sft.jsonl (TRL
conversational rows), DIR/sft-trie.jsonl (trie layouts), DIR/stats.json and DIR/report.md.

stage1: rewrite sequential traces {id, problem, answer, reasoning} into parallel trajectories
with an LLM on any OpenAI-compatible endpoint: a general chat model with a long context (32k
tokens or more), not the bundled model. Rerunning into DIR sends only new requests.
  --input FILE              JSONL traces (optional "response": the text after the reasoning)
  --out DIR                 run folder (items/<id>/ holds each step's output and trace.jsonl)
  --llm-base-url URL        e.g. http://127.0.0.1:8000/v1
  --llm-model NAME          model name sent with each request
  --llm-api-key-env NAME    environment variable holding the API key (default OPENAI_API_KEY)
  --llm-concurrency N       requests in flight (default 8)
  --llm-retries N           retries on connection errors, 429 and 5xx (default 3)
  --llm-timeout SECONDS     per request (default 600)
  --llm-temperature T       sent only when given
  --llm-max-tokens N        sent only when given (max_completion_tokens)
  --llm-context-length N    the LLM's context in tokens (default: max_model_len from GET /models);
                            the run stops up front if the longest request would not fit
  --llm-reasoning-effort minimal|low|medium|high   sent only when given
  --llm-json                ask for response_format json_object
  --cache DIR               answer cache (default DIR/llm-cache)
  --min-parallel-chars N    keep a block only with N characters outside its longest thread (default 200)
  --attempts N              requests per well-formed answer in steps 1 and 4 (default 3)
  --limit N                 first N traces only
  --tokenizer DIR           tokenizer for token counts and trie rows (default: the preset's, or the bundled model's)
  --instruction TEXT        appended to each problem after a space in the written user turns
                            (default: the preset's prompt suffix)
  --preset NAME|FILE        the checkpoint the rows train: its tokenizer (with its added tokens),
                            prompt suffix and chat template variables

stage2: solve problems with a parallel model through the fork/join controller; keep
trajectories that pass the strict validator and grade correct, once each. DIR/rollouts is
the eval run of the rollouts (rerunning resumes).
  --dataset NAME            a benchmark (math500, gsm8k, arith500, ...) or arith (generated)
  --data FILE               a JSONL file of {id, problem, answer}
  --data-dir DIR            folder of the benchmark files
  --limit N                 first N problems
  --samples S               samples per problem (default 1; use a temperature above 0 with S > 1)
  --out DIR                 run folder
  --concurrency N           problems solved at once (default 1)
  --instruction TEXT        appended to each problem after a space, in the prompts solved and the
                            written user turns (default: the preset's prompt suffix)
${samplingFlagUsage}
  (stage 2 samples with the preset's sft settings: greedy with tiny, 0.6 and 0.95 with the Qwen3 presets)
${presetFlagUsage}
${engineFlagUsage}`;

const positive = () => intFlag().min(1);

const stage1Schema = z.object({
  input: z.string({ error: 'is required' }),
  out: z.string({ error: 'is required' }),
  llmBaseUrl: z.url({ error: 'must be a URL such as http://127.0.0.1:8000/v1' }),
  llmModel: z.string({ error: 'is required' }).min(1),
  llmApiKeyEnv: z.string().default('OPENAI_API_KEY'),
  llmConcurrency: positive().default(8),
  llmRetries: intFlag().min(0).default(3),
  llmTimeout: numberFlag().positive().default(600),
  llmTemperature: numberFlag().min(0).max(2).optional(),
  llmMaxTokens: positive().optional(),
  llmContextLength: positive().optional(),
  llmReasoningEffort: z.enum(['minimal', 'low', 'medium', 'high']).optional(),
  llmJson: z.boolean().optional(),
  cache: z.string().optional(),
  minParallelChars: intFlag().min(0).default(200),
  attempts: positive().default(3),
  limit: positive().optional(),
  tokenizer: z.string().optional(),
  instruction: z.string().optional(),
  preset: z.string().min(1).optional(),
});

const stage1Flags = {
  input: { type: 'string' },
  out: { type: 'string' },
  'llm-base-url': { type: 'string' },
  'llm-model': { type: 'string' },
  'llm-api-key-env': { type: 'string' },
  'llm-concurrency': { type: 'string' },
  'llm-retries': { type: 'string' },
  'llm-timeout': { type: 'string' },
  'llm-temperature': { type: 'string' },
  'llm-max-tokens': { type: 'string' },
  'llm-context-length': { type: 'string' },
  'llm-reasoning-effort': { type: 'string' },
  'llm-json': { type: 'boolean' },
  cache: { type: 'string' },
  'min-parallel-chars': { type: 'string' },
  attempts: { type: 'string' },
  limit: { type: 'string' },
  tokenizer: { type: 'string' },
  instruction: { type: 'string' },
  ...presetFlagOptions,
} as const;

const stage2Schema = engineFlagSchema
  .extend(samplingFlagSchema.shape)
  .extend(datasetFlagSchema.shape)
  .extend(presetFlagSchema.shape)
  .extend({
    samples: positive().default(1),
    out: z.string({ error: 'is required' }),
    concurrency: positive().default(1),
    instruction: z.string().optional(),
  })
  .refine((v) => (v.dataset === undefined) !== (v.data === undefined), {
    message: 'give exactly one of --dataset and --data',
    path: ['dataset'],
  });

const stage2Flags = {
  ...engineFlagOptions,
  ...samplingFlagOptions,
  ...datasetFlagOptions,
  ...presetFlagOptions,
  samples: { type: 'string' },
  out: { type: 'string' },
  concurrency: { type: 'string' },
  instruction: { type: 'string' },
} as const;

/** The preset's prompt format; `--instruction` replaces its suffix (after a space, as in the written rows). */
const promptOf = (prompt: PromptFormat, instruction: string | undefined): PromptFormat =>
  instruction ? { ...prompt, suffix: ` ${instruction}` } : prompt;

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const summaryLine = (s: DatasetStats, out: string) =>
  `${s.generated} generated, format pass ${pct(s.formatPassRate)}, accuracy ${pct(s.accuracy)}, kept ${s.kept} (${pct(s.keptShare)}), ` +
  `mean η ${s.acceleration ? s.acceleration.mean.toFixed(3) : 'n/a'} → ${path.join(out, 'sft.jsonl')}`;

async function stage1(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, stage1Flags, stage1Schema);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const traces = (await readTraces(v.input)).slice(0, v.limit);
  const { preset, resolved } = presetRun(v, 'sft');
  const tokenizer =
    (await presetTokenizer(preset, v.tokenizer)) ?? (await loadTokenizer(resolveModelSource(v.tokenizer)));
  const model = new OpenAIChatModel({
    baseURL: v.llmBaseUrl,
    model: v.llmModel,
    // An empty variable is no key.
    apiKey: process.env[v.llmApiKeyEnv] || undefined,
    concurrency: v.llmConcurrency,
    maxRetries: v.llmRetries,
    timeoutMs: v.llmTimeout * 1000,
    cacheDir: v.cache ?? path.join(v.out, 'llm-cache'),
    temperature: v.llmTemperature,
    maxTokens: v.llmMaxTokens,
    reasoningEffort: v.llmReasoningEffort,
    jsonMode: v.llmJson,
  });
  const result = await withSigint((signal) =>
    runStage1({
      traces,
      out: v.out,
      model,
      tokenizer,
      minParallelChars: v.minParallelChars,
      attempts: v.attempts,
      concurrency: v.llmConcurrency,
      prompt: promptOf(resolved.settings.prompt, v.instruction),
      llmContextLength: v.llmContextLength,
      llmAnswerTokens: v.llmMaxTokens,
      signal,
    }),
  ).catch((err: unknown) => {
    if (err instanceof ContextTooSmallError) throw new ThreadweaverError(`stage 1: ${v.llmBaseUrl}: ${err.message}`);
    throw err;
  });
  const s: Stage1Stats = result.stats;
  console.log(`stage 1: ${s.items} traces, ${s.failed} failed; ${summaryLine(s, v.out)}`);
  if (s.failed > 0) console.error(`stage 1: see ${result.files.items} and items/<id>/trace.jsonl for the failures`);
  if (result.aborted) return 130;
  return s.generated === 0 ? 1 : 0;
}

async function stage2(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, stage2Flags, stage2Schema);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const run = presetRun(v, 'sft');
  const { temperature, topP, maxTokens } = run.resolved.settings;
  if (v.samples > 1 && !temperature)
    console.error('stage 2: warning: greedy decoding gives every sample the same trajectory; pass --temperature');
  const dataset = await datasetFromFlags(v);
  const engine = await engineFromPreset(v, run);
  const result = await withSigint((signal) =>
    runStage2({
      dataset,
      engine,
      samples: v.samples,
      out: v.out,
      concurrency: v.concurrency,
      temperature,
      topP,
      seed: v.seed,
      maxTokens: maxTokens ?? undefined,
      prompt: promptOf(run.resolved.settings.prompt, v.instruction),
      preset: run.resolved,
      signal,
    }),
  );
  console.log(
    `stage 2: ${dataset.name}, ${dataset.problems.length} problems × ${v.samples}; ${summaryLine(result.stats, v.out)}`,
  );
  return result.aborted ? 130 : 0;
}

const sft: Command = {
  name: 'sft',
  summary: 'make SFT data: stage1 rewrites traces with an LLM, stage2 self-trains',
  usage,
  async run(args) {
    const [stage, ...rest] = args;
    if (stage === 'stage1') return stage1(rest);
    if (stage === 'stage2') return stage2(rest);
    throw new UsageError(stage ? `unknown stage '${stage}' (use stage1 or stage2)` : 'give a stage: stage1 or stage2');
  },
};

export default sft;
