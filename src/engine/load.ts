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
  let engine = engines.get(key);
  if (!engine) {
    engine = TransformersEngine.load(options);
    engines.set(key, engine);
    engine.catch(() => engines.delete(key));
  }
  return engine;
}

const ggufEngines = new Map<string, Promise<LlamaCppEngine>>();

/** The llama-cpp engine for these options, loaded once per process and set of options (as embeddedEngine). */
export function llamaCppEngine(options: LlamaCppEngineOptions): Promise<LlamaCppEngine> {
  const key = JSON.stringify({ ...options, model: path.resolve(options.model) }, Object.keys(options).sort());
  let engine = ggufEngines.get(key);
  if (!engine) {
    engine = LlamaCppEngine.load(options);
    ggufEngines.set(key, engine);
    engine.catch(() => ggufEngines.delete(key));
  }
  return engine;
}
