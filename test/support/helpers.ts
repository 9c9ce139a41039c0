import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = path.resolve(repoRoot, '../shared');

/**
 * Whether `../shared/<file>` exists, for a test that needs it (`what`: the tests that would skip).
 * When it does not, the tests skip with a message naming the path checked; with
 * THREADWEAVER_REQUIRE_SHARED=1 (CI) its absence is an error, which fails the test file.
 */
export function hasSharedFile(file: string, what: string, root = sharedDir): boolean {
  const checked = path.join(root, file);
  if (existsSync(checked)) return true;
  // Set by .ci/run: CI always has ../shared, so a test that would skip for want of it fails instead.
  if (process.env.THREADWEAVER_REQUIRE_SHARED === '1')
    throw new Error(`${checked} is absent, and THREADWEAVER_REQUIRE_SHARED=1 turns the skip of ${what} into a failure`);
  console.warn(`[tests] ${checked} is absent: skipping ${what}`);
  return false;
}

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

export const vendoredTrieVectors = path.join(repoRoot, 'models/tiny-threadweaver/trie-vectors.jsonl');
