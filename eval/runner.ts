/**
 * The eval runner: k samples per problem in each mode, both modes interleaved per problem under
 * a concurrency limit, each finished sample appended to results.jsonl at once (a rerun resumes),
 * then summary.json, report.md and charts.
 */
import { mkdir } from 'node:fs/promises';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import path from 'node:path';
import type { EngineProvenance } from '../src/engine/provenance.js';
import type { ExtractPolicy } from '../src/math/extract.js';
import type { GradeFn } from '../src/math/grade.js';
import { promptFormat, type PromptFormat, type PromptStyle } from '../src/orchestrator/prompt.js';
import type { Dataset, Problem } from './dataset.js';
import { runProvenance } from './provenance.js';
import type { BootstrapOptions } from './uncertainty.js';
import { LATER_SETTINGS, sampleSettingsSchema, type SampleSettings } from './settings.js';
import {
  describeDifferences,
  differingSettings,
  SettingsMismatchError,
  type SettingDifference,
} from '../src/batch/setting-differences.js';
import { progressNotes, type EvalProgress } from './progress.js';
import { progressBar, type ProgressStream } from '../src/batch/progress.js';
import { writeReport } from './report.js';
import { runSampleLoop, type StoredMismatch } from '../src/batch/sample-run.js';
import type { SampleMetrics, SampleOutcome, SampleRequest, SampleSolver } from '../src/batch/solver.js';
import { openResults, resultKey, resultRow, type Mode, type ResultRow } from './results.js';
import { deriveSeed } from '../src/internal/random.js';
import { GREEDY_BELOW } from '../src/engine/sampling.js';
import { SUMMARY_FILE, summarizeRun, type RunSummary } from './summary.js';
import { DEFAULT_PRESET, type ResolvedPreset } from '../src/solve/preset.js';
import { ResultsError } from './results.js';

export const RESULTS_FILE = 'results.jsonl';

/** One sample as the eval runner asks its solver for it (the batch runs' SampleRequest). */
export type EvalSolveOptions = SampleRequest;
/** The figures of a solved sample the runner stores. */
export type EvalSolveMetrics = SampleMetrics;
/** What the runner needs back from a sample. */
export type EvalSolveResult = SampleOutcome;
/** Solves one sample: `engineSolver(engine)` (src/batch/solver.ts) runs solve() on an engine. */
export type EvalSolveFn = SampleSolver;

export interface RunEvalOptions {
  /** Loaded datasets (see loadDataset). Problem ids must be unique within each. */
  datasets: Dataset[];
  /** Samples per problem and mode (≥ 1). */
  k: number;
  /** Modes to run; with both, each sample runs in both modes back to back (same seed). */
  modes: Mode[];
  /** How many samples run at once (≥ 1). 2 or more lets the two modes of a sample run side by side. */
  concurrency: number;
  temperature: number;
  topP: number;
  /** Sample seeds are deriveSeed(seedBase, problem index, sample index): the same in both modes. */
  seedBase: number;
  /**
   * The preset the solver runs with (see resolvePreset): its name is stored in every row, and a
   * rerun with another preset is refused; the whole record goes into summary.json. Default: none
   * recorded (rows count as the default preset).
   */
  preset?: ResolvedPreset | undefined;
  /** The run folder: results.jsonl, summary.json, report.md, charts/. Created if missing. */
  out: string;
  solve: EvalSolveFn;
  /**
   * The answer extraction policy, handed to `solve` and recorded in every row and in summary.json;
   * a rerun with another policy is refused. Default 'boxed'.
   */
  extract?: ExtractPolicy | undefined;
  /** The answer grader (`gradeAnswer` of src/math). */
  grade: GradeFn;
  /**
   * The engine behind `solve` (describeEngine): its model, the weights' sha256 and servers are
   * recorded in every row's settings and in summary.json's provenance.
   */
  engine?: EngineProvenance | undefined;
  /** Handed to `solve` and recorded as a setting. */
  maxTokens?: number | undefined;
  /** Handed to `solve` and recorded as a setting. */
  promptStyle?: PromptStyle | undefined;
  /** The prompt format (a preset's): handed to `solve` and recorded (suffix, system prompt, template variables). */
  prompt?: Partial<PromptFormat> | undefined;
  /** The trajectory format as spec text (a preset's, or --format): handed to `solve` and recorded. */
  format?: string | undefined;
  /** Resamples and seed of the bootstrap intervals in the summary (default 1000 resamples, seed 0). */
  bootstrap?: BootstrapOptions | undefined;
  /** Whether two extracted answers count as one vote for maj@k. Default: equal after removing whitespace. */
  sameAnswer?: ((a: string, b: string) => boolean) | undefined;
  /** Called after every finished sample (and once at the start). */
  onProgress?: ((progress: EvalProgress) => void) | undefined;
  /** Where the progress line goes; default process.stderr, false for none. */
  progress?: ProgressStream | false | undefined;
  /** Without a TTY, print the progress line every this many samples. Default: about 5% of the run. */
  progressEvery?: number | undefined;
  /** Keep each trajectory's text (and its problem's text) in results.jsonl. Default true. */
  keepText?: boolean | undefined;
  /** Stops scheduling; in-flight solves get the signal. What finished is kept and summarized. */
  signal?: AbortSignal | undefined;
}

