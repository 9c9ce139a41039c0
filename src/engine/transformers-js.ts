import type * as TransformersJsModule from '@huggingface/transformers';
import { EngineError } from './errors.js';

type TransformersJs = typeof TransformersJsModule;

let loading: Promise<TransformersJs> | undefined;
let loaded: TransformersJs | undefined;

/**
 * transformers.js, imported on first use: it takes a good part of a second to load, and code
 * that imports the package root for formats, types or a remote engine's helpers need not pay it.
 */
export function transformersJs(): Promise<TransformersJs> {
  return (loading ??= import('@huggingface/transformers').then((m) => (loaded = m)));
}

/** transformers.js after transformersJs() resolved (decoders are built only after a model loaded). */
export function loadedTransformersJs(): TransformersJs {
  if (!loaded) throw new EngineError('transformers.js is used before it was loaded', 'internal');
  return loaded;
}
