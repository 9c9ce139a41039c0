import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { ThreadweaverError } from '../../errors.js';
import { decodedResult } from '../result.js';
import { cutResult, shareBudget, siblingSampling } from '../siblings.js';
import { StopMatcher } from '../stop.js';
import { withoutChatTemplate } from '../plain-template.js';
import type {
  CompletionRequest,
  CompletionResult,
  Engine,
  FinishReason,
  SamplingOptions,
  Tokenizer,
} from '../types.js';
import type { LlamaGpu } from './errors.js';
import { llamaRuntime, serializeSampling } from './native.js';
import { DEFAULT_CANDIDATES, rowSampler, type LlamaCppSampler, type RowSampler } from './sampling.js';
import { commonPrefix, SequencePool, type Slot } from './sequences.js';
import { GgufTokenizer } from './tokenizer.js';

/** How the llama.cpp engine loads a GGUF file: threads, GPU, sequences, sampler, context length, chat template. */
export interface LlamaCppEngineOptions {
  /** The GGUF file. */
  model: string;
  /** `auto` (default): the GPU build node-llama-cpp finds (Metal, CUDA, Vulkan), else the CPU; `false`: the CPU. */
  gpu?: LlamaGpu;
  /**
   * CPU threads llama.cpp uses. Default: 1 for a file under 64 MB (its ops are too small to split,
   * and llama.cpp's threads spin while they wait: on a busy machine two threads on the bundled
   * model decoded ten times slower than one), else node-llama-cpp's (every math core).
   */
  threads?: number;
  /**
   * Max prompt + completion tokens of one call (default: the file's training context, at most
   * 8192). Every sequence reserves this many KV cells: memory is `sequences` full contexts.
   */
  contextLength?: number;
  /** An upper bound on the default context length (a preset's: what the checkpoint was trained for). */
  maxContextLength?: number;
  /**
   * Sequences of the context (default 5): one per row that decodes at once, so the controller and
   * up to 4 threads, or concurrent calls. A sibling call with more threads decodes them in waves.
   */
  sequences?: number;
  /** Who samples when the temperature is above 0 (see ./sampling.ts; default `threadweaver`). */
  sampler?: LlamaCppSampler;
  /** Candidates llama.cpp hands the `threadweaver` sampler per token (default 256). */
  candidates?: number;
  /**
   * How a sibling call gives each thread the shared prefix: `copy` (default) copies the KV cells
   * of the sequence that evaluated it (a state save and load), falling back to `evaluate`
   * (evaluating the prefix again in each sequence) when the copy fails.
   */
  fork?: 'copy' | 'evaluate';
  /** `none`: no chat template, the prompt is the bare message text (base models). */
  chatTemplate?: 'model' | 'none';
}

/** Files below this size run on one CPU thread by default (see `LlamaCppEngineOptions.threads`). */
const SMALL_MODEL_BYTES = 64 * 2 ** 20;

/** Defaults that size the context (memory grows with both). */
export const DEFAULT_SEQUENCES = 5;
export const DEFAULT_MAX_CONTEXT = 8192;

/** Counters for benchmarks and reports. */
export interface LlamaCppEngineStats {
  calls: number;
  /** Prompt tokens evaluated (prefill), and those a sequence already held. */
  prefillTokens: number;
  cachedPromptTokens: number;
  /** Decode steps (one token for every live row). */
  decodeSteps: number;
  /** Sibling rows given their prefix by a state copy, or by evaluating it again. */
  forkCopies: number;
  forkEvaluations: number;
  copyMs: number;
  /** Sibling calls with more rows than sequences (decoded in waves, the shared budget applied after). */
  waves: number;
}

/** One row of a call: its prompt, how it samples, where its text goes. */
interface RowPlan {
  prompt: readonly number[];
  sampling: SamplingOptions;
  onDelta: ((delta: string) => void) | undefined;
}

interface LiveRow {
  plan: RowPlan;
  index: number;
  slot: Slot;
  sampler: RowSampler;
  stop: StopMatcher;
  ids: number[];
  gen: AsyncGenerator<{ token: Token; probabilities?: Map<Token, number> }, void, Token | undefined> | undefined;
  feed: number | undefined;
}

type SiblingRequest = Parameters<Engine['completeSiblings']>[2];
type RunRequest = Pick<CompletionRequest, 'maxTokens' | 'stop' | 'signal' | 'cacheScope'> & { maxTotalTokens?: number };

/**
 * An engine running a GGUF file in-process through llama.cpp (node-llama-cpp). Each row of a call
 * decodes in a sequence of one context; sibling threads step in lockstep, one token each per
 * llama.cpp decode, each with its own stops and seed. Sequences keep their KV cells between calls,
 * so a call reuses the longest prefix any free sequence holds (erasing what differs, evaluating
 * the rest), and thread 1 of a block goes on in the sequence that holds the context, leaving its
 * cache in place for the join.
 */