export interface RunEvalResult {
  summary: RunSummary;
  files: { results: string; summary: string; report: string; charts: string[] };
  /** Samples solved in this call. */
  ran: number;
  /** Samples found already stored and skipped. */
  resumed: number;
  aborted: boolean;
}

interface Job {
  dataset: string;
  problem: Problem;
  index: number;
  sample: number;
  mode: Mode;
  seed: number;
}

function checkOptions(o: RunEvalOptions): void {
  const posInt = (v: number, name: string): void => {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`runEval: ${name} must be a whole number ≥ 1, got ${v}`);
  };
  posInt(o.k, 'k');
  posInt(o.concurrency, 'concurrency');
  if (!o.modes.length || new Set(o.modes).size !== o.modes.length) {
    throw new RangeError(`runEval: modes must be distinct and non-empty, got [${o.modes.join(', ')}]`);
  }
  const names = o.datasets.map((d) => d.name);
  if (new Set(names).size !== names.length) throw new RangeError(`runEval: dataset names repeat: ${names.join(', ')}`);
}

/** Every sample of the run, ordered so that both modes of a (problem, sample) are adjacent. */
function planJobs(o: RunEvalOptions): Job[] {
  const jobs: Job[] = [];
  for (const d of o.datasets) {
    d.problems.forEach((problem, index) => {
      for (let sample = 0; sample < o.k; sample++) {
        const seed = deriveSeed(o.seedBase, index, sample);
        for (const mode of o.modes) jobs.push({ dataset: d.name, problem, index, sample, mode, seed });
      }
    });
  }
  return jobs;
}

function keyOf(j: Job): { dataset: string; problemId: string; sample: number; mode: Mode } {
  return { dataset: j.dataset, problemId: j.problem.id, sample: j.sample, mode: j.mode };
}

/** Running figures for the progress line. */
function tally() {
  const n = { parallel: 0, sequential: 0 };
  const correct = { parallel: 0, sequential: 0 };
  let seqTotal = 0;
  let parCritical = 0;
  return {
    add(r: ResultRow) {
      n[r.mode]++;
      if (r.correct) correct[r.mode]++;
      if (r.mode === 'sequential') seqTotal += r.totalTokens;
      else parCritical += r.criticalPathTokens;
    },
    accuracy: (): Record<Mode, number | null> => ({
      parallel: n.parallel ? correct.parallel / n.parallel : null,
      sequential: n.sequential ? correct.sequential / n.sequential : null,
    }),
    speedup: (): number | null =>
      n.parallel && n.sequential && parCritical > 0 ? seqTotal / n.sequential / (parCritical / n.parallel) : null,
  };
}

/** A prompt format without its style (recorded apart), defaults filled in. */
function promptRest(format: Partial<PromptFormat>): Omit<PromptFormat, 'style'> {
  const { style: _, ...rest } = promptFormat(format);
  return rest;
}

/** The settings every row of this run records. */
function sampleSettings(o: RunEvalOptions): SampleSettings {
  const e = o.engine;
  return {
    model: e?.model ?? null,
    modelSha256: e?.modelSha256 ?? null,
    dtype: e?.dtype ?? null,
    engine: e ? (e.engine === 'embedded' ? 'embedded' : 'remote') : null,
    promptStyle: o.promptStyle ?? null,
    maxTokens: o.maxTokens ?? null,
    prompt: o.prompt ? promptRest(o.prompt) : null,
    contextLength: e?.contextLength ?? null,
    tokenizer: e?.tokenizerSha256 ?? null,
    format: o.format ?? null,
  };
}

