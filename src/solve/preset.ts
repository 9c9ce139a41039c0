/**
 * Presets: what a checkpoint was trained and evaluated with, as data (`presets/*.json`, checked
 * with zod): prompt style and suffix, chat template and its variables, tokenizer and the tokens
 * it must have, stop handling, context length, response budget, and sampling per use. A
 * ThreadWeaver checkpoint run with another prompt or engine settings silently stops forking;
 * a preset pins them in one name.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { OpenAIEngineOptions } from '../engine/remote/openai.js';
import { resolveModelSource } from '../engine/model-source.js';
import { type HFTokenizer, loadTokenizer } from '../engine/tokenizer.js';
import { packageRoot } from '../internal/package-root.js';
import { withStyle, type PromptFormat } from '../orchestrator/prompt.js';
import { ThreadweaverError } from '../errors.js';
import {
  checkFormatSpec,
  DEFAULT_FORMAT,
  formatSpecSchema,
  formatSpecText,
  parseFormatSpec,
  type FormatSpec,
} from '../format/dialects.js';

/** A preset that cannot be read: not found, not JSON, or a field its schema refuses (named). */
export class PresetError extends ThreadweaverError {
  override name = 'PresetError';
}

/** What a run samples for: one problem, an evaluation, RL rollouts, SFT self-training. */
export type PresetUse = 'solve' | 'eval' | 'rollout' | 'sft';

const sampling = z.strictObject({
  temperature: z.number().min(0).max(5),
  topP: z.number().gt(0).max(1),
});

/** A format as a preset names it: `"multiverse"`, `"parallel-r1:paths=2"` or `{ "name": "parallel-r1", "paths": 2 }`. */
const presetFormat = z.union([z.string().min(1), formatSpecSchema]).superRefine((v, ctx) => {
  try {
    if (typeof v === 'string') parseFormatSpec(v);
    else checkFormatSpec(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const presetSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-"'),
  description: z.string().min(1),
  /** The trajectory format the checkpoint writes (absent: threadweaver). */
  format: presetFormat.optional(),
  /** Where the model runs: in-process (`embedded`) or behind `--base-url` (`server`). */
  engine: z.enum(['embedded', 'server']),
  /** The embedded engine's model folder or hub id; null: the bundled model. */
  model: z.string().min(1).nullable(),
  tokenizer: z.strictObject({
    /** Hugging Face id (or folder) of the served model's tokenizer; `--tokenizer DIR` overrides it. Null: the engine's own. */
    id: z.string().min(1).nullable(),
    /** Tokens the checkpoint added as special tokens: each must be a single id (added when missing). */
    addedTokens: z.array(z.string().min(1)),
  }),
  /** `model`: the tokenizer's own chat template (Jinja); `none`: the bare message text (base models). */
  chatTemplate: z.enum(['model', 'none']),
  prompt: z.strictObject({
    style: z.enum(['trained', 'instructed']),
    suffix: z.string(),
    sequentialSystem: z.boolean(),
    chatTemplateKwargs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  }),
  /**
   * System prompts: whether the checkpoint was trained with one (`trained`), and what a gateway
   * does with a chat client's system messages (`client`): pass them on (`keep`), leave them out
   * (`drop`: a checkpoint trained without one stops forking, or never closes its reasoning, under
   * a chat UI's default system prompt), or put `text` in their place (`replace`). Absent: `drop`
   * for a trained style, `keep` for the instructed one.
   */
  system: z
    .strictObject({
      trained: z.boolean(),
      client: z.enum(['keep', 'drop', 'replace']),
      text: z.string().min(1).optional(),
    })
    .refine((v) => v.client !== 'replace' || v.text !== undefined, { error: "client 'replace' needs the text" })
    .optional(),
  stop: z.strictObject({
    /** Send the vLLM/SGLang fields that keep stops and special tokens (see OpenAIEngineOptions.vendorParams). */
    vendorParams: z.boolean(),
    unreportedStop: z.enum(['eos', 'stripped']),
  }),
  /** More fields for every completion request (e.g. vLLM's `top_k`, `min_p`). */
  extraBody: z.record(z.string(), z.json()),
  /** Max prompt + completion tokens the checkpoint was trained for; null: the engine's. */
  contextLength: z.number().int().min(2).nullable(),
  /** Response budget, every thread counted; null: the context length. */
  maxTokens: z.number().int().min(1).nullable(),
  sampling: z.strictObject({
    solve: sampling,
    /** `singleSample`: the sampling of a run with one sample per problem (k = 1), when it differs. */
    eval: sampling.extend({ singleSample: sampling.optional() }),
    rollout: sampling,
    sft: sampling,
  }),
});

/** A checkpoint's settings as a preset file holds them (checked by presetSchema). */
export type Preset = z.infer<typeof presetSchema>;

/** What becomes of a chat client's system messages (see the preset's `system`). */
export type ClientSystemPolicy = { client: 'keep' } | { client: 'drop' } | { client: 'replace'; text: string };

/** A preset's policy for client system messages, defaulted by its prompt style. */
export function presetClientSystem(preset: Preset): ClientSystemPolicy {
  const s = preset.system;
  if (!s) return { client: preset.prompt.style === 'instructed' ? 'keep' : 'drop' };
  return s.client === 'replace' ? { client: 'replace', text: s.text! } : { client: s.client };
}

export interface Sampling {
  temperature: number;
  topP: number;
}

/** The preset used when none is named: today's defaults on the bundled model. */
export const DEFAULT_PRESET = 'tiny';

export function presetsDir(): string {
  return path.join(packageRoot(), 'presets');
}

/** The format a preset pins, as spec text (`threadweaver` when it names none). */
export function presetFormatSpec(preset: Preset): string {
  const f = preset.format;
  return f === undefined
    ? DEFAULT_FORMAT
    : typeof f === 'string'
      ? formatSpecText(parseFormatSpec(f))
      : formatSpecText(checkFormatSpec(f));
}

/**
 * The shipped preset files: ThreadWeaver-format checkpoints in `presets/`, the other formats'
 * in `presets/<format>/` (default first, then by name within each).
 */
function presetFiles(which: 'threadweaver' | 'all'): string[] {
  const dir = presetsDir();
  const top = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort(
      (a, b) => Number(b === `${DEFAULT_PRESET}.json`) - Number(a === `${DEFAULT_PRESET}.json`) || a.localeCompare(b),
    )
    .map((f) => path.join(dir, f));
  if (which === 'threadweaver') return top;
  const nested = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .flatMap((sub) =>
      readdirSync(path.join(dir, sub))
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => path.join(dir, sub, f)),
    );
  return [...top, ...nested];
}

/** Validate a parsed preset; errors name the file and every bad field. */
export function parsePreset(json: unknown, file: string): Preset {
  const parsed = presetSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PresetError(`preset ${file}: ${issues}`);
  }
  return parsed.data;
}

