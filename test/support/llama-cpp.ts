/**
 * The llama-cpp engine on the tiny model, for any test (an engine list of a contract suite too):
 * the model's Hugging Face folder (the bundled one ships ONNX only, so ../shared's) converted to
 * GGUF once per process in a temp dir. Skips, with a message, when ../shared is absent (CI fails
 * instead) or when node-llama-cpp has no native build that loads on this machine.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { convertToGguf, type GgufConvertOptions, type GgufWeightType } from '../../src/engine/llama-cpp/convert.js';
import { LlamaCppEngine, type LlamaCppEngineOptions } from '../../src/engine/llama-cpp/engine.js';
import { llamaRuntime } from '../../src/engine/llama-cpp/native.js';
import { hasSharedFile, repoRoot, sharedDir } from './helpers.js';

/** The tiny model's Hugging Face folder: the bundled one when it has the weights, else ../shared's. */
export function tinyHfDir(): string {
  const bundled = path.join(repoRoot, 'models/tiny-threadweaver');
  return existsSync(path.join(bundled, 'model.safetensors'))
    ? bundled
    : path.join(sharedDir, 'models/tiny-threadweaver');
}

/** Whether the tiny model can be converted here (the skip message is printed when not). */
export function canConvertTiny(what: string): boolean {
  const dir = tinyHfDir();
  return dir.startsWith(repoRoot) || hasSharedFile('models/tiny-threadweaver/model.safetensors', what);
}

let runtimeProblem: Promise<string | undefined> | undefined;

/** Why llama.cpp cannot run here, or undefined when it can (checked once per process). */
export function llamaCppProblem(): Promise<string | undefined> {
  runtimeProblem ??= llamaRuntime(false).then(
    () => undefined,
    (err: unknown) => (err as Error).message,
  );
  return runtimeProblem;
}

/** Whether tests that run llama.cpp on the tiny model can run here; prints why not. */
export async function canRunTinyGguf(what: string): Promise<boolean> {
  if (!canConvertTiny(what)) return false;
  const problem = await llamaCppProblem();
  if (problem) console.warn(`[tests] llama.cpp does not load here (${problem}): skipping ${what}`);
  return problem === undefined;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'threadweaver-gguf-test-'));
const files = new Map<string, Promise<string>>();

/** The tiny model as a GGUF file of `type` (converted once per process). */
export function tinyGguf(
  type: GgufWeightType = 'f32',
  extra: Pick<GgufConvertOptions, 'skipRopePermutation'> = {},
): Promise<string> {
  const key = `${type}${extra.skipRopePermutation ? '-unpermuted' : ''}`;
  let file = files.get(key);
  if (!file) {
    const out = path.join(dir, `tiny-threadweaver-${key}.gguf`);
    file = convertToGguf({ model: tinyHfDir(), out, type, ...extra }).then((r) => r.out);
    files.set(key, file);
  }
  return file;
}

/**
 * The llama-cpp engine on the tiny model converted to GGUF: CPU, one thread (the model is too
 * small to split), F32 weights unless `type` says otherwise. Call `canRunTinyGguf` first.
 */
export async function tinyLlamaCppEngine(
  options: Partial<LlamaCppEngineOptions> & { type?: GgufWeightType } = {},
): Promise<LlamaCppEngine> {
  const { type, ...rest } = options;
  return LlamaCppEngine.load({ model: await tinyGguf(type), gpu: false, threads: 1, ...rest });
}
