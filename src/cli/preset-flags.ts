import { z } from 'zod';
import type { Engine } from '../engine/types.js';
import {
  DEFAULT_PRESET,
  isPresetFile,
  loadPreset,
  presetEngineOptions,
  resolvePreset,
  type Preset,
  type PresetUse,
  type ResolvedPreset,
} from '../solve/preset.js';
import { parseFormatSpec, resolveDialect, type FormatSpec } from '../format/dialects.js';
import type { Dialect } from '../format/dialect.js';
import { UsageError } from './command.js';
import { engineFromFlags, type EngineFlags } from './engine-flags.js';

/** `--preset NAME|FILE` and `--format NAME`, for every command that runs a model. */
export const presetFlagOptions = { preset: { type: 'string' }, format: { type: 'string' } } as const;
export const presetFlagSchema = z.object({
  preset: z.string().min(1).optional(),
  format: z.string().min(1).optional(),
});
export const presetFlagUsage = `Preset:
  --preset NAME|FILE    the settings a checkpoint was trained with: tiny (default), threadweaver-qwen3-8b,
                        qwen3-instructed, or a preset .json file (\`threadweaver presets\` lists them);
                        explicit flags override its values
  --format NAME         the trajectory format the model writes (default: the preset's, threadweaver):
                        threadweaver, multiverse, parallel-r1, npr, with settings as NAME:key=value,...
                        (parallel-r1:paths=4, multiverse:depth=3, threads=N, blocks=N, thread-tokens=N)`;

/** The flags a preset can be overridden by. */
export interface PresetRunFlags extends EngineFlags {
  preset?: string | undefined;
  format?: string | undefined;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  topP?: number | undefined;
}

/** A command's preset, resolved against its flags. */
export interface PresetRun {
  preset: Preset;
  resolved: ResolvedPreset;
  /** The trajectory format, parsed once from `--format` or the preset: what solve runs. */
  dialect: Dialect;
}

/** Load `--preset` (default tiny) and apply the explicit flags over it. */
export function presetRun(
  flags: PresetRunFlags,
  use: PresetUse,
  options: { samplesPerProblem?: number | undefined } = {},
): PresetRun {
  const name = flags.preset ?? DEFAULT_PRESET;
  let preset: Preset;
  try {
    preset = loadPreset(name);
  } catch (err) {
    throw new UsageError(`--preset: ${(err as Error).message}`);
  }
  let format: FormatSpec | undefined;
  if (flags.format !== undefined) {
    try {
      format = parseFormatSpec(flags.format);
    } catch (err) {
      throw new UsageError(`--format: ${(err as Error).message}`);
    }
  }
  const resolved = resolvePreset(
    preset,
    use,
    {
      format,
      tokenizer: flags.tokenizer,
      chatTemplate: flags.chatTemplate,
      promptStyle: flags.promptStyle,
      contextLength: flags.contextLength,
      maxTokens: flags.maxTokens,
      temperature: flags.temperature,
      topP: flags.topP,
    },
    { file: isPresetFile(name) ? name : undefined, samplesPerProblem: options.samplesPerProblem },
  );
  return { preset, resolved, dialect: resolveDialect(format ?? resolved.settings.format) };
}

/**
 * The engine of a preset run: the flags' engine, with the preset's model (embedded) or its
 * tokenizer, added tokens, context length, stop handling and request fields (servers) where the
 * flags leave them unset. A preset for a served checkpoint needs `--base-url` (or `--model`).
 */
export async function engineFromPreset(flags: EngineFlags, run: PresetRun): Promise<Engine> {
  const { preset } = run;
  const remote = (flags.baseUrl?.length ?? 0) > 0;
  if (!remote) {
    if (preset.engine === 'server' && !flags.model) {
      throw new UsageError(
        `preset ${preset.name} is a model served by vLLM or SGLang: pass --base-url URL (see docs/remote-engines.md)`,
      );
    }
    return engineFromFlags({ ...flags, ...(flags.model === undefined && preset.model ? { model: preset.model } : {}) });
  }
  const defaults = await presetEngineOptions(preset, flags.tokenizer);
  // The preset's tokenizer is loaded from --tokenizer when given (with the added tokens).
  const { tokenizer: _, ...rest } = flags;
  return engineFromFlags(defaults.tokenizer ? rest : flags, defaults);
}

/** The solve options a preset run sets: trajectory format, prompt format, sampling and response budget. */
export function presetSolveOptions(run: PresetRun): {
  format: Dialect;
  prompt: ResolvedPreset['settings']['prompt'];
  temperature: number;
  topP: number;
  maxTokens: number | undefined;
} {
  const s = run.resolved.settings;
  return {
    format: run.dialect,
    prompt: s.prompt,
    temperature: s.temperature,
    topP: s.topP,
    maxTokens: s.maxTokens ?? undefined,
  };
}
