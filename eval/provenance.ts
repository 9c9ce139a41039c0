/**
 * A run's provenance (`summary.json` → `provenance`): everything needed to tell what produced
 * its numbers and to redo it: package version, model and the sha256 of its weights, engine,
 * every sampling and grading setting, and each dataset's file with its sha256 and row count.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { EngineProvenance } from '../src/engine/provenance.js';
import type { ExtractPolicy } from '../src/math/extract.js';
import { packageVersion } from '../src/internal/package-root.js';
import type { ResolvedPreset } from '../src/solve/preset.js';
import type { Dataset } from './dataset.js';
import { extractPolicySchema } from './results.js';
import type { SampleSettings } from './settings.js';

export interface DatasetProvenance {
  /** The file read (absolute), or null for a generated set. */
  path: string | null;
  /** sha256 of the file (or of the generated rows as JSONL). */
  sha256: string | null;
  /** Rows in the file. */
  rows: number | null;
  /** Problems this run evaluates (fewer than `rows` with --limit). */
  problems: number;
  /** sha256 of the evaluated problem ids, one per line in run order: equal sets of problems have equal hashes. */
  problemIdsSha256: string;
  /** The generator's seed (generated sets). */
  seed?: number;
}

/**
 * What produced a run's numbers: versions, model and its weights' sha256, engine, every sampling
 * and grading setting, and each dataset's file.
 */
export interface Provenance {
  /** threadweaver-ts version that wrote the summary. */
  version: string;
  /** Node.js version. */
  node: string;
  /** Model folder, hub id or served model name (null: the caller did not say). */
  model: string | null;
  /** The ONNX graph file loaded (embedded engine). */
  modelFile: string | null;
  /** sha256 of that file; null for remote engines. */
  modelSha256: string | null;
  dtype: string | null;
  /** `embedded`, or the servers' base URLs and the served model. */
  engine: EngineProvenance['engine'] | null;
  promptStyle: string | null;
  /** The rest of the prompt format (suffix, sequential system prompt, template variables). */
  prompt?: SampleSettings['prompt'] | null;
  maxTokens: number | null;
  /** The engine's context length and the sha256 of its tokenizer's content (absent in older summaries). */
  contextLength?: number | null;
  tokenizer?: string | null;
  /** The trajectory format (spec text). */
  format?: string | null;
  temperature: number;
  topP: number;
  seedBase: number;
  extract: ExtractPolicy;
  k: number;
  /** The preset the run was made with (null: none was named); `config.preset` holds its resolved settings. */
  preset: string | null;
  datasets: Record<string, DatasetProvenance>;
  /** Set when the run's stored texts were graded again (`eval rescore`): the latest re-grade. */
  rescored?: RescoreRecord;
}

/** What `provenance.rescored` records. */
export interface RescoreRecord {
  /** When the run was re-graded (ISO time). */
  at: string;
  /** The grader's rule-set version (GRADER_VERSION of src/math). */
  graderVersion: string;
  /** The threadweaver-ts version that re-graded it. */
  version: string;
  /** The extraction policy of the re-grade. */
  extract: ExtractPolicy;
  /** Rows re-graded, and how many of them changed verdict. */
  rows: number;
  changed: number;
}

export function datasetProvenance(d: Dataset): DatasetProvenance {
  const ids = createHash('sha256')
    .update(d.problems.map((p) => p.id).join('\n'))
    .digest('hex');
  return {
    path: d.source?.path ?? null,
    sha256: d.source?.sha256 ?? null,
    rows: d.source?.rows ?? null,
    problems: d.problems.length,
    problemIdsSha256: ids,
    ...(d.source?.seed !== undefined ? { seed: d.source.seed } : {}),
  };
}

export interface ProvenanceInput {
  settings: SampleSettings;
  engine?: EngineProvenance | undefined;
  temperature: number;
  topP: number;
  seedBase: number;
  extract: ExtractPolicy;
  k: number;
  /** The preset the run resolved (its name is recorded). */
  preset?: ResolvedPreset | undefined;
  datasets: readonly Dataset[];
}

export function runProvenance(i: ProvenanceInput): Provenance {
  const s = i.settings;
  return {
    version: packageVersion(),
    node: process.version,
    model: s.model,
    modelFile: i.engine?.modelFile ?? null,
    modelSha256: s.modelSha256,
    dtype: s.dtype,
    engine: i.engine?.engine ?? null,
    promptStyle: s.promptStyle,
    prompt: s.prompt ?? null,
    maxTokens: s.maxTokens,
    contextLength: s.contextLength ?? null,
    tokenizer: s.tokenizer ?? null,
    format: s.format ?? null,
    temperature: i.temperature,
    topP: i.topP,
    seedBase: i.seedBase,
    extract: i.extract,
    k: i.k,
    preset: i.preset?.name ?? null,
    datasets: Object.fromEntries(i.datasets.map((d) => [d.name, datasetProvenance(d)])),
  };
}

const nullableString = z.string().nullable();
export const provenanceSchema = z.looseObject({
  version: z.string(),
  node: z.string(),
  model: nullableString,
  modelFile: nullableString,
  modelSha256: nullableString,
  dtype: nullableString,
  engine: z
    .union([z.literal('embedded'), z.object({ baseUrls: z.array(z.string()), servedModel: z.string() })])
    .nullable(),
  promptStyle: nullableString,
  prompt: z.looseObject({}).nullable().optional(),
  maxTokens: z.number().nullable(),
  contextLength: z.number().nullable().optional(),
  tokenizer: nullableString.optional(),
  format: nullableString.optional(),
  temperature: z.number(),
  topP: z.number(),
  seedBase: z.number(),
  extract: extractPolicySchema,
  k: z.number(),
  preset: nullableString,
  datasets: z.record(
    z.string(),
    z.looseObject({
      path: nullableString,
      sha256: nullableString,
      rows: z.number().nullable(),
      problems: z.number(),
      problemIdsSha256: z.string(),
      seed: z.number().optional(),
    }),
  ),
  rescored: z
    .looseObject({
      at: z.string(),
      graderVersion: z.string(),
      version: z.string(),
      extract: extractPolicySchema,
      rows: z.number(),
      changed: z.number(),
    })
    .optional(),
});