export class LlamaCppEngine implements Engine {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  readonly contextLength: number;
  readonly stats: LlamaCppEngineStats = {
    calls: 0,
    prefillTokens: 0,
    cachedPromptTokens: 0,
    decodeSteps: 0,
    forkCopies: 0,
    forkEvaluations: 0,
    copyMs: 0,
    waves: 0,
  };
  /** What was loaded: the GGUF file, the backend, the sampler. */
  readonly loaded: { file: string; gpu: string | false; sampler: LlamaCppSampler; sequences: number };
  private readonly pool: SequencePool;
  private readonly sampler: LlamaCppSampler;
  private readonly candidates: number;
  private readonly fork: 'copy' | 'evaluate';
  private readonly eos: Set<number>;
  private stateFiles = 0;

  private constructor(
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    sequences: LlamaContextSequence[],
    private readonly stateDir: string,
    options: LlamaCppEngineOptions,
    contextLength: number,
    gpu: string | false,
  ) {
    this.name = `llama-cpp:${path.basename(options.model).replace(/\.gguf$/i, '')}`;
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    const tokenizer = new GgufTokenizer(model, typeof template === 'string' ? template : undefined);
    this.tokenizer = options.chatTemplate === 'none' ? withoutChatTemplate(tokenizer) : tokenizer;
    this.contextLength = contextLength;
    this.pool = new SequencePool(sequences);
    this.sampler = options.sampler ?? 'threadweaver';
    this.candidates = options.candidates ?? DEFAULT_CANDIDATES;
    this.fork = options.fork ?? 'copy';
    this.eos = new Set(this.tokenizer.eosIds);
    this.loaded = { file: path.resolve(options.model), gpu, sampler: this.sampler, sequences: sequences.length };
  }