function readPresetFile(file: string): Preset {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PresetError(`preset ${file}: ${code === 'ENOENT' ? 'file not found' : 'not valid JSON'}`, { cause: err });
  }
  return parsePreset(json, file);
}

/** The shipped presets of ThreadWeaver-format checkpoints (the default first, then by name); `all`: every format's. */
export function builtinPresets(which: 'threadweaver' | 'all' = 'threadweaver'): Preset[] {
  return presetFiles(which).map(readPresetFile);
}

/**
 * A shipped preset by name, or a preset file (a path, or anything ending in `.json`). An unknown
 * name lists the known ones.
 */
export function loadPreset(nameOrFile: string = DEFAULT_PRESET): Preset {
  if (isPresetFile(nameOrFile)) return readPresetFile(path.resolve(nameOrFile));
  const file = presetFiles('all').find((f) => path.basename(f) === `${nameOrFile}.json`);
  if (!file || !existsSync(file)) {
    throw new PresetError(
      `preset '${nameOrFile}' not found; the shipped presets are ${builtinPresets('all')
        .map((p) => p.name)
        .join(', ')} (or pass a preset .json file)`,
    );
  }
  return readPresetFile(file);
}

/** The preset's sampling for a use (an evaluation with one sample per problem may differ). */
export function presetSampling(preset: Preset, use: PresetUse, samplesPerProblem = 1): Sampling {
  if (use === 'eval') {
    const { singleSample, ...sampled } = preset.sampling.eval;
    return samplesPerProblem === 1 && singleSample ? singleSample : sampled;
  }
  return preset.sampling[use];
}

/** The prompt format a preset pins (a shallow copy of its `prompt`). */
export function presetPromptFormat(preset: Preset): PromptFormat {
  return { ...preset.prompt };
}

/**
 * The tokenizer a preset's prompts and ids are made with: `spec` (a folder or hub id; default
 * the preset's) with the preset's added tokens. Null when the preset names none and `spec` is
 * not given (the engine's own tokenizer is used).
 */
