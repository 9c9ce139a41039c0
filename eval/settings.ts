/**
 * The settings a stored sample was made with (compared with src/setting-differences.ts when a run
 * resumes or two runs are compared).
 */
import { z } from 'zod';

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
}

export const sampleSettingsSchema = z.object({
  model: z.string().nullable(),
  modelSha256: z.string().nullable(),
  dtype: z.string().nullable(),
  engine: z.enum(['embedded', 'remote']).nullable(),
  promptStyle: z.string().nullable(),
  maxTokens: z.number().int().positive().nullable(),
});