/**
 * How a stored row differs from what this run would make of its job: seed, sampling, preset (rows
 * without one were made with the default preset), extraction, the settings record (rows written
 * before it was recorded compare on the rest only), and the gold answer (a changed dataset file).
 */
function rowDifferences(
  r: ResultRow,
  j: Job,
  o: RunEvalOptions,
  run: { extract: ExtractPolicy; preset: string; settings: SampleSettings },
  file: string,
): SettingDifference[] {
  const { extract, preset, settings } = run;
  let stored: Partial<SampleSettings> = {};
  if (r.settings !== undefined) {
    const parsed = sampleSettingsSchema.safeParse(r.settings);
    if (!parsed.success)
      throw new ResultsError(
        `${file}: ${j.dataset}/${j.problem.id} sample ${j.sample} (${j.mode}) has a malformed settings record: ${parsed.error.issues[0]!.message}`,
      );
    stored = parsed.data;
  }
  // The weights' hash identifies an embedded model wherever its folder is.
  const skip: string[] = stored.modelSha256 && settings.modelSha256 ? ['model'] : [];
  if (r.settings !== undefined) skip.push(...LATER_SETTINGS.filter((k) => !(k in stored)));
  // Greedy decoding reads no random numbers: the seed of a greedy sample is not a setting of it.
  if (r.temperature < GREEDY_BELOW && o.temperature < GREEDY_BELOW) skip.push('seed');
  return differingSettings(
    {
      seed: r.seed,
      temperature: r.temperature,
      topP: r.topP,
      preset: r.preset ?? DEFAULT_PRESET,
      extract: r.extract ?? 'boxed',
      ...stored,
      gold: r.gold,
    },
    {
      seed: j.seed,
      temperature: o.temperature,
      topP: o.topP,
      preset,
      extract,
      ...(r.settings !== undefined ? settings : {}),
      gold: j.problem.answer,
    },
    skip,
  );
}

/** The error for a resume whose stored rows were made with other settings: every setting that differs. */
function settingsMismatch(file: string, found: StoredMismatch<Job, ResultRow>[]): SettingsMismatchError {
  const differences = new Map<string, SettingDifference & { sample: string }>();
  for (const { job: j, differences: diffs } of found)
    for (const d of diffs)
      if (!differences.has(d.setting)) differences.set(d.setting, { ...d, sample: describeJob(j) });
  const list = [...differences.values()];
  const n = found.length;
  return new SettingsMismatchError(
    `${file}: ${n} stored sample${n === 1 ? ' was' : 's were'} made with other settings: ` +
      `${describeDifferences(list)} (first seen in ${list[0]!.sample}). ` +
      `Use another --out folder, or rerun with the same settings to resume.`,
    list,
  );
}

const describeJob = (j: Job): string => `${j.dataset}/${j.problem.id} sample ${j.sample} (${j.mode})`;

/** The stored row of one solved and graded sample. */
async function solveJob(j: Job, o: RunEvalOptions, run: RunFacts): Promise<ResultRow | undefined> {
  const result = await o.solve(j.problem.problem, {
    mode: j.mode,
    seed: j.seed,
    temperature: o.temperature,
    topP: o.topP,
    extract: run.extract,
    maxTokens: o.maxTokens,
    promptStyle: o.promptStyle,
    prompt: o.prompt,
    format: o.format,
    signal: o.signal,
    dataset: j.dataset,
    problemId: j.problem.id,
    sample: j.sample,
  });
  if (o.signal?.aborted) return undefined; // a solve cut short by the abort is not a result
  const verdict = await o.grade(result.answer, j.problem.answer);
  return {
    ...resultRow({
      ...j,
      temperature: o.temperature,
      topP: o.topP,
      answer: result.answer,
      extract: run.extract,
      formatValid: result.formatValid,
      metrics: result.metrics,
      verdict,
    }),
    ...(o.preset ? { preset: run.preset } : {}),
    ...(result.metrics.promptTokens !== undefined ? { promptTokens: result.metrics.promptTokens } : {}),
    ...(result.metrics.prefillMs != null ? { prefillMs: result.metrics.prefillMs } : {}),
    settings: run.settings,
    ...(o.keepText === false ? {} : { problem: j.problem.problem, text: result.text }),
  };
}

