import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { sftLayout, type TokenEncoder } from '../../src/trie/sft.js';
import { hasSharedFile } from '../support/helpers.js';
import { bundledEncoder, readVectors, sharedTrieVectors, vendoredTrieVectors } from '../support/trie-fixtures.js';

let encoder: TokenEncoder;
beforeAll(async () => {
  encoder = await bundledEncoder();
});

const vectors = readVectors(vendoredTrieVectors);

describe('SFT trie layout reproduces the reference vectors', () => {
  it('trains no branch-start token, so a plain one-position shift is exact on this layout', () => {
    for (const v of vectors) {
      const layout = sftLayout(v, encoder);
      const starts = layout.parent.flatMap((p, i) => (p !== i - 1 ? [i] : []));
      expect(starts.length).toBe(new Set(layout.branch).size - 1);
      expect(starts.every((i) => layout.loss[i] === 0)).toBe(true);
    }
  });

  it('has the 12 vectors', () => {
    expect(vectors).toHaveLength(12);
  });

  it.each(vectors.map((v, i) => [i, v] as const))('vector %i', (_, v) => {
    const layout = sftLayout({ prompt: v.prompt, completion: v.completion }, encoder);
    expect(encoder.encode(v.prompt)).toHaveLength(v.prompt_tokens);
    expect(layout).toEqual({
      ids: v.ids,
      parent: v.parent,
      position: v.position,
      branch: v.branch,
      loss: v.loss,
    });
  });
});

const hasShared = hasSharedFile(
  'models/tiny-threadweaver/trie-vectors.jsonl',
  'the cross-check of the vendored trie vectors against the shared copy',
);
describe.skipIf(!hasShared)('vendored vectors match the shared copy', () => {
  it('is byte-identical', () => {
    expect(readFileSync(vendoredTrieVectors, 'utf8')).toBe(readFileSync(sharedTrieVectors, 'utf8'));
  });
});
