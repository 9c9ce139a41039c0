import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer, env } from '@huggingface/transformers';
import type { TokenEncoder } from '../src/trie/sft.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const sharedRoot = path.resolve(repoRoot, '../shared');
export const hasShared = existsSync(sharedRoot);
export const vendoredVectors = path.join(repoRoot, 'models/tiny-threadweaver/trie-vectors.jsonl');
export const sharedVectors = path.join(sharedRoot, 'models/tiny-threadweaver/trie-vectors.jsonl');

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

export function readVectors(file: string): TrieVector[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TrieVector);
}

/** The bundled character-level tokenizer, loaded offline. */
export async function bundledEncoder(): Promise<TokenEncoder> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.join(repoRoot, 'models') + '/';
  const tok = await AutoTokenizer.from_pretrained('tiny-threadweaver');
  return { encode: (text) => tok.encode(text, { add_special_tokens: false }) };
}
