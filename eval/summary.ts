/**
 * `summary.json`: a run's settings and per-dataset metrics. Written by the runner, read back
 * (zod-validated) by compare.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { summarizeDataset, type DatasetSummary, type SampleRow, type SummaryOptions } from './metrics.js';
import { provenanceSchema, type Provenance } from './provenance.js';
import { CONFIDENCE, DEFAULT_RESAMPLES } from './uncertainty.js';
import { extractPolicySchema, type Mode } from './results.js';
import type { ExtractPolicy } from '../src/math/extract.js';
import type { ResolvedPreset } from '../src/solve/preset.js';
import { ThreadweaverError } from '../src/errors.js';

export const SUMMARY_FILE = 'summary.json';

export interface RunConfig {
  k: number;
  modes: Mode[];
  temperature: number;
  topP: number;
  seedBase: number;
  /** How answers were extracted (absent in summaries written before it was recorded: 'boxed'). */
  extract?: ExtractPolicy;
  /** The preset the run was made with, as resolved against its flags. */
  preset?: ResolvedPreset;
}

export interface RunSummary {
  version: 1;
  createdAt: string;
  /** What produced the numbers (absent in summaries written before it was recorded). */
  provenance?: Provenance;
  /** How the intervals were made (absent in summaries written before they were). */
  uncertainty?: { method: string; resamples: number; seed: number; confidence: number };
  config: RunConfig;
  /** Keyed by dataset name, in run order. */
  datasets: Record<string, DatasetSummary>;
}

/** Summarize rows (each with its dataset name) into a RunSummary; datasets keep the given order. */
export function summarizeRun(
  rows: ReadonlyArray<SampleRow & { dataset: string }>,
  config: RunConfig,
  datasetOrder: readonly string[],
  options: Omit<SummaryOptions, 'k'> & { provenance?: Provenance } = {},
): RunSummary {
  const { provenance, ...summaryOptions } = options;
  const uncertainty = {
    method: 'percentile bootstrap over problems; paired across modes for speedups',
    resamples: summaryOptions.bootstrap?.resamples ?? DEFAULT_RESAMPLES,
    seed: summaryOptions.bootstrap?.seed ?? 0,
    confidence: CONFIDENCE,
  };
  const names = [...new Set([...datasetOrder, ...rows.map((r) => r.dataset)])];
  const datasets: Record<string, DatasetSummary> = {};
  for (const name of names) {
    const mine = rows.filter((r) => r.dataset === name);
    if (mine.length) datasets[name] = summarizeDataset(mine, { ...summaryOptions, k: config.k });
  }
  return {
    version: 1,
    createdAt: new Date().toISOString(),
    ...(provenance ? { provenance } : {}),
    uncertainty,
    config,
    datasets,
  };
}

const num = z.number();
const interval = z.tuple([num, num]).nullable();
const modeSchema = z.looseObject({
  accuracy: num,
  passAtK: num,
  majAtK: num,
  formatCorrect: num,
  activationRatio: num,
  meanTotalTokens: num,
  meanCriticalPathTokens: num,
  meanAcceleration: num,
  wallMs: z.object({ sum: num, mean: num }),
  accuracyStderr: num.exactOptional(),
  accuracyCI95: z.tuple([num, num]).exactOptional(),
  meanPromptTokens: num.nullable().exactOptional(),
  prefillMs: z.object({ mean: num }).nullable().exactOptional(),
  decodeWallMs: z.object({ mean: num }).nullable().exactOptional(),
  samples: num,
  problems: num,
  k: num,
});
const speedupSchema = z.looseObject({
  tokenLatencyRatioOfMeans: num.nullable(),
  tokenLatencyMeanOfRatios: num.nullable(),
  maxCorrect: num.nullable(),
  wallClock: num.nullable(),
  decodeWallClock: num.nullable().exactOptional(),
  parallelOwnTotalOverCriticalPath: num.nullable(),
  ci95: z
    .looseObject({
      tokenLatencyRatioOfMeans: interval,
      tokenLatencyMeanOfRatios: interval,
      wallClock: interval,
      decodeWallClock: interval,
    })
    .exactOptional(),
});
const groupSchema = z.looseObject({
  parallel: modeSchema.nullable(),
  sequential: modeSchema.nullable(),
  speedup: speedupSchema,
});
export const runSummarySchema = z.looseObject({
  version: z.literal(1),
  createdAt: z.string(),
  provenance: provenanceSchema.exactOptional(),
  uncertainty: z.looseObject({ method: z.string(), resamples: num, seed: num, confidence: num }).exactOptional(),
  config: z.looseObject({
    k: num,
    modes: z.array(z.enum(['parallel', 'sequential'])),
    temperature: num,
    topP: num,
    seedBase: num,
    extract: extractPolicySchema.exactOptional(),
  }),
  datasets: z.record(z.string(), groupSchema.extend({ families: z.record(z.string(), groupSchema).exactOptional() })),
});

/** Read and validate a summary: `run` is a run folder holding summary.json, or the file itself. */
export async function readSummary(run: string): Promise<RunSummary> {
  let file = run;
  try {
    if ((await stat(run)).isDirectory()) file = path.join(run, SUMMARY_FILE);
  } catch {
    throw new ThreadweaverError(`${run}: no such run folder or summary file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ThreadweaverError(
      code === 'ENOENT' ? `${file}: not found (is ${run} a finished run folder?)` : `${file}: invalid JSON`,
      { cause: err },
    );
  }
  const parsed = runSummarySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ThreadweaverError(`${file}: not a run summary: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data as RunSummary;
}
