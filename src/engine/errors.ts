import { ThreadweaverError } from '../errors.js';

/**
 * What went wrong in an engine, for callers that act on it (a server answers `context-length`
 * with 400, retries `server` faults, reports `model` and `config` at start-up):
 * - `context-length`: the prompt (or the conversation) does not fit the model's context;
 * - `bad-request`: a request no model could run (an empty prompt);
 * - `model`: the model's files are missing or not what the engine reads;
 * - `config`: an engine option is wrong (a base URL, no servers);
 * - `server`: a server answered in a way the engine cannot use;
 * - `internal`: an engine invariant broke (a bug: please report it).
 */
export type EngineFailure = 'context-length' | 'bad-request' | 'model' | 'config' | 'server' | 'internal';

/** An engine's own error, with its failure kind; the error that caused it, if any, is `cause`. */
export class EngineError extends ThreadweaverError {
  override name = 'EngineError';
  constructor(
    message: string,
    readonly kind: EngineFailure,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
