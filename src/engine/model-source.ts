import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** A model folder's files besides its ONNX graphs: what a copy of the folder needs to load. */
export const MODEL_FOLDER_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;
import { packageRoot } from '../internal/package-root.js';
import { EngineError } from './errors.js';

export { packageRoot };

/** The bundled tiny-threadweaver model folder. */
export function bundledModelDir(): string {
  return path.join(packageRoot(), 'models', 'tiny-threadweaver');
}

export type ModelSource = { kind: 'local'; dir: string; parent: string; name: string } | { kind: 'hub'; id: string };

/**
 * Resolve `--model`: undefined → the bundled model; an existing folder → local; an `owner/name`
 * that is not a folder → a Hugging Face id. A path-like value that does not exist is an error.
 */
export function resolveModelSource(model?: string): ModelSource {
  const value = model ?? bundledModelDir();
  const abs = path.resolve(value);
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory())
      throw new EngineError(`model: ${value} is a file; pass the folder that holds config.json`, 'model');
    if (!existsSync(path.join(abs, 'config.json')) && !existsSync(path.join(abs, 'tokenizer.json'))) {
      throw new EngineError(`model: ${abs} has neither config.json nor tokenizer.json; is it a model folder?`, 'model');
    }
    return { kind: 'local', dir: abs, parent: path.dirname(abs), name: path.basename(abs) };
  }
  const looksLikeHubId = /^[\w.-]+\/[\w.-]+$/.test(value) && !value.startsWith('.');
  if (!looksLikeHubId) throw new EngineError(`model: folder not found: ${abs}`, 'model');
  return { kind: 'hub', id: value };
}

export type Dtype = 'q8' | 'fp32';

/** The ONNX graph files of a local folder for a dtype: `*_quantized.onnx` for q8, the others for fp32. */
export function graphFiles(dir: string, dtype: Dtype): string[] {
  const onnx = path.join(dir, 'onnx');
  if (!existsSync(onnx)) return [];
  return readdirSync(onnx)
    .filter((f) => f.endsWith('.onnx') && f.endsWith('_quantized.onnx') === (dtype === 'q8'))
    .sort();
}

/** True when the bundled model folder holds an fp32 graph (only the q8 one is vendored). */
export function bundledHasFp32(): boolean {
  return graphFiles(bundledModelDir(), 'fp32').length > 0;
}

/**
 * Why a local folder cannot be loaded with `dtype`, in words that say what to do; undefined when
 * it can (or for a hub id, which the hub decides).
 */
export function missingGraph(source: ModelSource, dtype: Dtype): string | undefined {
  if (source.kind !== 'local' || graphFiles(source.dir, dtype).length > 0) return undefined;
  const other: Dtype = dtype === 'q8' ? 'fp32' : 'q8';
  const has = graphFiles(source.dir, other).map((f) => `onnx/${f}`);
  const file = dtype === 'q8' ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx';
  if (dtype === 'fp32' && source.dir === bundledModelDir()) {
    return (
      `the bundled model ships only q8 graphs (${has.join(', ')}), no fp32 one. To run fp32 weights, ` +
      `point the model (--model DIR) at a folder with config.json, tokenizer.json and ${file} ` +
      `(the model's full-precision ONNX export), or keep dtype q8.`
    );
  }
  return `${source.dir} has no ${dtype} graph (${file})${has.length ? `; it has ${has.join(', ')}: use dtype ${other}` : ''}.`;
}

/** A clear message for a hub model that could not be fetched (offline, or not found). */
export function hubLoadError(id: string, cause: unknown): EngineError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new EngineError(
    `model: could not load '${id}' from the Hugging Face hub (${why}). ` +
      `Offline? Download the model once, or point --model at a local folder with config.json, ` +
      `tokenizer.json and onnx/model_quantized.onnx (the bundled model lives in ${bundledModelDir()}).`,
    'model',
    { cause },
  );
}
