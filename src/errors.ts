/**
 * The base class of every error the package throws on purpose, as openai-node's `OpenAIError` is
 * of its own: `err instanceof ThreadweaverError` tells a failure the package named (a bad dataset
 * line, an engine that failed, a rerun with other settings) from a bug or a Node error. An error
 * caused by another keeps it as `cause`.
 */
export class ThreadweaverError extends Error {
  override name = 'ThreadweaverError';
}