export async function presetTokenizer(preset: Preset, spec?: string): Promise<HFTokenizer | null> {
  const source = spec ?? preset.tokenizer.id;
  if (source === null) return null;
  let tokenizer: HFTokenizer;
  try {
    tokenizer = await loadTokenizer(resolveModelSource(source));
  } catch (err) {
    if (spec !== undefined) throw err;
    const why =
      (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    throw new PresetError(
      `preset ${preset.name}: could not load its tokenizer '${source}' (${why}); offline, pass --tokenizer DIR, ` +
        `a folder with tokenizer.json and tokenizer_config.json (the checkpoint's own)`,
      { cause: err },
    );
  }
  return tokenizer.withAddedTokens(preset.tokenizer.addedTokens);
}

/** The OpenAI-compatible engine options a preset sets (explicit options are spread over them). */
export async function presetEngineOptions(preset: Preset, tokenizer?: string): Promise<Partial<OpenAIEngineOptions>> {
  const tok = await presetTokenizer(preset, tokenizer);
  return {
    ...(tok ? { tokenizer: tok } : {}),
    ...(preset.chatTemplate === 'none' ? { chatTemplate: 'none' as const } : {}),
    ...(preset.contextLength !== null ? { maxContextLength: preset.contextLength } : {}),
    ...(Object.keys(preset.extraBody).length ? { extraBody: { ...preset.extraBody } } : {}),
    vendorParams: preset.stop.vendorParams,
    unreportedStop: preset.stop.unreportedStop,
  };
}

/** Explicit settings that replace a preset's (from flags or options); undefined: the preset's. */
export interface PresetOverrides {
  /** The trajectory format (spec text, e.g. `parallel-r1:paths=4`, or the spec it parses to). */
  format?: string | FormatSpec | undefined;
  tokenizer?: string | undefined;
  chatTemplate?: 'model' | 'none' | undefined;
  promptStyle?: PromptFormat['style'] | undefined;
  contextLength?: number | undefined;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  topP?: number | undefined;
}

/** The settings a run used: the preset's, with the overrides applied. */
export interface PresetSettings {
  /** The trajectory format, as spec text (see parseFormatSpec). */
  format: string;
  engine: Preset['engine'];
  tokenizer: string | null;
  addedTokens: string[];
  chatTemplate: Preset['chatTemplate'];
  prompt: PromptFormat;
  stop: Preset['stop'];
  extraBody: Preset['extraBody'];
  contextLength: number | null;
  maxTokens: number | null;
  temperature: number;
  topP: number;
}

/** A preset as one run resolved it, for the run's records (an eval's summary, provenance). */
export interface ResolvedPreset {
  name: string;
  /** The preset file, when it is not a shipped preset. */
  file?: string;
  use: PresetUse;
  /** Which settings an override replaced (keys of PresetOverrides). */
  overridden: (keyof PresetOverrides)[];
  settings: PresetSettings;
}

/** True when `--preset` names a file rather than a shipped preset. */
export function isPresetFile(nameOrFile: string): boolean {
  return nameOrFile.endsWith('.json') || nameOrFile.includes('/') || nameOrFile.includes(path.sep);
}

/** Apply `overrides` to `preset` for `use` (an evaluation passes its samples per problem). */
export function resolvePreset(
  preset: Preset,
  use: PresetUse,
  overrides: PresetOverrides = {},
  options: { file?: string | undefined; samplesPerProblem?: number | undefined } = {},
): ResolvedPreset {
  const s = presetSampling(preset, use, options.samplesPerProblem);
  const overridden = (Object.keys(overrides) as (keyof PresetOverrides)[]).filter((k) => overrides[k] !== undefined);
  return {
    name: preset.name,
    ...(options.file ? { file: options.file } : {}),
    use,
    overridden,
    settings: {
      format:
        overrides.format === undefined
          ? presetFormatSpec(preset)
          : formatSpecText(typeof overrides.format === 'string' ? parseFormatSpec(overrides.format) : overrides.format),
      engine: preset.engine,
      tokenizer: overrides.tokenizer ?? preset.tokenizer.id,
      addedTokens: [...preset.tokenizer.addedTokens],
      chatTemplate: overrides.chatTemplate ?? preset.chatTemplate,
      prompt: withStyle(presetPromptFormat(preset), overrides.promptStyle),
      stop: { ...preset.stop },
      extraBody: { ...preset.extraBody },
      contextLength: overrides.contextLength ?? preset.contextLength,
      maxTokens: overrides.maxTokens ?? preset.maxTokens,
      temperature: overrides.temperature ?? s.temperature,
      topP: overrides.topP ?? s.topP,
    },
  };
}
