import type { TransformersEngineOptions } from '../engine/embedded/transformers.js';
import type { ChatMessage, Engine } from '../engine/types.js';
import type { Dialect } from '../format/dialect.js';
import type { FormatSpec } from '../format/dialects.js';
import type { Violation } from '../format/validate.js';
import type { ExtractPolicy } from '../math/extract.js';
import type { ControllerOptions } from '../orchestrator/controller.js';
import type { ControllerEvents } from '../orchestrator/events.js';
import type { Metrics } from '../orchestrator/metrics.js';
import type { PromptFormat, PromptStyle } from '../orchestrator/prompt.js';
import type { Trajectory, TrajectoryEnd } from '../orchestrator/trajectory.js';
import type { DecomposePolicy, Decomposition } from '../decompose/run.js';
import { ThreadweaverError } from '../errors.js';

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
  /**
   * A conversation's earlier turns, put before the problem through the chat template (the
   * problem is the last user turn). Assistant turns are their answers: give them without their
   * reasoning, as chat templates such as Qwen3's leave earlier reasoning out.
   */
  history?: readonly ChatMessage[] | undefined;
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

/** The outcome of solve(): the answer, the joined text, the trajectory and its metrics, and the strict format check. */
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
