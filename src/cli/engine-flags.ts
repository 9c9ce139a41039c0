import { z } from 'zod';
import type { Engine } from '../engine/types.js';
import { embeddedEngine } from '../solve.js';
import { intFlag, numberFlag } from './args.js';

/** Flags shared by every command that runs a model. */
export const engineFlagOptions = {
  model: { type: 'string' },
  dtype: { type: 'string' },
  threads: { type: 'string' },
} as const;

export const engineFlagSchema = z.object({
  model: z.string().min(1).optional(),
  dtype: z.enum(['q8', 'fp32']).optional(),
  threads: intFlag().min(1).optional(),
});

export type EngineFlags = z.infer<typeof engineFlagSchema>;

export const engineFlagUsage = `Engine options:
  --model DIR|ID        model folder or Hugging Face id (default: the bundled tiny-threadweaver)
  --dtype q8|fp32       ONNX weights to load (default q8)
  --threads N           onnxruntime threads (default: all cores)`;

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
  --max-tokens N        response budget, every thread counted (default: the context length)
  --temperature T       0 = greedy (default 0)
  --top-p P             nucleus sampling mass (default 1)
  --seed N              base seed; each call and thread derives its own`;

export async function engineFromFlags(flags: EngineFlags): Promise<Engine> {
  return embeddedEngine({
    ...(flags.model ? { model: flags.model } : {}),
    ...(flags.dtype ? { dtype: flags.dtype } : {}),
    ...(flags.threads ? { threads: flags.threads } : {}),
  });
}
