import { bindSession, newAffinityKey } from '../engine/session.js';
import { embeddedEngine } from '../engine/load.js';
import { activeControls } from '../engine/sampling.js';
import type { Engine } from '../engine/types.js';
import { extractAnswer } from '../math/extract.js';
import { Controller } from '../orchestrator/controller.js';
import { deliverEvent, onControllerEvents, type ControllerEvent } from '../orchestrator/events.js';
import { trajectoryMetrics } from '../orchestrator/metrics.js';
import { buildPrompt, withStyle, type PromptFormat } from '../orchestrator/prompt.js';
import { findSchema, runParts, type DecomposeRunOptions, type Decomposition } from '../decompose/run.js';
import { checkSolveOptions } from './options.js';
import { SolveError, type SolveOptions, type SolveResult } from './types.js';
import { ThreadweaverError } from '../errors.js';

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
  if (typeof problem !== 'string' || problem.trim() === '') throw new ThreadweaverError('solve: the problem is empty');
  const dialect = checkSolveOptions(options);
  const given =
    options.engine ??
    (await embeddedEngine(defined({ model: options.model, dtype: options.dtype, threads: options.threads })));
  // One key for every call of this problem: a router keeps them on one server (and a RoutedEngine too).
  const affinityKey = options.affinityKey ?? newAffinityKey();
  const engine = bindSession(given, affinityKey);
  const mode = options.mode ?? 'parallel';
  const unhonoured = activeControls(options.controls ?? {}).filter((c) => !engine.samplingControls?.includes(c));
  if (unhonoured.length > 0) {
    throw new TypeError(
      `solve: option 'controls.${unhonoured[0]}': the engine ${engine.name} cannot honour it (it honours ${engine.samplingControls?.join(', ') || 'none of the controls'})`,
    );
  }
  const format = withStyle(options.prompt, options.promptStyle);
  const prompt = buildPrompt(engine.tokenizer, problem, mode, format, options.system, dialect.name, options.history);
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
  /** Options of the run as one task: a schema extraction that found none has spent part of the budget. */
  let runOptions = options;
  if (options.decompose) {
    const o = decomposeOptions({ ...options, affinityKey }, format, handle);
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
    const spent = found.extraction?.tokens ?? 0;
    if (spent > 0)
      runOptions = { ...options, maxTokens: Math.max(0, (options.maxTokens ?? engine.contextLength) - spent) };
  }
  const promptTokens = engine.tokenizer.count(prompt);
  const contextLimit = Math.min(options.contextLimit ?? engine.contextLength, engine.contextLength);
  if (promptTokens >= contextLimit)
    warnings.push(
      `the prompt (${promptTokens} tokens) leaves no room in the context limit of ${contextLimit} tokens: nothing was generated`,
    );

  const controller = new Controller(engine, dialect);
  onControllerEvents(controller, handle);
  const trajectory = await controller.run(problem, prompt, { ...runOptions, affinityKey });
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
  const { decompose, system, maxTokens, contextLimit, temperature, topP, seed, signal, extract, affinityKey } = o;
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
    affinityKey,
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
