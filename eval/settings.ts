/**
 * The settings a stored sample was made with (compared with src/setting-differences.ts when a run
 * resumes or two runs are compared).
 */
import { z } from 'zod';
import type { PromptFormat } from '../src/orchestrator/prompt.js';

/**
 * What a sample's text depends on besides its seed, sampling (temperature, top-p), preset and
 * extraction policy, which rows already carry as fields of their own. Every eval row records it as
 * `settings`.
 */
export interface SampleSettings {
  /** Model folder, Hugging Face id, or the served model's name (null: the caller did not say). */
  model: string | null;
  /** sha256 of the ONNX graph the embedded engine loaded (null for remote engines). */
  modelSha256: string | null;
  /** ONNX weights of the embedded engine (null for remote engines). */
  dtype: string | null;
  /** The embedded engine, or OpenAI-compatible servers (their addresses are not a setting). */
  engine: 'embedded' | 'remote' | null;
  promptStyle: string | null;
  /** The response budget, or null for the engine's context length. */
  maxTokens: number | null;
  /**
   * The rest of the prompt format (a preset's suffix, sequential system prompt, template
   * variables; null: the caller did not say). With the two below, an edited preset file that
   * keeps its name cannot resume into rows made another way. Rows written before these were
   * recorded are compared on the rest.
   */
  prompt?: Omit<PromptFormat, 'style'> | null;
  /** The engine's context length (null: not known). */
  contextLength?: number | null;
  /** sha256 of the tokenizer's content (tokenizerSha256; null: not known). */
  tokenizer?: string | null;
  /** The trajectory format, as spec text (`threadweaver`, `parallel-r1:paths=2`; null: the caller did not say). */
  format?: string | null;
}

/** Settings added after the first rows were written: a stored row without one is not compared on it. */
export const LATER_SETTINGS = ['prompt', 'contextLength', 'tokenizer', 'format'] as const;

export const sampleSettingsSchema = z.object({
  model: z.string().nullable(),
  modelSha256: z.string().nullable(),
  dtype: z.string().nullable(),
  engine: z.enum(['embedded', 'remote']).nullable(),
  promptStyle: z.string().nullable(),
  maxTokens: z.number().int().positive().nullable(),
  // Absent in rows written before the setting was recorded; JSON never holds an undefined.
  prompt: z
    .object({
      suffix: z.string(),
      sequentialSystem: z.boolean(),
      chatTemplateKwargs: z.record(z.string(), z.unknown()),
    })
    .nullable()
    .exactOptional(),
  contextLength: z.number().int().positive().nullable().exactOptional(),
  tokenizer: z.string().nullable().exactOptional(),
  format: z.string().nullable().exactOptional(),
});
