import type { Engine } from '../engine/types.js';
import type { Dialect } from '../format/dialect.js';
import { resolveDialect } from '../format/dialects.js';
import type { ExtractPolicy } from '../math/extract.js';
import { withStyle, type PromptFormat, type PromptStyle } from '../orchestrator/prompt.js';
import { solve } from '../solve/solve.js';
import type { SolveOptions, SolveResult } from '../solve/types.js';

export type SampleMode = 'parallel' | 'sequential';

/** One sample of a batch run, as its solver is asked for it. */
export interface SampleRequest {
  mode: SampleMode;
  seed: number;
  temperature: number;
  topP: number;
  /** How the solver must extract the final answer (undefined: the solver's default). */
  extract?: ExtractPolicy | undefined;
  /** The response budget, every thread counted (undefined: the engine's context length). */
  maxTokens?: number | undefined;
  /** How the problem is put to the model (undefined: the solver's default); over `prompt.style`. */
  promptStyle?: PromptStyle | undefined;
  /** The whole prompt format (undefined: the solver's default). */
  prompt?: Partial<PromptFormat> | undefined;
  /** The trajectory format, as spec text (undefined: the solver's default). */
  format?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Which sample this is (for logging; solvers need not read it). */
  dataset: string;
  problemId: string;
  sample: number;
}

/** The figures of a solved sample that batch runs store. */
export interface SampleMetrics {
  totalTokens: number;
  criticalPathTokens: number;
  acceleration: number;
  parallelBlocks: number;
  threads: number;
  wallMs: number;
  /** Prompt tokens, when the solver counts them. */
  promptTokens?: number;
  /** The prompt's prefill time, when the engine reports it. */
  prefillMs?: number | null;
}

/** What a batch run needs back from a sample (solve()'s result has all of it). */
export interface SampleOutcome {
  /** The extracted final answer, or null when the trajectory has none. */
  answer: string | null;
  /** The full trajectory text. */
  text: string;
  /** Whether the trajectory passed the strict format check. */
  formatValid: boolean;
  metrics: SampleMetrics;
}

/**
 * Solves one sample of a batch run (eval, rollouts, SFT stage 2). `engineSolver` is the usual one;
 * tests and callers with their own decoding pass another.
 */
export type SampleSolver<R extends SampleOutcome = SampleOutcome> = (
  problem: string,
  request: SampleRequest,
) => Promise<R>;

/** solve() on `engine` for every sample, with `fixed` options over the request's (e.g. a budget). */
export function engineSolver(engine?: Engine, fixed: Partial<SolveOptions> = {}): SampleSolver<SolveResult> {
  // A run's samples share their format: its spec text is read once, not once per sample.
  const dialects = new Map<string, Dialect>();
  const dialectOf = (spec: string): Dialect => {
    let d = dialects.get(spec);
    if (!d) dialects.set(spec, (d = resolveDialect(spec)));
    return d;
  };
  return (problem, r) =>
    solve(problem, {
      ...(engine ? { engine } : {}),
      mode: r.mode,
      seed: r.seed,
      temperature: r.temperature,
      topP: r.topP,
      extract: r.extract,
      maxTokens: r.maxTokens,
      prompt: withStyle(r.prompt, r.promptStyle),
      format: r.format === undefined ? undefined : dialectOf(r.format),
      signal: r.signal,
      ...fixed,
    });
}
