import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root.js';

export { packageRoot };

/** The bundled tiny-threadweaver model folder. */
export function bundledModelDir(): string {
  return path.join(packageRoot(), 'models', 'tiny-threadweaver');
}

export type ModelSource =
  | { kind: 'local'; dir: string; parent: string; name: string }
  | { kind: 'hub'; id: string };

/**
 * Resolve `--model`: undefined → the bundled model; an existing folder → local; an `owner/name`
 * that is not a folder → a Hugging Face id. A path-like value that does not exist is an error.
 */
export function resolveModelSource(model?: string): ModelSource {
  const value = model ?? bundledModelDir();
  const abs = path.resolve(value);
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory()) throw new Error(`model: ${value} is a file; pass the folder that holds config.json`);
    if (!existsSync(path.join(abs, 'config.json')) && !existsSync(path.join(abs, 'tokenizer.json'))) {
      throw new Error(`model: ${abs} has neither config.json nor tokenizer.json; is it a model folder?`);
    }
    return { kind: 'local', dir: abs, parent: path.dirname(abs), name: path.basename(abs) };
  }
  const looksLikeHubId = /^[\w.-]+\/[\w.-]+$/.test(value) && !value.startsWith('.');
  if (!looksLikeHubId) throw new Error(`model: folder not found: ${abs}`);
  return { kind: 'hub', id: value };
}

/** A clear message for a hub model that could not be fetched (offline, or not found). */
export function hubLoadError(id: string, cause: unknown): Error {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    `model: could not load '${id}' from the Hugging Face hub (${why}). ` +
      `Offline? Download the model once, or point --model at a local folder with config.json, ` +
      `tokenizer.json and onnx/model_quantized.onnx (the bundled model lives in ${bundledModelDir()}).`,
    { cause },
  );
}
