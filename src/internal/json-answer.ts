/** Reading a JSON object out of an LLM's answer, which may wrap it in prose or a code fence. */

import { ThreadweaverError } from '../errors.js';

/**
 * An LLM answer with no usable JSON object, or one of the wrong shape; askChecked puts its message
 * to the LLM when it asks again.
 */
export class AnswerFormatError extends ThreadweaverError {
  override name = 'AnswerFormatError';
}

/** The first JSON object in `text`: a fenced block's content, else from the first `{` to the last `}`. */
export function parseJsonAnswer(text: string): unknown {
  const fenced = /```(?:json)?\s*\n([\s\S]*?)```/.exec(text);
  const body = fenced ? fenced[1]! : text;
  const start = body.indexOf('{');
  const end = body.lastIndexOf('}');
  if (start < 0) throw new AnswerFormatError('the answer holds no JSON object');
  if (end < start) throw new AnswerFormatError('the JSON object is never closed (was the answer cut off?)');
  try {
    return JSON.parse(body.slice(start, end + 1));
  } catch (err) {
    throw new AnswerFormatError(`the answer is not valid JSON (${(err as Error).message})`);
  }
}
