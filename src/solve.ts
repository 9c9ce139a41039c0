import { bindSession } from './engine/session.js';
import { TransformersEngine, type TransformersEngineOptions } from './engine/transformers.js';
import type { Engine } from './engine/types.js';
import type { Dialect } from './format/dialect.js';
import { resolveDialect, type FormatSpec } from './format/dialects.js';
import type { Violation } from './format/validate.js';
import { extractAnswer, type ExtractPolicy } from './math/extract.js';
import { Controller, type ControllerOptions } from './orchestrator/controller.js';
import {
  deliverEvent,
  onControllerEvents,
  type ControllerEvent,
  type ControllerEvents,
} from './orchestrator/events.js';
import { trajectoryMetrics, type Metrics } from './orchestrator/metrics.js';
import { buildPrompt, type PromptFormat, type PromptStyle } from './orchestrator/prompt.js';
import { checkSolveOptions } from './solve-options.js';
import {
  findSchema,
  runParts,
  type DecomposePolicy,
  type DecomposeRunOptions,
  type Decomposition,
} from './decompose/run.js';
import type { Trajectory, TrajectoryEnd } from './orchestrator/trajectory.js';
import { ThreadweaverError } from './errors.js';

/** solve()'s options; as with the controller's, an undefined option is the default (checked by checkSolveOptions). */
export interface SolveOptions extends ControllerOptions {
  /** The embedded engine's model: a local folder or Hugging Face id (default: the bundled model). */
  model?: string | undefined;
  /** The embedded engine's ONNX weights (see TransformersEngineOptions). */
  dtype?: TransformersEngineOptions['dtype'] | undefined;
  /** The embedded engine's onnxruntime threads (see TransformersEngineOptions). */
  threads?: number | undefined;
  /** Any Engine; default: the embedded engine on `model` (default: the bundled model). */
  engine?: Engine | undefined;
  /** How the problem becomes the prompt (suffix, system message, template variables); a preset's `prompt`. */
  prompt?: Partial<PromptFormat> | undefined;
  /** Shorthand for `prompt.style` (and over it). */
  promptStyle?: PromptStyle | undefined;
  /** How the final answer is found in the text (see extractAnswer). Default 'boxed'. */
  extract?: ExtractPolicy | undefined;
  /** System text of the caller's own (e.g. a chat client's system messages), put to the model with the problem. */
  system?: string | undefined;
  /** Listeners for the controller's typed events (each gets the tagged event, as solveStream yields it). */
  on?: Partial<ControllerEvents> | undefined;
  /**
   * The trajectory format the model writes: `threadweaver` (default), `multiverse`,
   * `parallel-r1`, `npr`, with settings (`parallel-r1:paths=4`, `{ name: 'multiverse', depth: 3 }`),
   * or any Dialect. It decides where the controller forks and joins, the strict check, and T/L.
   */
  format?: string | FormatSpec | Dialect | undefined;
  /**
   * Prompt-level forks, for models never trained to fork: find the prompt's independent inputs
   * (`rules`: explicit lists only; `model`: the model's JSON schema; `auto`: the rules, then the
   * model), answer each with its own completion, all at once, and join the answers in order. A
   * prompt without inputs runs as one task (`decomposition.reason` says why).
   */
  decompose?: DecomposePolicy | undefined;
}

export interface SolveResult {
  /** The final answer (by default the content of the last `\boxed{}` after `</think>`), or null. */
  answer: string | null;
  /** The completion: the joined trajectory text. */
  text: string;
  trajectory: Trajectory;
  metrics: Metrics;
  finishReason: TrajectoryEnd;
  /** Strict format violations of the joined text (empty when valid). */
  violations: Violation[];
  formatValid: boolean;
  /** Things worth knowing that did not stop the run (e.g. characters the tokenizer lacks). */
  warnings: string[];
  /** The trajectory format the run read (absent: threadweaver). */
  format?: Dialect;
  /** With `decompose`: the schema, the parts and their answers (or why the prompt ran as one task). */
  decomposition?: Decomposition;
}

/**
 * The engine failed (server down, model error). `cause` is the engine's own error (e.g. the
 * openai client's APIError with its status, or a RetriesExhaustedError); the partial trajectory
 * is attached.
 */
