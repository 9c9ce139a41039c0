/**
 * The eval harness, as eval/README.md's "Library" section lists it: datasets, the run and its
 * solver, the rows, the summary and report, comparisons, uncertainty.
 */
export { loadDataset, DatasetError, type Problem, type Dataset, type DatasetSpec } from './dataset.js';
export { BENCHMARKS, type Benchmark } from './catalog.js';
export { fetchBenchmark, FetchError, type FetchOptions, type FetchResult } from './fetch.js';
export { generateArith, sampleArith, type ArithTask } from './arith.js';
export { runEval, RESULTS_FILE, type RunEvalOptions, type RunEvalResult } from './runner.js';
export type { EvalSolveFn, EvalSolveOptions, EvalSolveResult, EvalSolveMetrics } from './runner.js';
export {
  engineSolver,
  type SampleSolver,
  type SampleRequest,
  type SampleOutcome,
  type SampleMetrics,
} from '../src/batch/solver.js';
export type { EvalProgress } from './progress.js';
export { openResults, ResultsError, MODES, type Mode, type ResultRow, type ResultsStore } from './results.js';
export type { SampleSettings } from './settings.js';
export { SettingsMismatchError, type SettingDifference } from '../src/batch/setting-differences.js';
export { passAtK, type ModeSummary, type SpeedupSummary, type DatasetSummary } from './metrics.js';
export { SUMMARY_FILE, summarizeRun, readSummary, type RunConfig, type RunSummary } from './summary.js';
export type { Provenance } from './provenance.js';
export { REPORT_FILE, CHARTS_DIR, writeReport, renderReport, summaryTable } from './report.js';
export { compareRuns, compareRunFolders } from './compare.js';
export { accuracyUncertainty, type Interval, type AccuracyUncertainty, type BootstrapOptions } from './uncertainty.js';
