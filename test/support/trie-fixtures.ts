import path from 'node:path';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { resolveModelSource } from '../../src/engine/model-source.js';
import type { TokenEncoder } from '../../src/trie/sft.js';
import { readJsonl, sharedDir, vendoredTrieVectors } from './helpers.js';

export { vendoredTrieVectors };
export const sharedTrieVectors = path.join(sharedDir, 'models/tiny-threadweaver/trie-vectors.jsonl');

export interface TrieVector {
  prompt: string;
  completion: string;
  prompt_tokens: number;
  ids: number[];
  parent: number[];
  position: number[];
  branch: number[];
  loss: (0 | 1)[];
}

export const readVectors = (file: string) => readJsonl<TrieVector>(file);

/** The bundled character-level tokenizer, loaded offline. */
export async function bundledEncoder(): Promise<TokenEncoder> {
  return loadTokenizer(resolveModelSource());
}
