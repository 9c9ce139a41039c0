/** RL: rewards, group advantages, rollouts, and training exports of rollout rows. */
export {
  computeReward,
  rewardConfig,
  RewardConfigSchema,
  type RewardConfig,
  type RewardInput,
  type Reward,
} from './reward.js';
export { computeAdvantages, broadcastAdvantage, type ScoredTrajectory, type AdvantageOptions } from './advantage.js';
export {
  expandCalls,
  contextIdsOf,
  callTrie,
  type CallSource,
  type ExpandedCall,
  type ExpandOptions,
} from './calls.js';
export {
  RolloutRowSchema,
  parseRolloutLine,
  readRolloutLines,
  readRollouts,
  rolloutUid,
  RolloutFileError,
  type RolloutRow,
  type RolloutCall,
  type RolloutSettings,
  type AdvantageMode,
} from './rollout-row.js';
export {
  runRollouts,
  rolloutRow,
  pendingFile,
  type RolloutOptions,
  type RolloutResult,
  type RolloutProgress,
  type RolloutSolveFn,
  type RolloutSolveOptions,
} from './rollout.js';
export { summarizeRollouts, rolloutWarnings, formatRolloutSummary, type RolloutSummary } from './summary.js';
export {
  exportRollouts,
  exportRows,
  sftExportRow,
  trieExportRow,
  rlExportRows,
  sftCompletion,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportOptions,
  type ExportResult,
  type ExportTokenizer,
  type SftExportRow,
  type TrieExportRow,
  type RlExportRow,
} from './export.js';
export { SettingsMismatchError, type SettingDifference } from '../src/batch/setting-differences.js';
