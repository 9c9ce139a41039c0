import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { CompletionCreateParamsStreaming } from 'openai/resources/completions';
import { z } from 'zod';
import { ThreadweaverError } from '../../errors.js';
import { EngineError } from '../errors.js';
import { abortError, describe, StreamInterruptedError } from './retry.js';
import { completionChunkSchema, reportedStop, type WireUsage } from './wire.js';

/** A choice as the server returned it, whole or put together from its chunks. */
export interface ServerChoice {
  text: string;
  finishReason: string | null;
  /** Undefined: the server did not report one. */
  stopReason?: string | number | null;
  tokenIds?: readonly number[];
}

/** What one completion request brought back. */
export interface ServerCompletion {
  choice: ServerChoice;
  usage: WireUsage;
  /** Text-bearing chunks of a streamed reply (1 for a whole one). */
  chunks: number;
}

/**
 * Called with each piece of a streamed choice: its text and, when the server sends them per
 * chunk (vLLM's `return_token_ids`, `threadweaver serve`), the ids sampled since the last
 * chunk. Text can lag its ids (half a character waits for its other bytes) but never leads them.
 * A callback that throws stops the stream (the request is cancelled) and its error is rethrown.
 */
export type ChunkSink = (text: string, ids: readonly number[] | undefined) => void;

/** Thrown by a ChunkSink to leave a stream: passed through untouched. */
export class StreamStop extends ThreadweaverError {
  override name = 'StreamStop';
}

/**
 * One streamed `/v1/completions` request (`stream: true`, usage from
 * `stream_options.include_usage`), read chunk by chunk. `idleMs` bounds the wait for the head
 * and then for each next event: a stream that goes quiet that long is cut (a `timeout`).
 * A stream that breaks after its head (dropped, an error event, ended before its
 * `finish_reason`) is a StreamInterruptedError; the caller's abort an AbortError. Failures
 * before the head are the openai client's own errors, as for a whole completion.
 */
export async function readCompletionStream(
  client: OpenAI,
  body: Omit<CompletionCreateParamsStreaming, 'stream'>,
  options: {
    signal?: AbortSignal | undefined;
    idleMs: number;
    onChunk?: ChunkSink | undefined;
    /** Sent with the request (a router's affinity headers). */
    headers?: Record<string, string> | undefined;
  },
): Promise<ServerCompletion> {
  const stream = await client.completions.create(
    { ...body, stream: true, stream_options: { include_usage: true } },
    {
      timeout: options.idleMs,
      maxRetries: 0,
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  let quiet = false;
  let timer: NodeJS.Timeout | undefined;
  const watch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      quiet = true;
      stream.controller.abort();
    }, options.idleMs);
  };
  const ids: number[] = [];
  let idsSeen = false;
  let text = '';
  let chunks = 0;
  let finishReason: string | null = null;
  let stop: { stopReason?: string | number | null } = {};
  let usage: WireUsage;
  watch();
  try {
    // openai's stream ends quietly (no throw) when it is aborted: the flags below tell why it ended.
    for await (const raw of stream as AsyncIterable<unknown>) {
      watch();
      const parsed = completionChunkSchema.safeParse(raw);
      if (!parsed.success) {
        throw new EngineError(`completion stream: unexpected chunk: ${z.prettifyError(parsed.error)}`, 'server');
      }
      if (parsed.data.usage) usage = parsed.data.usage;
      const c = parsed.data.choices.find((x) => (x.index ?? 0) === 0);
      if (!c) continue;
      const piece = c.text ?? '';
      if (c.token_ids) {
        idsSeen = true;
        ids.push(...c.token_ids);
      }
      if (c.finish_reason) {
        finishReason = c.finish_reason;
        stop = reportedStop(c);
      }
      if (piece !== '' || (c.token_ids?.length ?? 0) > 0) {
        chunks++;
        text += piece;
        options.onChunk?.(piece, c.token_ids ?? undefined);
      }
    }
  } catch (err) {
    throw interruption(err, options.signal);
  } finally {
    clearTimeout(timer);
  }
  if (options.signal?.aborted) throw abortError();
  if (quiet) throw new StreamInterruptedError('timeout', `the stream sent nothing for ${options.idleMs} ms`);
  if (finishReason === null) {
    throw new StreamInterruptedError('connection', 'the stream ended before the completion finished');
  }
  return {
    choice: { text, finishReason, ...stop, ...(idsSeen ? { tokenIds: ids } : {}) },
    usage,
    chunks,
  };
}

/** A failure while reading the stream, as the retry loop should see it. */
function interruption(err: unknown, signal: AbortSignal | undefined): unknown {
  if (err instanceof StreamStop || err instanceof StreamInterruptedError) return err;
  if (signal?.aborted) return abortError();
  // An `error` event in the stream (vLLM sends one when the engine fails mid-generation).
  if (err instanceof APIError && err.status === undefined) {
    return new StreamInterruptedError('server', `the server sent an error event: ${err.message}`, { cause: err });
  }
  if (err instanceof ThreadweaverError) return err;
  return new StreamInterruptedError('connection', `the stream broke: ${describe(err)}`, { cause: err });
}
