/**
 * Where a run's numbers came from, as far as the engine can say: which model (and the sha256 of
 * the ONNX file actually loaded), which weights, which servers.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { OpenAIEngine } from './remote/openai.js';
import { RoutedEngine } from './remote/router.js';
import { TransformersEngine } from './embedded/transformers.js';
import { LlamaCppEngine } from './llama-cpp/engine.js';
import { HFTokenizer } from './tokenizer.js';
import type { Engine, Tokenizer } from './types.js';

export interface EngineProvenance {
  /** The model folder (absolute), Hugging Face id, or the served model's name. */
  model: string;
  /** The ONNX graph (or GGUF) file an in-process engine runs (null for remote engines). */
  modelFile: string | null;
  /** sha256 of that file (null for remote engines, or when the file is not on disk). */
  modelSha256: string | null;
  dtype: 'q8' | 'fp32' | null;
  engine: 'embedded' | { baseUrls: string[]; servedModel: string };
  /** Max prompt + completion tokens the engine allows (the run's context limit). */
  contextLength?: number;
  /** sha256 of the tokenizer's content (vocabulary, merges, added tokens, chat template); null when unknown. */
  tokenizerSha256?: string | null;
}

// Hashes of files already read in this process, keyed by path, size and modification time.
const hashes = new Map<string, Promise<string>>();

/** sha256 (hex) of a file, computed once per process for each version of the file. */
export async function fileSha256(file: string): Promise<string> {
  const s = await stat(file);
  const key = `${file}\0${s.size}\0${s.mtimeMs}`;
  let hash = hashes.get(key);
  if (!hash) {
    hash = new Promise<string>((resolve, reject) => {
      const h = createHash('sha256');
      createReadStream(file)
        .on('data', (chunk) => h.update(chunk))
        .on('error', reject)
        .on('end', () => resolve(h.digest('hex')));
    });
    hashes.set(key, hash);
    hash.catch(() => hashes.delete(key));
  }
  return hash;
}

const tokenizerHashes = new WeakMap<Tokenizer, string>();

/**
 * sha256 of what a tokenizer turns text into and back: its tokenizer.json content (vocabulary,
 * merges, added tokens) and its config (chat template, special tokens). Two tokenizers with the
 * same hash make the same prompts and ids. Null for tokenizers that are not Hugging Face ones.
 */
export function tokenizerSha256(tokenizer: Tokenizer): string | null {
  if (!(tokenizer instanceof HFTokenizer)) return null;
  let hash = tokenizerHashes.get(tokenizer);
  if (hash === undefined) {
    hash = createHash('sha256')
      .update(JSON.stringify(tokenizer.inner._tokenizerJSON))
      .update('\0')
      .update(JSON.stringify(tokenizer.inner._tokenizerConfig))
      .digest('hex');
    tokenizerHashes.set(tokenizer, hash);
  }
  return hash;
}

/** The provenance of an engine; undefined for engines of other kinds (e.g. a caller's own). */
export async function describeEngine(engine: Engine): Promise<EngineProvenance | undefined> {
  const common = { contextLength: engine.contextLength, tokenizerSha256: tokenizerSha256(engine.tokenizer) };
  if (engine instanceof TransformersEngine) {
    const { model, dtype, graphPath } = engine.loaded;
    const sha = await fileSha256(graphPath).catch(() => null);
    return { model, modelFile: graphPath, modelSha256: sha, dtype, engine: 'embedded', ...common };
  }
  // In-process too: the GGUF file and its hash tell its runs from the ONNX engine's.
  if (engine instanceof LlamaCppEngine) {
    const { file } = engine.loaded;
    const sha = await fileSha256(file).catch(() => null);
    return { model: file, modelFile: file, modelSha256: sha, dtype: null, engine: 'embedded', ...common };
  }
  if (engine instanceof OpenAIEngine) {
    return {
      model: engine.model,
      modelFile: null,
      modelSha256: null,
      dtype: null,
      engine: { baseUrls: [engine.baseUrl], servedModel: engine.model },
      ...common,
    };
  }
  if (engine instanceof RoutedEngine) {
    const baseUrls = engine.serverCounters().map((c) => c.baseUrl);
    return {
      model: engine.model,
      modelFile: null,
      modelSha256: null,
      dtype: null,
      engine: { baseUrls, servedModel: engine.model },
      ...common,
    };
  }
  return undefined;
}