/** What every sample of one run shares. */
interface RunFacts {
  extract: ExtractPolicy;
  preset: string;
  settings: SampleSettings;
}

/**
 * Run an evaluation into `out`. Resumes from `out/results.jsonl`: samples already stored are
 * skipped; if any was made with other settings, nothing runs and a SettingsMismatchError names
 * every differing setting. A solve or grade error stops
 * the run after writing what finished, then rethrows naming the sample.
 */
export async function runEval(o: RunEvalOptions): Promise<RunEvalResult> {
  checkOptions(o);
  await mkdir(o.out, { recursive: true });
  const resultsPath = path.join(o.out, RESULTS_FILE);
  const store = await openResults(resultsPath);
  const jobs = planJobs(o);
  const run: RunFacts = {
    extract: o.extract ?? 'boxed',
    preset: o.preset?.name ?? DEFAULT_PRESET,
    settings: sampleSettings(o),
  };
  const counts = tally();
  const started = Date.now();
  const bar = progressBar('', jobs.length, o.progress ?? process.stderr, {
    every: o.progressEvery ?? Math.max(1, Math.ceil(jobs.length / 20)),
    percent: true,
  });
  let done = 0;
  let resumed = 0;
  const report = (last?: EvalProgress['last']): void => {
    const p: EvalProgress = {
      done,
      total: jobs.length,
      resumed,
      accuracy: counts.accuracy(),
      speedup: counts.speedup(),
      elapsedMs: Date.now() - started,
      ...(last ? { last } : {}),
    };
    bar.update(p.done, progressNotes(p));
    o.onProgress?.(p);
  };

  const loop = await runSampleLoop<Job, ResultRow>({
    jobs,
    jobKey: (j) => resultKey(keyOf(j)),
    rowKey: resultKey,
    stores: [store],
    differences: (r, j, file) => rowDifferences(r, j, o, run, file),
    mismatch: (found) => settingsMismatch(resultsPath, found),
    close: () => store.close(),
    start: async (stored) => {
      for (const r of stored.values()) counts.add(r);
      done = resumed = stored.size;
      report();
    },
    run: async (j) => {
      const row = await solveJob(j, o, run);
      if (!row) return false;
      await store.append(row);
      counts.add(row);
      done++;
      report({ dataset: j.dataset, problemId: j.problem.id, sample: j.sample, mode: j.mode, correct: row.correct });
      return true;
    },
    concurrency: o.concurrency,
    signal: o.signal,
    describe: (j) => `eval stopped at ${describeJob(j)}`,
    progress: bar,
  });

  // Summarize exactly this run's plan: rows of other datasets, modes or larger k in the file are left out.
  const planned = new Set(jobs.map((j) => resultKey(keyOf(j))));
  const rows = store.rows().filter((r) => planned.has(resultKey(r)));
  const written = await writeRunFiles(o, rows, run);
  if (loop.failure) throw loop.failure;
  return {
    summary: written.summary,
    files: { results: resultsPath, ...written.files },
    ran: loop.ran,
    resumed: loop.resumed.size,
    aborted: loop.aborted,
  };
}

/** summary.json, report.md and the charts of the run's rows. */
async function writeRunFiles(
  o: RunEvalOptions,
  rows: ResultRow[],
  run: RunFacts,
): Promise<{ summary: RunSummary; files: Omit<RunEvalResult['files'], 'results'> }> {
  const provenance = runProvenance({
    settings: run.settings,
    engine: o.engine,
    temperature: o.temperature,
    topP: o.topP,
    seedBase: o.seedBase,
    extract: run.extract,
    k: o.k,
    preset: o.preset,
    datasets: o.datasets,
  });
  const summary = summarizeRun(
    rows,
    {
      k: o.k,
      modes: o.modes,
      temperature: o.temperature,
      topP: o.topP,
      seedBase: o.seedBase,
      extract: run.extract,
      ...(o.preset ? { preset: o.preset } : {}),
    },
    o.datasets.map((d) => d.name),
    { sameAnswer: o.sameAnswer, bootstrap: o.bootstrap, provenance },
  );
  const summaryPath = path.join(o.out, SUMMARY_FILE);
  await writeFileAtomic(summaryPath, jsonText(summary));
  const written = await writeReport(o.out, summary, rows);
  return { summary, files: { summary: summaryPath, report: written.report, charts: written.charts } };
}
