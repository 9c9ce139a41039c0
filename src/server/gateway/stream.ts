import type { Tokenizer } from '../../engine/types.js';
import type { SolveEvent } from '../../solve/stream.js';
import { type SolveResult } from '../../solve/types.js';
import { finishReason, reasoningEnd, reasoningFields, runReport, usage, type ReasoningOutput } from './reply.js';
import { OrderedText, ReasoningSplitter, splitReasoning, type Channels, type ThinkTags } from './text-stream.js';
import { ThreadweaverError } from '../../errors.js';

export interface StreamOptions {
  /** `id`, `object`, `created`, `model`, `system_fingerprint` of every chunk. */
  head: object;
  /** Send the controller's events in the chunks' `threadweaver` field. */
  events: boolean;
  /** A last chunk with `usage` (stream_options.include_usage). */
  includeUsage: boolean;
  tokenizer: Tokenizer;
  /** The format's reasoning tags (default `<think>`; null: the format has none, all is content). */
  think?: ThinkTags | null;
  /** Which delta field(s) carry the reasoning, with or without its tags. */
  reasoning?: ReasoningOutput;
}

/** An event as it travels in a chunk: the controller's, minus what the chunk's own delta carries. */
function wireEvent(e: SolveEvent): object | undefined {
  switch (e.type) {
    case 'phase':
    case 'delta':
    case 'outlines':
    case 'thread:start':
    case 'thread:delta':
    case 'thread:end':
      return e;
    case 'join':
      return { type: e.type, block: e.block };
    default:
      return undefined; // text, done, error and result are the stream itself or its end
  }
}

/**
 * A run as chat-completion chunks: `delta.reasoning` / `delta.reasoning_content`, then `delta.content`, in trajectory
 * order (sequential text as it is decoded, a block's threads when it joins), each controller event
 * in a chunk's `threadweaver` field, then the chunk with `finish_reason` and the run's report (and
 * the usage chunk when asked). Returns the result (an aborted run is not finished here).
 */
export async function* streamRun(
  events: AsyncIterable<SolveEvent>,
  o: StreamOptions,
): AsyncGenerator<object, SolveResult | undefined, undefined> {
  const chunk = (delta: object, extra: { threadweaver?: object; finish?: string | null } = {}) => ({
    ...o.head,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: extra.finish ?? null }],
    ...(extra.threadweaver ? { threadweaver: extra.threadweaver } : {}),
  });
  const ordered = new OrderedText();
  const think = o.think === undefined ? undefined : o.think;
  const split = { think, keepTags: o.reasoning?.keepTags };
  const splitter = new ReasoningSplitter(split);
  let streamed: Channels = { reasoning: '', content: '' };
  // The channels' new text as chunks; the event rides on the first one (or alone when there is none).
  const emit = (c: Channels, event?: object): object[] => {
    streamed = { reasoning: streamed.reasoning + c.reasoning, content: streamed.content + c.content };
    const parts: object[] = [];
    if (c.reasoning) parts.push(reasoningFields(c.reasoning, o.reasoning?.field));
    if (c.content) parts.push({ content: c.content });
    if (parts.length === 0 && event) parts.push({});
    return parts.map((delta, i) => chunk(delta, i === 0 && event ? { threadweaver: event } : {}));
  };

  yield chunk({ role: 'assistant', content: '' });
  for await (const e of events) {
    const event = o.events ? wireEvent(e) : undefined;
    if (e.type === 'delta') yield* emit(splitter.push(ordered.preview(e.text)), event);
    else if (e.type === 'text') yield* emit(splitter.push(ordered.append(e.text)));
    else if (e.type === 'result') {
      const r = e.result;
      if (r.finishReason === 'abort') return r;
      yield* emit(splitter.finish());
      const whole = splitReasoning(r.text, split);
      if (whole.reasoning !== streamed.reasoning || whole.content !== streamed.content) {
        throw new ThreadweaverError(
          'the streamed text differs from the trajectory (an engine whose deltas do not add up to its text)',
        );
      }
      yield chunk({}, { finish: finishReason(r.finishReason), threadweaver: { type: 'done', ...runReport(r) } });
      if (o.includeUsage) {
        yield { ...o.head, choices: [], usage: usage(r.trajectory, o.tokenizer, reasoningEnd(r.text, think)) };
      }
      return r;
    } else if (event) yield* emit({ reasoning: '', content: '' }, event);
  }
  return undefined;
}
