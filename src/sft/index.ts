/** SFT data: stage 1 (LLM rewriting of sequential traces) and stage 2 (self-training). */
export { readTraces, parseTraces, splitReasoning, TraceError, type Trace } from './traces.js';
export { OpenAIChatModel, type ChatModel, type ChatAnswer, type ChatCounters, type OpenAIChatOptions } from './llm.js';
export { AnswerCache, requestKey, type CachedAnswer } from './cache.js';
export { askChecked, type AskResult, type Exchange } from './ask.js';
export { parseJsonAnswer, AnswerFormatError } from '../internal/json-answer.js';
export {
  renderBody,
  renderTrajectory,
  type Draft,
  type DraftBlock,
  type DraftPiece,
  type DraftThread,
  type LineRange,
} from './draft.js';
export {
  extractSteps,
  readStepPlan,
  blockCandidates,
  numberLines,
  type StepPlan,
  type PlanStep,
  type PlanGroup,
  type BlockCandidate,
} from './steps.js';
export {
  splice,
  DEFAULT_MIN_PARALLEL_CHARS,
  type SpliceOptions,
  type SpliceResult,
  type SkippedBlock,
  type SkipReason,
} from './splice.js';
export {
  removeDependencies,
  applyEdits,
  readEdits,
  type Edit,
  type ThreadRewrite,
  type RewriteAction,
} from './dependencies.js';
export { writeOutlines, readOutlines, type BlockOutlines } from './outlines.js';
export { assessTrajectory, passesFilter, type Assessment } from './assess.js';
export { datasetStats, distribution, histogram, type DatasetStats, type Distribution } from './stats.js';
export {
  writeSftDataset,
  readSftDataset,
  parseSftRows,
  sftRow,
  trieRow,
  SFT_FILE,
  SFT_TRIE_FILE,
  type SftExample,
  type SftRow,
  type TrieRow,
  type SftFiles,
} from './dataset.js';
export {
  runStage1,
  type Stage1Options,
  type Stage1Result,
  type Stage1Stats,
  type ItemSummary,
  type ItemStatus,
} from './stage1.js';
export { ContextTooSmallError, promptFit, type PromptFit } from './context-fit.js';
export { runStage2, ROLLOUTS_DIR, type Stage2Options, type Stage2Result, type Stage2Stats } from './stage2.js';
