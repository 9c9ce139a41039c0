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

/**
 * A sampling temperature at which every token of the bundled model is about as likely as any
 * other: its logits span about 25, so at 100 the likeliest of its 110 tokens has a probability
 * near 0.011 against 0.009 for all alike. Two seeds then write the same 32 tokens with a chance
 * of about 0.01^32, and a rounding difference between CPUs moves the probabilities by far less
 * than that changes a sampled token. At the temperatures the model is used at (1–2), whether two
 * seeds' texts differ depends on the model and on the CPU's arithmetic, which a test may not pin.
 */
export const FLAT_TEMPERATURE = 100;
