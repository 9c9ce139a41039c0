import { completeAsConcurrentCalls } from '../../src/engine/siblings.js';
import { ThreadweaverError } from '../../src/errors.js';
import type { CompletionRequest, CompletionResult, Engine, Tokenizer } from '../../src/engine/types.js';

// A test-only engine for the controller's state machine: a character tokenizer (tags and
// chat markers are single tokens, like the bundled model's) and a script that maps the
// context text to what the "model" writes next.
const SPECIAL = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<unk>',
  '<think>',
  '</think>',
  '<Parallel>',
  '</Parallel>',
  '<Outlines>',
  '</Outlines>',
  '<Outline>',
  '</Outline>',
  '<Thread>',
  '</Thread>',
];
const SPLIT = new RegExp(`(${SPECIAL.map((s) => s.replace(/[|/]/g, (c) => '\\' + c)).join('|')})`);
export const EOS = '<|im_end|>';

class CharTokenizer implements Tokenizer {
  readonly eosIds = [2];
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const part of text.split(SPLIT)) {
      if (!part) continue;
      const special = SPECIAL.indexOf(part);
      if (special >= 0) ids.push(special);
      else for (const ch of part) ids.push(1000 + ch.codePointAt(0)!);
    }
    return ids;
  }
  decode(ids: readonly number[]): string {
    return ids.map((id) => (id < 1000 ? SPECIAL[id]! : String.fromCodePoint(id - 1000))).join('');
  }
  count(text: string): number {
    return this.encode(text).length;
  }
  applyChatTemplate(messages: readonly { role: string; content: string }[]): string {
    return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + '<|im_start|>assistant\n';
  }
  singleTokenId(text: string): number | undefined {
    const i = SPECIAL.indexOf(text);
    return i >= 0 ? i : undefined;
  }
}

/** What the model writes for a context; `EOS` marks the end token. Return an endless string for runaways. */
export type Script = (context: string) => string;

export interface ScriptedEngineOptions {
  contextLength?: number;
  /** Milliseconds per generated token (to test cancellation), or per context. */
  tokenDelayMs?: number | ((context: string) => number);
  /** Throw on the n-th call (0-based). */
  failOnCall?: number;
}

export class ScriptedEngine implements Engine {
  readonly name = 'scripted';
  readonly tokenizer = new CharTokenizer();
  readonly contextLength: number;
  readonly requests: { context: string; maxTokens: number; stop: readonly string[] }[] = [];

  constructor(
    private readonly script: Script,
    private readonly options: ScriptedEngineOptions = {},
  ) {
    this.contextLength = options.contextLength ?? 100_000;
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const startMs = Date.now();
    const context = typeof request.prompt === 'string' ? request.prompt : this.tokenizer.decode(request.prompt);
    if (this.options.failOnCall === this.requests.length) throw new Error('scripted failure');
    // As a model does: a prompt must leave room for a token, and a call ends at the context.
    const promptTokens = this.tokenizer.count(context);
    if (promptTokens === 0) throw new ThreadweaverError('scripted: empty prompt');
    if (promptTokens >= this.contextLength)
      throw new ThreadweaverError(
        `scripted: prompt of ${promptTokens} tokens does not fit the context of ${this.contextLength}`,
      );
    const maxTokens = Math.min(request.maxTokens, this.contextLength - promptTokens);
    const delayOption = this.options.tokenDelayMs;
    const delayMs = typeof delayOption === 'function' ? delayOption(context) : (delayOption ?? 0);
    this.requests.push({ context, maxTokens: request.maxTokens, stop: request.stop ?? [] });
    const planned = this.tokenizer.encode(this.script(context));
    const ids: number[] = [];
    const done = (finishReason: CompletionResult['finishReason'], matchedStop?: string): CompletionResult => ({
      text: this.tokenizer.decode(ids),
      ids,
      finishReason,
      ...(matchedStop ? { matchedStop } : {}),
      usage: { promptTokens, completionTokens: ids.length, source: 'tokenizer' },
      startMs,
      endMs: Date.now(),
    });
    for (let i = 0; ; i++) {
      if (request.signal?.aborted) return done('abort');
      if (ids.length >= maxTokens) return done('length');
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      else if (i % 64 === 0) await new Promise((r) => setImmediate(r));
      // An abort while it waited: no token after it.
      if (request.signal?.aborted) return done('abort');
      const id = planned[i];
      if (id === undefined || id === 2) return done('eos');
      ids.push(id);
      request.onDelta?.(this.tokenizer.decode([id]));
      const text = this.tokenizer.decode(ids);
      const stop = (request.stop ?? []).find((s) => text.endsWith(s));
      if (stop) return done('stop', stop);
    }
  }

  /** Siblings as concurrent single completions, like a remote engine. */
  completeSiblings(
    prefix: readonly number[],
    suffixes: readonly (readonly number[])[],
    request: Parameters<Engine['completeSiblings']>[2],
  ): Promise<CompletionResult[]> {
    return completeAsConcurrentCalls(
      (r) => this.complete(r),
      (ids) => this.tokenizer.decode(ids),
      prefix,
      suffixes,
      request,
    );
  }
}

/** A script from rules: the first rule whose test matches the context's tail writes its text. */
export function rules(...list: [RegExp, string][]): Script {
  return (context) => {
    for (const [re, out] of list) if (re.test(context)) return out;
    return `unexpected context${EOS}`;
  };
}
