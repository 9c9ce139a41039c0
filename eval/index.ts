/** The eval harness: datasets, the arith generator, results file, metrics, reports, runner. */
export {
  loadDataset,
  parseProblems,
  dataFolders,
  defaultDataDir,
  defaultCacheDir,
  DatasetError,
  ARITH_DEFAULT_SEED,
  ARITH_DEFAULT_COUNT,
  BENCHMARK_FILES,
  type Problem,
  type Dataset,
  type DatasetSpec,
  type DatasetSource,
} from './dataset.js';
export { BENCHMARKS, benchmark, type Benchmark, type HubFile } from './catalog.js';
export {
  fetchBenchmark,
  fetchable,
  hubEndpoint,
  fileUrl,
  DEFAULT_ENDPOINT,
  FetchError,
  type FetchOptions,
  type FetchResult,
} from './fetch.js';
export {
  generateArith,
  sampleArith,
  parseArithProblem,
  renderArith,
  type ArithTask,
  type ArithFamily,
  type ArithOp,
  type ArithSubGoal,
  type ArithRendering,
} from './arith.js';
export {
  openResults,
  parseResultLine,
  resultKey,
  resultRow,
  resultRowSchema,
  ResultsError,
  MODES,
  type Mode,
  type ResultRow,
  type ResultKey,
  type ResultsStore,
  type GradedSample,
} from './results.js';
export {
  passAtK,
  majorityCorrect,
  majorityAtK,
  gPassAtK,
  hypergeometric,
  estimatorKs,
  answerGroups,
  G_PASS_TAUS,
  tauKey,
  type AnswerGroup,
  byProblem,
  summarizeMode,
  summarizeSpeedup,
  summarizeGroup,
  summarizeDataset,
  problemSpeedups,
  speedupBetween,
  type SampleRow,
  type ModeSummary,
  type SpeedupSummary,
  type GroupSummary,
  type DatasetSummary,
  type SummaryOptions,
  type ProblemSpeedup,
  type SpeedupSides,
} from './metrics.js';
export {
  SUMMARY_FILE,
  summarizeRun,
  readSummary,
  runSummarySchema,
  type RunConfig,
  type RunSummary,
} from './summary.js';
export {
  REPORT_FILE,
  CHARTS_DIR,
  writeReport,
  renderReport,
  summaryTable,
  uncertaintyNote,
  datasetCharts,
  accuracyByLatency,
  type Chart,
} from './report.js';
export { compareRuns, compareRunFolders, compareWarnings } from './compare.js';
export { formatProgress, type EvalProgress } from './progress.js';
export {
  runEval,
  RESULTS_FILE,
  type RunEvalOptions,
  type RunEvalResult,
  type EvalSolveFn,
  type EvalSolveOptions,
  type EvalSolveResult,
  type EvalSolveMetrics,
} from './runner.js';
export {
  engineSolver,
  type SampleSolver,
  type SampleRequest,
  type SampleOutcome,
  type SampleMetrics,
} from '../src/batch/solver.js';
export { sampleSettingsSchema, type SampleSettings } from './settings.js';
export {
  differingSettings,
  describeDifferences,
  settingLabel,
  SettingsMismatchError,
  type SettingDifference,
} from '../src/batch/setting-differences.js';
export {
  runProvenance,
  datasetProvenance,
  provenanceSchema,
  type Provenance,
  type DatasetProvenance,
  type ProvenanceInput,
} from './provenance.js';
export {
  bootstrap,
  percentileInterval,
  standardError,
  quantile,
  pooledAccuracy,
  accuracyUncertainty,
  intervalOver,
  DEFAULT_RESAMPLES,
  CONFIDENCE,
  type BootstrapOptions,
  type Interval,
  type ProblemScore,
  type AccuracyUncertainty,
} from './uncertainty.js';
export {
  sweepPoints,
  splitSweep,
  summarizeSweep,
  withThreadCap,
  SweepError,
  type SweepPoint,
  type SweepPlan,
  type SweepRows,
  type SweepSummary,
} from './sweep.js';
export { frontierCharts, sweepTable } from './frontier.js';
export { rescoreRun, RescoreError, type RescoreOptions, type RescoreResult } from './rescore.js';
export type { RescoreRecord } from './provenance.js';
