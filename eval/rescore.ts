/**
 * `threadweaver eval rescore RUN_DIR`: grade a finished run's stored texts again with the current
 * grader and format checks (no decoding), and rewrite results.jsonl, summary.json, report.md and
 * the charts; summary.json's `provenance.rescored` says when, with which grader and how answers
 * were extracted. Run folders of older versions rescore as long as their rows kept their text.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ThreadweaverError } from '../src/errors.js';
import { resolveDialect } from '../src/format/dialects.js';
import { isLenientFormat } from '../src/format/lenient.js';
import { jsonlText, jsonText, writeFileAtomic } from '../src/internal/files.js';
import { packageVersion } from '../src/internal/package-root.js';
import { extractAnswer, type ExtractPolicy } from '../src/math/extract.js';
import { gradeAnswer, GRADER_VERSION, type GradeFn } from '../src/math/grade.js';
import type { Provenance, RescoreRecord } from './provenance.js';
import { writeReport } from './report.js';
import { openResults, type ResultRow } from './results.js';
import { RESULTS_FILE } from './runner.js';
import { readSummary, summarizeRun, SUMMARY_FILE, type RunConfig, type RunSummary } from './summary.js';
import { splitSweep } from './sweep.js';

/** How `rescoreRun` re-grades a run folder: the extraction policy and the grader. */
export interface RescoreOptions {
  /** The extraction policy (default: the run's own, `config.extract`, else 'boxed'). */
  extract?: ExtractPolicy | undefined;
  /** The grader (default gradeAnswer). */
  grade?: GradeFn | undefined;
}

/** What a rescore wrote: the new summary, the files rewritten, the rows re-graded and how many changed. */
export interface RescoreResult {
  summary: RunSummary;
  files: { results: string; summary: string; report: string; charts: string[] };
  rows: number;
  /** Rows whose verdict (correct or not) changed. */
  changed: number;
}

/** A run folder that cannot be re-graded; the message says why and what to do. Nothing is written. */
export class RescoreError extends ThreadweaverError {
  override name = 'RescoreError';
}

/** Re-grade the run in `dir` (see the module comment). */
export async function rescoreRun(dir: string, o: RescoreOptions = {}): Promise<RescoreResult> {
  const resultsPath = path.join(dir, RESULTS_FILE);
  if (!existsSync(resultsPath)) throw new RescoreError(`${dir}: no ${RESULTS_FILE}: not a run folder`);
  if (!existsSync(path.join(dir, SUMMARY_FILE)))
    throw new RescoreError(
      `${dir}: no ${SUMMARY_FILE}: the run never finished (its settings are recorded there); rerun its eval command to resume it, then rescore`,
    );
  const old = await readSummary(dir);
  const store = await openResults(resultsPath);
  const stored = [...store.rows()];
  await store.close();
  const textless = stored.filter((r) => typeof r.text !== 'string');
  if (textless.length) {
    const first = textless[0]!;
    throw new RescoreError(
      `${resultsPath}: ${textless.length} of ${stored.length} rows were stored without their text (the run was made with keepText: false), ` +
        `first ${first.dataset}/${first.problemId} sample ${first.sample} (${first.mode}): there is nothing to re-grade; rerun the eval to rescore`,
    );
  }

  const extract = o.extract ?? old.config.extract ?? 'boxed';
  const grade = o.grade ?? ((pred, gold) => gradeAnswer(pred, gold));
  let changed = 0;
  const rows: ResultRow[] = [];
  for (const r of stored) {
    const text = r.text!;
    const answer = extractAnswer(text, extract);
    const verdict = await grade(answer, r.gold);
    // The row's own format (a thread sweep's includes its cap), else the run's.
    const format = formatOf(r) ?? old.provenance?.format ?? undefined;
    const dialect = resolveDialect(format ?? undefined);
    if (verdict.equal !== r.correct) changed++;
    rows.push({
      ...r,
      answer,
      extract,
      correct: verdict.equal,
      gradeReason: verdict.reason,
      formatValid: dialect.validate(text).length === 0,
      formatValidLenient: isLenientFormat(text, dialect),
    });
  }

  const record: RescoreRecord = {
    at: new Date().toISOString(),
    graderVersion: GRADER_VERSION,
    version: packageVersion(),
    extract,
    rows: rows.length,
    changed,
  };
  const config: RunConfig = { ...old.config, extract };
  const order = datasetOrder(old);
  const split = splitSweep(inPlan(rows, config, order), config);
  const summary = summarizeRun(split.top, config, order, {
    bootstrap: old.uncertainty ? { resamples: old.uncertainty.resamples, seed: old.uncertainty.seed } : undefined,
    provenance: rescoredProvenance(old, rows, record),
    sweep: split,
  });
  await writeFileAtomic(resultsPath, jsonlText(rows));
  const summaryPath = path.join(dir, SUMMARY_FILE);
  await writeFileAtomic(summaryPath, jsonText(summary));
  const written = await writeReport(dir, summary, split.top);
  return { summary, files: { results: resultsPath, summary: summaryPath, ...written }, rows: rows.length, changed };
}

function formatOf(r: ResultRow): string | null {
  const s = r.settings as { format?: unknown } | undefined;
  return typeof s?.format === 'string' ? s.format : null;
}

/** The datasets of the old summary, in its order (its sweeps' too). */
function datasetOrder(s: RunSummary): string[] {
  const names = [
    ...Object.keys(s.provenance?.datasets ?? {}),
    ...Object.keys(s.datasets),
    ...Object.values(s.budgets ?? {}).flatMap((p) => Object.keys(p.datasets)),
    ...Object.values(s.threadBudgets ?? {}).flatMap((p) => Object.keys(p.datasets)),
  ];
  return [...new Set(names)];
}

/** The rows the run summarized: its datasets, modes, k and sweep points. */
function inPlan(rows: readonly ResultRow[], c: RunConfig, datasets: readonly string[]): ResultRow[] {
  const budgets = new Set(c.budgets ?? []);
  const caps = new Set(c.threadBudgets ?? []);
  const swept = budgets.size + caps.size > 0;
  return rows.filter((r) => {
    if (!datasets.includes(r.dataset) || !c.modes.includes(r.mode) || r.sample >= c.k) return false;
    if (r.budget !== undefined) return budgets.has(r.budget);
    if (r.threadBudget !== undefined) return caps.has(r.threadBudget);
    // A base row: the whole run without a sweep; a thread sweep's sequential samples with one.
    return !swept || (caps.size > 0 && r.mode === 'sequential');
  });
}

/** The old provenance with the re-grade recorded (summaries from before provenance get what the rows know). */
function rescoredProvenance(old: RunSummary, rows: readonly ResultRow[], rescored: RescoreRecord): Provenance {
  if (old.provenance) return { ...old.provenance, extract: rescored.extract, rescored };
  const s = (rows[0]?.settings ?? {}) as Partial<Record<string, unknown>>;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const c = old.config;
  return {
    version: 'unknown (written before provenance was recorded)',
    node: process.version,
    model: str(s.model),
    modelFile: null,
    modelSha256: str(s.modelSha256),
    dtype: str(s.dtype),
    engine: s.engine === 'embedded' ? 'embedded' : null,
    promptStyle: str(s.promptStyle),
    maxTokens: typeof s.maxTokens === 'number' ? s.maxTokens : null,
    temperature: c.temperature,
    topP: c.topP,
    seedBase: c.seedBase,
    extract: rescored.extract,
    k: c.k,
    preset: c.preset?.name ?? null,
    datasets: {},
    rescored,
  };
}
