/** What the benchmarks share: robust summaries, and timing two engines against each other in one process. */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Engine } from '../src/engine/types.js';
import { machineInfo } from './machine.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';

/** The repository's root, from a bench file run as TypeScript source or built into dist/bench. */
export const benchRoot = path.resolve(
  import.meta.dirname,
  '..',
  existsSync(path.resolve(import.meta.dirname, '..', 'package.json')) ? '' : '..',
);

export type Which = 'before' | 'after';
export const WHICH = ['before', 'after'] as const;

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** An engine whose cached prefixes a benchmark can drop between rounds. */
export type ClearableEngine = Engine & { clearCache(): void | Promise<void> };

/**
 * Tokens per second of one plain completion (400 tokens of a parallel trajectory) on each engine,
 * alternating which goes first each round; medians and their ratio (after ÷ before).
 */
export async function singleStreamSideBySide(engines: Record<Which, ClearableEngine>, rounds: number) {
  const tps: Record<Which, number[]> = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const w of r % 2 ? WHICH : ([...WHICH].reverse() as Which[])) {
      const e = engines[w];
      await e.clearCache();
      const prompt = buildPrompt(e.tokenizer, 'Compute 76*84 + 24*30 + 87*81 + 82*55.', 'parallel');
      const t0 = performance.now();
      const out = await e.complete({ prompt, maxTokens: 400 });
      tps[w].push(out.ids.length / ((performance.now() - t0) / 1000));
    }
  }
  return {
    tokensPerSecond: { before: round3(median(tps.before)), after: round3(median(tps.after)) },
    ratio: round3(median(tps.after) / median(tps.before)),
    rounds,
  };
}

/** Two id sequences equal token for token. */
export const sameIds = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, j) => x === b[j]);

/** The machine a side-by-side run measured on (bench/machine.ts), with the load average before it and now. */
export const machineDuring = (loadAverageBefore: readonly number[]) => ({
  ...machineInfo(),
  loadAverageBefore: loadAverageBefore.map(round3),
  loadAverageAfter: os.loadavg().map(round3),
});
