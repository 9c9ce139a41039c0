export { ThreadweaverError } from './errors.js';
export { SettingsMismatchError, type SettingDifference } from './batch/setting-differences.js';
export { createRng, deriveSeed, type Rng } from './internal/random.js';
export { solve } from './solve/solve.js';
export { embeddedEngine, llamaCppEngine } from './engine/load.js';
export { SolveError, type SolveOptions, type SolveResult } from './solve/types.js';
export { solveStream, type SolveEvent } from './solve/stream.js';
export * from './format/index.js';
export type * from './engine/types.js';
export {
  TransformersEngine,
  type TransformersEngineOptions,
  type EngineStats,
} from './engine/embedded/transformers.js';
export { LlamaCppEngine, type LlamaCppEngineOptions, type LlamaCppEngineStats } from './engine/llama-cpp/engine.js';
export { LlamaCppUnavailableError, type LlamaGpu } from './engine/llama-cpp/errors.js';
export type { LlamaCppSampler } from './engine/llama-cpp/sampling.js';
export {
  convertToGguf,
  GGUF_WEIGHT_TYPES,
  type GgufConvertOptions,
  type GgufConvertResult,
  type GgufWeightType,
} from './engine/llama-cpp/convert.js';
export { GgufError } from './engine/llama-cpp/gguf.js';
export { bundledModelDir, resolveModelSource } from './engine/model-source.js';
export { OpenAIEngine, type OpenAIEngineOptions, type OpenAIEngineStats } from './engine/remote/openai.js';
export {
  RoutedEngine,
  type RoutedEngineOptions,
  type ProbePolicy,
  type RouterCounters,
  type ServerCounters,
} from './engine/remote/router.js';
export { RetriesExhaustedError, DEFAULT_RETRY_POLICY, type RetryPolicy } from './engine/remote/retry.js';
export {
  affinityPolicy,
  DEFAULT_AFFINITY_HEADERS,
  DEFAULT_AFFINITY_POLICY,
  type AffinityPolicy,
} from './engine/remote/affinity.js';
export { completeAsConcurrentCalls } from './engine/siblings.js';
export { startServer, type ServerOptions, type RunningServer } from './server/serve/server.js';
export { startGateway, type GatewayOptions } from './server/gateway/gateway.js';
export { Controller, type ControllerOptions, DEFAULT_MAX_TRANSITIONS } from './orchestrator/controller.js';
export {
  CONTROLLER_EVENTS,
  onControllerEvents,
  type ControllerEvents,
  type ControllerEvent,
  type ControllerEventName,
  type ControllerEventOf,
  type ControllerEventPayloads,
} from './orchestrator/events.js';
export {
  trajectoryMetrics,
  parallelStats,
  type Metrics,
  type ParallelStats,
  type BlockStats,
} from './orchestrator/metrics.js';
export {
  prefillLedger,
  PREFILL_PHASES,
  type PrefillLedger,
  type PrefillPhase,
  type PrefillTally,
  type JoinPrefill,
  type CallPrefill,
} from './orchestrator/ledger.js';
export {
  callContextIds,
  type Trajectory,
  type Call,
  type CallRole,
  type Piece,
  type TrajectoryEnd,
  type LimitHit,
} from './orchestrator/trajectory.js';
export {
  buildPrompt,
  promptMessages,
  promptFormat,
  DEFAULT_PROMPT_FORMAT,
  type PromptFormat,
  type PromptStyle,
} from './orchestrator/prompt.js';
export {
  loadPreset,
  builtinPresets,
  parsePreset,
  resolvePreset,
  presetEngineOptions,
  presetTokenizer,
  presetSampling,
  presetPromptFormat,
  DEFAULT_PRESET,
  type Preset,
  type PresetUse,
  type PresetOverrides,
  type PresetSettings,
  type ResolvedPreset,
} from './solve/preset.js';
export { extractAnswer, EXTRACT_POLICIES, type ExtractPolicy } from './math/extract.js';
export { DECOMPOSE_POLICIES, type DecomposePolicy, type Decomposition, type DecomposedPart } from './decompose/run.js';
export { extractByRules } from './decompose/rules.js';
export { partPrompts, type PromptSchema } from './decompose/schema.js';
