/**
 * The llama-cpp engine on the tiny model, for any test (an engine list of a contract suite too):
 * the model's Hugging Face folder (the bundled one ships ONNX only, so ../shared's) converted to
 * GGUF once per process in a temp dir. Skips, with a message, when ../shared is absent (CI fails
 * instead) or when node-llama-cpp has no native build that loads on this machine.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import type { LlamaContextSequence } from 'node-llama-cpp';
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

/** A token a greedy call wrote that was not (nearly) llama.cpp's most likely next token. */
export interface GreedyMiss {
  /** Index in the completion. */
  at: number;
  token: number;
  probability: number;
  best: number;
  bestProbability: number;
}

/**
 * How far a token may fall below the most likely one and still count as greedy. llama.cpp's CPU
 * kernels round differently with how tokens are batched (the row's place in the batch, how many
 * rows, a prompt evaluated whole or in parts): probabilities move by about 1e-4 of their value,
 * which flips only near-ties. A wrong row, cell or feed gives tokens far below this.
 */
export const GREEDY_MARGIN = 0.02;

// One sequence per file, its calls one at a time (a chain of promises).
const references = new Map<string, Promise<LlamaContextSequence>>();
let referenceQueue: Promise<unknown> = Promise.resolve();

/**
 * llama.cpp's next-token probabilities after each of `ids[from]` … `ids[to - 1]`, from one
 * teacher-forced pass of `file` over `ids` (a context of 1024 tokens, kept per file).
 */
export async function nextTokenProbabilities(
  file: string,
  ids: readonly number[],
  from: number,
  to = ids.length,
): Promise<Map<number, number>[]> {
  let reference = references.get(file);
  if (!reference) {
    reference = (async () => {
      const llama = await llamaRuntime(false);
      const model = await llama.loadModel({ modelPath: file });
      const context = await model.createContext({ contextSize: 1024, threads: 1 });
      return context.getSequence();
    })();
    references.set(file, reference);
  }
  const seq = await reference;
  const run = referenceQueue.then(async () => {
    await seq.clearHistory();
    const out = await seq.controlledEvaluate(
      ids.map((t, i) => (i >= from && i < to ? [t, { generateNext: { probabilities: true } }] : t)) as never,
    );
    return Array.from({ length: to - from }, (_, k) => {
      const probabilities = out[from + k]?.next.probabilities;
      if (!probabilities) throw new Error(`no distribution after token ${from + k}`);
      return probabilities;
    });
  });
  referenceQueue = run.catch(() => undefined);
  return run;
}

/** The most likely token of a distribution and its probability. */
export function mostLikely(probabilities: ReadonlyMap<number, number>): { token: number; probability: number } {
  let best = { token: -1, probability: -1 };
  for (const [token, probability] of probabilities) if (probability > best.probability) best = { token, probability };
  return best;
}

/**
 * The tokens of a greedy completion that llama.cpp, evaluating `context` + `completion` in one
 * teacher-forced pass of `file`, does not rank (within GREEDY_MARGIN) first. Empty when the
 * completion is greedy up to rounding: the property batched decoding keeps on any CPU, where
 * equality with another batching holds only until the first near-tie.
 */
export async function greedyMisses(
  file: string,
  context: readonly number[],
  completion: readonly number[],
): Promise<GreedyMiss[]> {
  if (completion.length === 0) return [];
  const ids = [...context, ...completion];
  const distributions = await nextTokenProbabilities(file, ids, context.length - 1, ids.length - 1);
  return completion.flatMap((token, k) => {
    const best = mostLikely(distributions[k]!);
    const probability = distributions[k]!.get(token) ?? 0;
    return probability < (1 - GREEDY_MARGIN) * best.probability
      ? [{ at: k, token, probability, best: best.token, bestProbability: best.probability }]
      : [];
  });
}