export class SolveError extends ThreadweaverError {
  override name = 'SolveError';
  constructor(
    message: string,
    readonly trajectory: Trajectory,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const engines = new Map<string, Promise<TransformersEngine>>();

/** The embedded engine for these options, loaded once per model and dtype. */
export function embeddedEngine(options: TransformersEngineOptions = {}): Promise<TransformersEngine> {
  // Every option that changes the loaded engine is part of the key (a cached engine with the prefix
  // cache on must not answer a caller who turned it off).
  const key = JSON.stringify([
    options.model ?? null,
    options.dtype ?? 'q8',
    options.threads ?? null,
    options.prefixCache ?? true,
    options.graph ?? 'auto',
    options.cascade ?? true,
    options.cascadeMinPrefix ?? null,
  ]);
  let engine = engines.get(key);
  if (!engine) {
    engine = TransformersEngine.load(options);
    engines.set(key, engine);
    engine.catch(() => engines.delete(key));
  }
  return engine;
}

/**
 * Solve one problem with fork/join reasoning (or sequentially with `mode: 'sequential'`).
 * Options are checked first: a wrong or unknown one is a TypeError naming it and what it accepts.
 */
export function solve(problem: string, options: SolveOptions = {}): Promise<SolveResult> {
  return runSolve(problem, options);
}

/** solve(), with every controller event also handed to `onEvent` as it happens (solveStream's source). */
export async function runSolve(
  problem: string,
  options: SolveOptions,
  onEvent?: (e: ControllerEvent) => void,
): Promise<SolveResult> {
  if (typeof problem !== 'string' || problem.trim() === '') throw new Error('solve: the problem is empty');
  checkSolveOptions(options);
  const engine =
    options.engine ??
    (await embeddedEngine(defined({ model: options.model, dtype: options.dtype, threads: options.threads })));
  const mode = options.mode ?? 'parallel';
  const dialect = resolveDialect(options.format);
  const format = { ...options.prompt, ...(options.promptStyle ? { style: options.promptStyle } : {}) };
  const prompt = buildPrompt(engine.tokenizer, problem, mode, format, options.system, dialect.name);
  const warnings = unknownCharWarnings(engine, problem);
  // Every event goes to the caller's listeners and `onEvent`; an engine's error is kept as the cause.
  const listeners = options.on ?? {};
  let failure: Error | undefined;
  const handle = (e: ControllerEvent) => {
    if (e.type === 'error') failure = e.error;
    deliverEvent(listeners, e);
    onEvent?.(e);
  };
  let decomposition: Decomposition | undefined;
  if (options.decompose) {
    const o = decomposeOptions(options, format, handle);
    const found = await findSchema(engine, problem, o);
    if (found.schema) {
      const run = await runParts(engine, problem, found.schema, found, o);
      if (run.trajectory.finishReason === 'error')
        throw new SolveError(`solve: the engine failed: ${run.trajectory.error}`, run.trajectory, { cause: failure });
      return {
        answer: run.answer,
        text: run.trajectory.text,
        trajectory: run.trajectory,
        metrics: run.metrics,
        finishReason: run.trajectory.finishReason,
        violations: [],
        formatValid: true,
        warnings,
        decomposition: { ...found, parts: run.parts },
      };
    }
    decomposition = { ...found, parts: [] };
    warnings.push(`not decomposed, run as one task: ${found.reason}`);
  }
  const promptTokens = engine.tokenizer.count(prompt);
  const contextLimit = Math.min(options.contextLimit ?? engine.contextLength, engine.contextLength);
  if (promptTokens >= contextLimit)
    warnings.push(
      `the prompt (${promptTokens} tokens) leaves no room in the context limit of ${contextLimit} tokens: nothing was generated`,
    );

  // Engines with sessions (several servers) keep every call of this problem on one server.
  const controller = new Controller(bindSession(engine, prompt), dialect);
  onControllerEvents(controller, handle);
  const trajectory = await controller.run(problem, prompt, options);
  if (trajectory.finishReason === 'error') {
    throw new SolveError(`solve: the engine failed: ${trajectory.error}`, trajectory, { cause: failure });
  }
  const violations = dialect.validate(trajectory.text);
  // Rails the controller enforced (a plan cut, a fork refused) are worth knowing; the run went on.
  for (const hit of trajectory.limits ?? []) warnings.push(`limit: ${hit.message}`);
  return {
    answer: extractAnswer(trajectory.text, options.extract),
    text: trajectory.text,
    trajectory,
    metrics: trajectoryMetrics(trajectory, engine.tokenizer, dialect),
    finishReason: trajectory.finishReason,
    violations,
    formatValid: violations.length === 0,
    warnings,
    ...(dialect.name !== 'threadweaver' ? { format: dialect } : {}),
    ...(decomposition ? { decomposition } : {}),
  };
}

/** The options of a decomposed run, from solve()'s. */
function decomposeOptions(
  o: SolveOptions,
  prompt: Partial<PromptFormat>,
  onEvent: (e: ControllerEvent) => void,
): DecomposeRunOptions {
  const { decompose, system, maxTokens, contextLimit, temperature, topP, seed, signal, extract } = o;
  return {
    policy: decompose!,
    prompt,
    onEvent,
    system,
    maxTokens,
    contextLimit,
    temperature,
    topP,
    seed,
    signal,
    extract,
  };
}

/** The fields that are set, for options whose types leave a field out rather than undefined. */
function defined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

function unknownCharWarnings(engine: Engine, problem: string): string[] {
  const unk = engine.tokenizer.singleTokenId('<unk>');
  if (unk === undefined) return [];
  const ids = engine.tokenizer.encode(problem);
  const count = ids.filter((id) => id === unk).length;
  return count > 0
    ? [`${count} character(s) of the problem are unknown to the ${engine.name} tokenizer and were read as <unk>`]
    : [];
}