  static async load(options: LlamaCppEngineOptions): Promise<LlamaCppEngine> {
    const file = path.resolve(options.model);
    if (!existsSync(file) || !statSync(file).isFile())
      throw new ThreadweaverError(`model: GGUF file not found: ${file}`);
    const sequences = options.sequences ?? DEFAULT_SEQUENCES;
    if (!(Number.isInteger(sequences) && sequences >= 1))
      throw new ThreadweaverError(`sequences must be a whole number ≥ 1, got ${sequences}`);
    const llama = await llamaRuntime(options.gpu ?? 'auto');
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: file });
    } catch (err) {
      throw new ThreadweaverError(`model: llama.cpp cannot load ${file}: ${(err as Error).message}`, { cause: err });
    }
    const trained = model.trainContextSize;
    const contextLength =
      options.contextLength ?? Math.min(trained, DEFAULT_MAX_CONTEXT, options.maxContextLength ?? Infinity);
    const threads = options.threads ?? (statSync(file).size < SMALL_MODEL_BYTES ? 1 : undefined);
    let context: LlamaContext;
    try {
      context = await model.createContext({
        contextSize: contextLength,
        sequences,
        ...(threads !== undefined ? { threads } : {}),
        failedCreationRemedy: false,
      });
    } catch (err) {
      await model.dispose();
      throw new ThreadweaverError(
        `model: no room for ${sequences} sequences of ${contextLength} tokens (${(err as Error).message}); ` +
          'lower the context length or the sequences (docs/llama-cpp.md: memory)',
        { cause: err },
      );
    }
    serializeSampling(context);
    const seqs = Array.from({ length: sequences }, () => context.getSequence());
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'threadweaver-llama-'));
    return new LlamaCppEngine(model, context, seqs, stateDir, options, contextLength, llama.gpu);
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const prompt = typeof request.prompt === 'string' ? this.tokenizer.encode(request.prompt) : [...request.prompt];
    const [result] = await this.run([{ prompt, sampling: request, onDelta: request.onDelta }], request, false);
    return result!;
  }

  async completeSiblings(
    prefix: readonly number[],
    suffixes: readonly (readonly number[])[],
    request: SiblingRequest,
  ): Promise<CompletionResult[]> {
    if (suffixes.length === 0) return [];
    const plans = suffixes.map((suffix, i): RowPlan => ({
      prompt: [...prefix, ...suffix],
      sampling: siblingSampling(request, i),
      onDelta: request.onDelta ? (d: string) => request.onDelta!(i, d) : undefined,
    }));
    if (plans.length <= this.pool.size) return this.run(plans, request, true);
    // More rows than sequences: waves, each capped one token over the shared budget, which is then
    // applied in lockstep as if all had decoded together (as siblings on separate calls are).
    this.stats.waves++;
    const total = request.maxTotalTokens;
    const capped = { ...request, maxTokens: Math.min(request.maxTokens, total === undefined ? Infinity : total + 1) };
    delete capped.maxTotalTokens;
    const quiet = plans.map((p) => ({ ...p, onDelta: undefined }));
    const results: CompletionResult[] = [];
    for (let i = 0; i < quiet.length; i += this.pool.size)
      results.push(...(await this.run(quiet.slice(i, i + this.pool.size), capped, true)));
    const shares =
      total === undefined
        ? results.map((r) => r.ids.length)
        : shareBudget(
            results.map((r) => r.ids.length),
            total,
          );
    return results.map((r, i) => {
      const kept = cutResult(r, shares[i]!, (ids) => this.tokenizer.decode(ids));
      if (kept.text) plans[i]!.onDelta?.(kept.text);
      return kept;
    });
  }

  /**
   * Decode every row at once, one sequence each, in lockstep. Rows that share a prefix get it
   * once: the first row's sequence evaluates it and the others copy its cells (or evaluate it).
   */
  private async run(plans: readonly RowPlan[], request: RunRequest, siblings: boolean): Promise<CompletionResult[]> {
    const startMs = Date.now();
    const t0 = performance.now();
    this.stats.calls++;
    const longest = Math.max(...plans.map((p) => p.prompt.length));
    if (longest === 0) throw new ThreadweaverError('complete: empty prompt');
    if (longest >= this.contextLength) {
      throw new ThreadweaverError(
        `complete: prompt of ${longest} tokens does not fit the context of ${this.contextLength}`,
      );
    }
    const maxTokens = Math.max(0, Math.min(request.maxTokens, this.contextLength - longest));
    const samplers = plans.map((p) => rowSampler(p.sampling, this.sampler, this.candidates));
    // What every row shares, short of a whole prompt (each row must evaluate a token of its own).
    let shared =
      plans.length > 1 ? plans.reduce((n, p) => Math.min(n, commonPrefix(p.prompt, plans[0]!.prompt)), longest) : 0;
    if (plans.some((p) => p.prompt.length === shared)) shared--;
    const base = plans[0]!.prompt.slice(0, Math.max(0, shared));

    const slots = await this.pool.acquire(plans.length, plans.length > 1 ? base : plans[0]!.prompt);
    const rows: LiveRow[] = plans.map((plan, index) => ({
      plan,
      index,
      slot: slots[index]!,
      sampler: samplers[index]!,
      stop: new StopMatcher(request.stop ?? [], (s) => this.tokenizer.singleTokenId(s)),
      ids: [],
      gen: undefined,
      feed: undefined,
    }));
    const results = new Array<CompletionResult>(plans.length);
    let cached = 0;
    let prefillMs = 0;
    const finish = async (row: LiveRow, reason: FinishReason, matchedStop?: string) => {
      await row.gen?.return(undefined);
      row.gen = undefined;
      results[row.index] = decodedResult(this.tokenizer, row.ids, reason, matchedStop, {
        promptTokens: row.plan.prompt.length,
        cachedPromptTokens: cached,
        prefillMs,
        startMs,
      });
    };
    try {
      const prepared = await this.prepare(rows, base, siblings);
      const todo = prepared.todo;
      cached = prepared.cached;
      if (maxTokens === 0 || request.signal?.aborted) {
        for (const row of rows) await finish(row, request.signal?.aborted ? 'abort' : 'length');
        return results;
      }
      for (const row of rows) {
        row.gen = row.slot.seq.evaluateWithMetadata(
          todo[row.index]!,
          { probabilities: row.sampler.probabilities },
          { ...row.sampler.native, yieldEogToken: true },
        );
      }
      let live = rows;
      let first = true;
      const maxTotal = request.maxTotalTokens ?? Infinity;
      let total = 0;
      while (live.length > 0) {
        // One llama.cpp decode for all live rows: their evaluations are queued in the same tick.
        const outs = await Promise.all(live.map((r) => r.gen!.next(r.feed as Token | undefined)));
        if (first) {
          prefillMs = performance.now() - t0;
          first = false;
        } else this.stats.decodeSteps++;
        const next: LiveRow[] = [];
        for (let i = 0; i < live.length; i++) {
          const row = live[i]!;
          const out = outs[i]!;
          if (request.signal?.aborted) {
            await finish(row, 'abort');
            continue;
          }
          if (out.done) throw new ThreadweaverError('llama.cpp ended a sequence without a token');
          const id = row.sampler.pick(out.value.token, out.value.probabilities);
          if (this.eos.has(id)) {
            await finish(row, 'eos');
            continue;
          }
          // The shared budget runs out in lockstep, rows in order (see lockstepShares); EOS costs nothing.
          if (total >= maxTotal) {
            await finish(row, 'length');
            continue;
          }
          const piece = this.tokenizer.decode([id]);
          row.ids.push(id);
          total++;
          row.plan.onDelta?.(piece);
          const matched = row.stop.push(id, piece);
          if (matched !== undefined) {
            await finish(row, 'stop', matched);
            continue;
          }
          if (row.ids.length >= maxTokens) {
            await finish(row, 'length');
            continue;
          }
          row.feed = id;
          next.push(row);
        }
        live = next;
      }
      return results;
    } catch (err) {
      // A sequence left mid-evaluation holds cells its tokens do not describe: empty it.
      for (const row of rows) {
        await row.gen?.return(undefined).catch(() => undefined);
        await row.slot.seq.clearHistory().catch(() => undefined);
      }
      throw err;
    } finally {
      this.pool.release(slots, request.cacheScope);
    }
  }

  /**
   * Bring each row's sequence to a prefix of its prompt; returns what each row has left to
   * evaluate (at least one token) and how many prompt tokens were already held. Sibling rows get
   * the shared `base` from the first row's sequence.
   */
  private async prepare(
    rows: readonly LiveRow[],
    base: readonly number[],
    siblings: boolean,
  ): Promise<{ todo: Token[][]; cached: number }> {
    // Keep the longest prefix of `tokens` (at most `limit` of them) the sequence holds; erase the rest.
    const keep = async (seq: LlamaContextSequence, tokens: readonly number[], limit: number): Promise<number> => {
      const held = Math.min(commonPrefix(seq.contextTokens, tokens), limit);
      if (held < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: held, end: seq.nextTokenIndex }]);
      return held;
    };
    // Give `seq` all of `base`: keep what it holds, evaluate the rest.
    const fill = async (seq: LlamaContextSequence): Promise<number> => {
      const held = await keep(seq, base, base.length);
      if (held < base.length) await seq.evaluateWithoutGeneratingNewTokens(base.slice(held) as Token[]);
      this.stats.prefillTokens += base.length - held;
      return held;
    };
    if (!siblings || base.length === 0 || this.fork === 'evaluate') {
      const held = await Promise.all(
        rows.map((row) => keep(row.slot.seq, row.plan.prompt, row.plan.prompt.length - 1)),
      );
      rows.forEach((row, i) => (this.stats.prefillTokens += row.plan.prompt.length - held[i]!));
      if (siblings && rows.length > 1) this.stats.forkEvaluations += rows.length - 1;
      this.stats.cachedPromptTokens += held[0]!;
      return { todo: rows.map((row, i) => row.plan.prompt.slice(held[i]) as Token[]), cached: held[0]! };
    }
    // The other rows take a copy of the first row's cells when they lack more than a few of the
    // prefix's tokens, else evaluate what they lack.
    const [head, ...rest] = rows as [LiveRow, ...LiveRow[]];
    const cached = await fill(head.slot.seq);
    this.stats.cachedPromptTokens += cached;
    const copies = rest.filter((r) => base.length - commonPrefix(r.slot.seq.contextTokens, base) > COPY_ABOVE);
    const copied =
      copies.length > 0 &&
      (await this.copyInto(
        head.slot.seq,
        copies.map((r) => r.slot.seq),
      ));
    if (copied) this.stats.forkCopies += copies.length;
    const evaluate = rest.filter((r) => !copied || !copies.includes(r));
    this.stats.forkEvaluations += evaluate.length;
    await Promise.all(evaluate.map((r) => fill(r.slot.seq)));
    return { todo: rows.map((r) => r.plan.prompt.slice(base.length) as Token[]), cached };
  }

  /** Copy `from`'s cells into each of `to` (a state save and loads); false when llama.cpp refuses. */
  private async copyInto(from: LlamaContextSequence, to: readonly LlamaContextSequence[]): Promise<boolean> {
    const t0 = performance.now();
    const file = path.join(this.stateDir, `fork-${this.stateFiles++}.bin`);
    try {
      await from.saveStateToFile(file);
      for (const seq of to) await seq.loadStateFromFile(file, { acceptRisk: true });
      return true;
    } catch {
      for (const seq of to) await seq.clearHistory().catch(() => undefined);
      return false;
    } finally {
      this.stats.copyMs += performance.now() - t0;
      await rm(file, { force: true });
    }
  }

  /** Empty the idle sequences a finished scope (trajectory) left, so other calls reuse them first. */
  releaseCache(scope: string): void {
    for (const slot of this.pool.idleOf(scope)) {
      slot.scope = undefined;
      slot.lastUsed = 0;
    }
  }

  /** Empty every idle sequence (benchmarks: the next call starts from nothing). */
  async clearCache(): Promise<void> {
    for (const slot of this.pool.idle()) await slot.seq.clearHistory();
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

/** A sibling row that lacks more than this many prefix tokens takes a copy of the cells. */
const COPY_ABOVE = 8;
