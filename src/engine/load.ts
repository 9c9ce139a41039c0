import path from 'node:path';
import { TransformersEngine, type TransformersEngineOptions } from './embedded/transformers.js';
import { LlamaCppEngine, type LlamaCppEngineOptions } from './llama-cpp/engine.js';

const engines = new Map<string, Promise<TransformersEngine>>();

/**
 * The embedded engine for these options, loaded once per process and set of load options (a model
 * takes seconds to load; solve(), the CLI, rollouts and benches share it).
 */
export function embeddedEngine(options: TransformersEngineOptions = {}): Promise<TransformersEngine> {
  // Every option that changes the loaded engine is part of the key (a cached engine with the prefix
  // cache on must not answer a caller who turned it off).
  const key = JSON.stringify([
    options.model ?? null,
    options.dtype ?? 'q8',
    options.threads ?? null,
    options.prefixCache ?? true,
    options.graph ?? 'auto',
    options.cascade ?? true,
    options.cascadeMinPrefix ?? null,
  ]);
  return loadOnce(engines, key, () => TransformersEngine.load(options));
}

const ggufEngines = new Map<string, Promise<LlamaCppEngine>>();

/** The llama-cpp engine for these options, loaded once per process and set of options (as embeddedEngine). */
export function llamaCppEngine(options: LlamaCppEngineOptions): Promise<LlamaCppEngine> {
  const key = JSON.stringify({ ...options, model: path.resolve(options.model) }, Object.keys(options).sort());
  return loadOnce(ggufEngines, key, () => LlamaCppEngine.load(options));
}

/** The engine loaded under `key`, loading it on first use (a failed load is tried again next time). */
function loadOnce<E>(cache: Map<string, Promise<E>>, key: string, load: () => Promise<E>): Promise<E> {
  let engine = cache.get(key);
  if (!engine) {
    engine = load();
    cache.set(key, engine);
    engine.catch(() => cache.delete(key));
  }
  return engine;
}
