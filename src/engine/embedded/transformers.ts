import { EngineError } from '../errors.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { transformersJs } from '../transformers-js.js';
import { keepRows, selectRows, type KVCache } from './kv-cache.js';
import { hubLoadError, missingGraph, resolveModelSource, type ModelSource } from '../model-source.js';
import { cascadeFault } from './cascade.js';
import { isChunkInvariant } from './chunk-invariance.js';
import { OnnxDecoder, range, type DecoderShape, type OrtSession } from './onnx-decoder.js';
import { PrefixCache } from './prefix-cache.js';
import { createSampler, LOCAL_SAMPLING_CONTROLS } from '../sampling.js';
import { siblingSampling } from '../siblings.js';
import { decodedResult } from '../result.js';
import { StopMatcher } from '../stop.js';
import { loadTokenizer, type HFTokenizer } from '../tokenizer.js';
import type {
  CompletionRequest,
  CompletionResult,
  Engine,
  FinishReason,
  SamplingControl,
  SamplingOptions,
} from '../types.js';

/**
 * Options of the embedded engine: the model, its weights and graph, threads, the prefix cache and
 * the cascade graph.
 */
export interface TransformersEngineOptions {
  /** Local folder or Hugging Face id; default: the bundled tiny-threadweaver model. */
  model?: string;
  /** ONNX weights: `q8` (default, bundled) or `fp32` (needs onnx/model.onnx). */
  dtype?: 'q8' | 'fp32';
  /**
   * onnxruntime intra-op threads. Default 1: the bundled model's ops are too small to split, and
   * on 2 cores one thread decoded faster than two (bench/RESULTS.md). Raise it for larger models.
   */
  threads?: number;
  /**
   * Reuse KV caches across calls that share a token prefix (default true). Only ever on when the
   * graph computes a prefix to the same bits in one call or in pieces (checked at load), so the
   * cache changes speed, never tokens; otherwise off, with a process warning if it was asked for.
   */
  prefixCache?: boolean;
  /**
   * Which graph file: `auto` (default) takes `onnx/model_append*.onnx` when the folder has it (the
   * bundled decoder rewritten to append to a cache kept outside the graph, with per-token
   * quantization: docs/onnx-rewrite.md), else `onnx/model*.onnx`; `original` always the latter.
   */
  graph?: 'auto' | 'original' | 'append';
  /**
   * Sibling batches (`completeSiblings`) attend to their shared prefix through one stored copy,
   * with `onnx/model_cascade*.onnx` (default true when the folder has it beside the appending
   * graph): no copy of the prefix per row, one attention GEMM per KV head for all rows
   * (docs/performance.md). Off: siblings decode on per-row copies of the prefix.
   */
  cascade?: boolean;
  /**
   * Sibling calls with a shorter shared prefix decode on copies of it even with the cascade
   * graph (default 512 tokens): below that, on this model and CPU, the cascade graph's extra
   * nodes cost more than reading the prefix per row for blocks of 2–3 threads, and rows on copies
   * also leave the first thread's cache to the join (docs/performance.md). The choice depends on
   * the prefix alone, never on the rows, so a row decodes the same bits whichever siblings it has.
   */
  cascadeMinPrefix?: number;
}

/** `TransformersEngineOptions.cascadeMinPrefix` by default (measured: docs/performance.md). */
export const DEFAULT_CASCADE_MIN_PREFIX = 512;

/** Counters for benchmarks and reports. */
export interface EngineStats {
  forwardCalls: number;
  prefillTokens: number;
  /** Time in forward calls that ran more than one token per row (prompts, headers, joined text). */
  prefillMs: number;
  decodeSteps: number;
  cachedPromptTokens: number;
  /** Sibling calls that ran the cascade graph (the rest decoded on copies of their prefix). */
  cascadeCalls: number;
  /** Time in forward calls by batch size (rows in the call). */
  forwardMsByBatch: Map<number, { calls: number; ms: number }>;
  /** The same for decode steps only (one new token per row). */
  decodeMsByBatch: Map<number, { calls: number; ms: number }>;
}

interface Row {
  out: number;
  ids: number[];
  maxTokens: number;
  sampler: ReturnType<typeof createSampler>;
  stop: StopMatcher;
  mask: number[];
  nextPos: number;
  onDelta?: (delta: string, ids?: readonly number[]) => void;
}

type SiblingRequest = Parameters<Engine['completeSiblings']>[2];

type RunRequest = Pick<CompletionRequest, 'maxTokens' | 'stop' | 'signal' | 'cacheScope'> & { maxTotalTokens?: number };

/** One batched call while it runs: its inputs, timings and the results of the rows that finished. */
interface RunCall {
  prefix: number[];
  suffixes: readonly (readonly number[])[];
  request: RunRequest;
  startMs: number;
  /** Prefill time (prefix and suffixes), reported with every row. */
  prefillMs: number;
  /** Prefix tokens taken from the prefix cache. */
  cachedTokens: number;
  results: CompletionResult[];
}

/**
 * The embedded engine: the model's ONNX graph run directly through onnxruntime (loaded by
 * transformers.js), with our own decode loop. Owning the loop gives exact per-row stopping
 * (generate() keeps finished rows of a padded batch running), keeps the sampled ids rather
 * than re-tokenizing, and lets sibling threads share one prefilled prefix and one forward per step.
 */
export class TransformersEngine implements Engine {
  readonly name: string;
  readonly contextLength: number;
  readonly samplingControls: readonly SamplingControl[] = LOCAL_SAMPLING_CONTROLS;
  readonly stats: EngineStats = {
    forwardCalls: 0,
    prefillTokens: 0,
    prefillMs: 0,
    decodeSteps: 0,
    cachedPromptTokens: 0,
    cascadeCalls: 0,
    forwardMsByBatch: new Map(),
    decodeMsByBatch: new Map(),
  };
  /** The ONNX graph file the session runs (relative to the model folder, or the hub id's). */
  graphFile = '';
  /** The cascade graph sibling calls run (`onnx/model_cascade*.onnx`), or '' when they decode on copies of the prefix. */
  cascadeFile = '';
  /** What was loaded: the model folder (or hub id), the weights, and where the graph file is on disk. */
  loaded: { model: string; dtype: 'q8' | 'fp32'; graphPath: string } = { model: '', dtype: 'q8', graphPath: '' };
  /** Whether calls reuse cached prefixes (see `TransformersEngineOptions.prefixCache`). */
  readonly prefixCaching: boolean;
  private readonly cache: PrefixCache | undefined;
  private readonly vocab: number;
  /** The cascade graph for sibling calls, when loaded (`TransformersEngineOptions.cascade`). */
  private cascade: OnnxDecoder | undefined;
  /** Shortest shared prefix a sibling call runs the cascade graph for. */
  private cascadeMinPrefix = DEFAULT_CASCADE_MIN_PREFIX;

  private constructor(
    readonly tokenizer: HFTokenizer,
    private readonly decoder: OnnxDecoder,
    name: string,
    contextLength: number,
    usePrefixCache: boolean,
  ) {
    this.name = name;
    this.contextLength = contextLength;
    this.vocab = decoder.shape.vocab;
    this.cache = usePrefixCache ? new PrefixCache() : undefined;
    this.prefixCaching = usePrefixCache;
  }

  static async load(options: TransformersEngineOptions = {}): Promise<TransformersEngine> {
    const source = resolveModelSource(options.model);
    const missing = missingGraph(source, options.dtype ?? 'q8');
    if (missing) throw new EngineError(`model: ${missing}`, 'model');
    const tokenizer = await loadTokenizer(source);
    const { model, file } = await loadModel(source, options);
    const config = (model as unknown as { config: Record<string, number> }).config;
    const session = (model as unknown as { sessions: Record<string, OrtSession> }).sessions.model;
    if (!session) throw new EngineError('model: no decoder session found', 'model');
    const heads = config.num_attention_heads!;
    const shape = {
      layers: config.num_hidden_layers!,
      kvHeads: config.num_key_value_heads ?? heads,
      headDim: config.head_dim ?? config.hidden_size! / heads,
      vocab: config.vocab_size!,
    };
    const decoder = new OnnxDecoder(session, shape);
    const name = source.kind === 'local' ? source.name : source.id;
    let prefixCache = options.prefixCache ?? true;
    if (prefixCache && !(await isChunkInvariant(decoder))) {
      prefixCache = false;
      process.emitWarning(
        `${name} (${file}) gives different results for a prompt computed in one call and in pieces, so prefix caching is off ` +
          '(it would change the generated tokens). The bundled model shows how a graph can be rewritten to allow it: docs/onnx-rewrite.md.',
        { code: 'THREADWEAVER_PREFIX_CACHE_OFF' },
      );
    }
    const engine = new TransformersEngine(
      tokenizer,
      decoder,
      name,
      config.max_position_embeddings ?? 2048,
      prefixCache,
    );
    engine.graphFile = file;
    if (options.cascade !== false && decoder.layout === 'sequence-major') {
      const cascade = await loadCascade(source, options, shape, decoder, name);
      engine.cascade = cascade?.decoder;
      engine.cascadeFile = cascade?.file ?? '';
      engine.cascadeMinPrefix = Math.max(1, options.cascadeMinPrefix ?? DEFAULT_CASCADE_MIN_PREFIX);
    }
    // A hub model's files sit in transformers.js's cache under `<id>/<file>`.
    const root =
      source.kind === 'local' ? source.dir : path.join((await transformersJs()).env.cacheDir ?? '', source.id);
    engine.loaded = {
      model: source.kind === 'local' ? source.dir : source.id,
      dtype: options.dtype ?? 'q8',
      graphPath: path.join(root, file),
    };
    return engine;
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const prompt = typeof request.prompt === 'string' ? this.tokenizer.encode(request.prompt) : [...request.prompt];
    const [result] = await this.run(prompt, [[]], request, [request], request.onDelta ? [request.onDelta] : [], false);
    return result!;
  }

  async completeSiblings(
    prefix: readonly number[],
    suffixes: readonly (readonly number[])[],
    request: SiblingRequest,
  ): Promise<CompletionResult[]> {
    if (suffixes.length === 0) return [];
    const sampling = suffixes.map((_, i) => siblingSampling(request, i));
    const deltas = suffixes.map((_, i) =>
      request.onDelta ? (d: string, ids?: readonly number[]) => request.onDelta!(i, d, ids) : undefined,
    );
    // Each row needs a position of its own to start from: an empty suffix takes the prefix's last
    // token (for one row too with the cascade graph, so a row decodes the same alone or not).
    if ((suffixes.length > 1 || this.cascade) && suffixes.some((s) => s.length === 0) && prefix.length > 0) {
      const last = prefix[prefix.length - 1]!;
      return this.run(
        prefix.slice(0, -1),
        suffixes.map((s) => [last, ...s]),
        request,
        sampling,
        deltas,
        true,
      );
    }
    return this.run([...prefix], suffixes, request, sampling, deltas, true);
  }

  /**
   * Decode `prefix + suffixes[i]` for all i in one batch, in four steps: prefill the shared prefix
   * (or take it from the prefix cache), choose the decoder (the cascade graph for sibling calls
   * from a long prefix, else rows on copies), prefill the suffixes as padded rows, then decode the
   * rows until each finishes (a row leaves the batch the step it does).
   */
  private async run(
    prefix: number[],
    suffixes: readonly (readonly number[])[],
    request: RunRequest,
    sampling: readonly SamplingOptions[],
    deltas: readonly (((d: string, ids?: readonly number[]) => void) | undefined)[],
    siblingCall: boolean,
  ): Promise<CompletionResult[]> {
    const call: RunCall = {
      prefix,
      suffixes,
      request,
      startMs: Date.now(),
      prefillMs: 0,
      cachedTokens: 0,
      results: new Array<CompletionResult>(suffixes.length),
    };
    const t0 = performance.now();
    const longest = prefix.length + Math.max(...suffixes.map((s) => s.length));
    if (longest === 0) throw new EngineError('complete: empty prompt', 'bad-request');
    if (longest >= this.contextLength) {
      throw new EngineError(
        `complete: prompt of ${longest} tokens does not fit the context of ${this.contextLength}`,
        'context-length',
      );
    }
    const maxTokens = Math.max(0, Math.min(request.maxTokens, this.contextLength - longest));
    const prefilled = await this.prefillPrefix(call);
    const { decoder, shared } = this.chooseDecoder(call, prefilled.kv, siblingCall);
    const rows: Row[] = suffixes.map((_, i) => ({
      out: i,
      ids: [],
      maxTokens,
      sampler: createSampler(sampling[i] ?? {}),
      stop: new StopMatcher(request.stop ?? [], (s) => this.tokenizer.singleTokenId(s)),
      mask: shared ? [] : ones(prefix.length),
      nextPos: prefix.length,
      ...(deltas[i] ? { onDelta: deltas[i] } : {}),
    }));
    const batch = await this.prefillSuffixes(call, rows, prefilled, decoder, shared);
    call.prefillMs = performance.now() - t0;
    await this.decodeRows(call, rows, batch, decoder, shared);
    return call.results;
  }

  /** The shared prefix's cache: reused from the prefix cache, the rest prefilled at batch 1. */
  private async prefillPrefix(call: RunCall): Promise<{ kv: KVCache; logits: Float32Array | undefined }> {
    const { prefix, suffixes } = call;
    // Some token must still run to produce logits: the suffixes, or else the prefix's last one.
    const reusable = suffixes.every((s) => s.length > 0) ? prefix.length : prefix.length - 1;
    let kv: KVCache = this.cache?.lookup(prefix, reusable) ?? this.decoder.empty(1);
    call.cachedTokens = kv.length;
    this.stats.cachedPromptTokens += kv.length;
    if (prefix.length <= kv.length) return { kv, logits: undefined };
    const todo = prefix.slice(kv.length);
    const out = await this.forward(
      { ids: [todo], positions: [range(kv.length, prefix.length)], mask: [ones(prefix.length)] },
      kv,
    );
    this.stats.prefillTokens += todo.length;
    kv = out.present;
    if (suffixes.length > 1 || suffixes[0]!.length > 0) this.cache?.store(prefix, kv, call.request.cacheScope);
    return { kv, logits: out.lastLogits };
  }

  /**
   * The cascade graph for sibling calls from a prefix of at least cascadeMinPrefix tokens: every
   * row reads the prefix's cache in place (`shared`), each row's cache and mask hold its own
   * positions only, and the prefix is never copied. Otherwise the appending graph on copies.
   */
  private chooseDecoder(call: RunCall, kv: KVCache, siblingCall: boolean): { decoder: OnnxDecoder; shared?: KVCache } {
    const cascade =
      siblingCall && call.prefix.length >= this.cascadeMinPrefix && call.suffixes.every((s) => s.length > 0)
        ? this.cascade
        : undefined;
    if (!cascade) return { decoder: this.decoder };
    this.stats.cascadeCalls++;
    return { decoder: cascade, shared: kv };
  }

  /**
   * The suffixes (thread headers) right-aligned with padding so one forward covers them all. The
   * rows are copies: a forward extends its cache in place, and the prefix may be cached.
   */
  private async prefillSuffixes(
    call: RunCall,
    rows: Row[],
    prefilled: { kv: KVCache; logits: Float32Array | undefined },
    decoder: OnnxDecoder,
    shared: KVCache | undefined,
  ): Promise<{ kv: KVCache; logits: Float32Array; width: number }> {
    const { suffixes } = call;
    let { kv, logits } = prefilled;
    const width = Math.max(...suffixes.map((s) => s.length));
    if (width > 0) {
      kv = shared
        ? decoder.empty(suffixes.length)
        : selectRows(
            kv,
            suffixes.map(() => 0),
          );
      const ids: number[][] = [];
      const positions: number[][] = [];
      rows.forEach((row, i) => {
        const s = suffixes[i]!;
        const pad = width - s.length;
        ids.push([...new Array<number>(pad).fill(0), ...s]);
        positions.push([...new Array<number>(pad).fill(row.nextPos), ...range(row.nextPos, row.nextPos + s.length)]);
        row.mask.push(...new Array<number>(pad).fill(0), ...ones(s.length));
        row.nextPos += s.length;
      });
      const out = await this.forward({ ids, positions, mask: rows.map((r) => r.mask) }, kv, decoder, shared);
      this.stats.prefillTokens += suffixes.reduce((n, x) => n + x.length, 0);
      kv = out.present;
      logits = out.lastLogits;
    }
    if (!logits) throw new EngineError('complete: nothing to run', 'bad-request');
    return { kv, logits, width };
  }

  /** Decode the rows step by step until each stops (its stop, EOS, its budget, the shared budget, abort). */
  private async decodeRows(
    call: RunCall,
    rows: Row[],
    start: { kv: KVCache; logits: Float32Array; width: number },
    decoder: OnnxDecoder,
    shared: KVCache | undefined,
  ): Promise<void> {
    const { prefix, suffixes, request } = call;
    let { kv, logits } = start;
    // The first row's cache is the joined text's own up to its end (the same tokens after the same
    // context; exact because a row's bits do not depend on its batch or on how a prefix was split),
    // so it is kept for the continuation after the join. Not with padding in it, nor from the
    // cascade graph, whose rows differ from a prefill in the last bits.
    const keepFirstRow =
      this.cache !== undefined && !shared && rows.length > 1 && start.width > 0 && suffixes[0]!.length === start.width;
    let live = rows;
    const eos = new Set(this.tokenizer.eosIds);
    const budget = { left: request.maxTotalTokens ?? Infinity };
    while (live.length > 0) {
      const keep: number[] = [];
      for (const [i, row] of live.entries()) if (this.step(call, row, logits, i, eos, budget)) keep.push(i);
      const firstDone = keepFirstRow ? live.findIndex((r, i) => r.out === 0 && !keep.includes(i)) : -1;
      if (firstDone >= 0 && !request.signal?.aborted) {
        const fed = kv.length - prefix.length - start.width;
        this.cache!.store(
          [...prefix, ...suffixes[0]!, ...live[firstDone]!.ids.slice(0, fed)],
          selectRows(kv, [firstDone]),
          request.cacheScope,
        );
      }
      if (keep.length === 0) {
        // A lone sequence's cache is worth keeping: the next call usually extends it.
        if (rows.length === 1 && kv.batch === 1 && !shared) {
          const done = rows[0]!;
          this.cache?.store(
            [...prefix, ...suffixes[0]!, ...done.ids.slice(0, kv.length - prefix.length - suffixes[0]!.length)],
            kv,
            request.cacheScope,
          );
        }
        return;
      }
      if (keep.length !== live.length) kv = keepRows(kv, keep);
      live = keep.map((i) => live[i]!);
      for (const row of live) row.mask.push(1);
      const out = await this.forward(
        {
          ids: live.map((r) => [r.ids[r.ids.length - 1]!]),
          positions: live.map((r) => [r.nextPos++]),
          mask: live.map((r) => r.mask),
        },
        kv,
        decoder,
        shared,
      );
      this.stats.decodeSteps++;
      kv = out.present;
      logits = out.lastLogits;
    }
  }

  /** One row's next token from its logits (row `i` of the step); false when the row finished. */
  private step(
    call: RunCall,
    row: Row,
    logits: Float32Array,
    i: number,
    eos: ReadonlySet<number>,
    budget: { left: number },
  ): boolean {
    if (call.request.signal?.aborted) return this.finish(call, row, 'abort');
    if (row.ids.length >= row.maxTokens) return this.finish(call, row, 'length');
    const id = row.sampler(logits, i * this.vocab, this.vocab);
    if (eos.has(id)) return this.finish(call, row, 'eos');
    // The shared budget runs out in lockstep, rows in order (see lockstepShares); EOS costs nothing.
    if (budget.left <= 0) return this.finish(call, row, 'length');
    const piece = this.tokenizer.decode([id]);
    row.ids.push(id);
    budget.left--;
    row.onDelta?.(piece, [id]);
    const matched = row.stop.push(id, piece);
    return matched === undefined || this.finish(call, row, 'stop', matched);
  }

  /** A finished row's result; always false (the row leaves the batch). */
  private finish(call: RunCall, row: Row, reason: FinishReason, matchedStop?: string): false {
    call.results[row.out] = decodedResult(this.tokenizer, row.ids, reason, matchedStop, {
      promptTokens: call.prefix.length + call.suffixes[row.out]!.length,
      cachedPromptTokens: call.cachedTokens,
      prefillMs: call.prefillMs,
      startMs: call.startMs,
    });
    return false;
  }

  private async forward(
    input: Parameters<OnnxDecoder['forward']>[0],
    past: KVCache,
    decoder = this.decoder,
    shared?: KVCache,
  ) {
    const t0 = performance.now();
    const out = await decoder.forward(input, past, shared);
    const ms = performance.now() - t0;
    this.stats.forwardCalls++;
    const count = (byBatch: Map<number, { calls: number; ms: number }>) => {
      const b = byBatch.get(input.ids.length) ?? { calls: 0, ms: 0 };
      b.calls++;
      b.ms += ms;
      byBatch.set(input.ids.length, b);
    };
    count(this.stats.forwardMsByBatch);
    if (input.ids[0]!.length > 1) this.stats.prefillMs += ms;
    else count(this.stats.decodeMsByBatch);
    return out;
  }

  releaseCache(scope: string): void {
    this.cache?.clear(scope);
  }

  /** Drop cached prefixes: all, or one scope's (e.g. a finished trajectory's). */
  clearCache(scope?: string): void {
    this.cache?.clear(scope);
  }
}

/**
 * The cascade graph (`onnx/model_cascade*.onnx`, scripts/onnx/rewrite-cascade.ts) beside an
 * appending graph, as a decoder: undefined when the folder has none, or (with a process warning)
 * when it fails `cascadeFault`.
 */
async function loadCascade(
  source: ModelSource,
  options: TransformersEngineOptions,
  shape: DecoderShape,
  plain: OnnxDecoder,
  name: string,
): Promise<{ decoder: OnnxDecoder; file: string } | undefined> {
  const file = `onnx/model_cascade${(options.dtype ?? 'q8') === 'q8' ? '_quantized' : ''}.onnx`;
  if (source.kind !== 'local' || !existsSync(path.join(source.dir, file))) return undefined;
  const { model } = await loadModel(source, options, 'model_cascade');
  const session = (model as unknown as { sessions: Record<string, OrtSession> }).sessions.model;
  const cascade = session ? new OnnxDecoder(session, shape) : undefined;
  const fault = !cascade?.sharesPrefix
    ? 'it has no shared-prefix inputs (shared.0.key)'
    : await cascadeFault(plain, cascade);
  if (fault === undefined) return { decoder: cascade!, file };
  process.emitWarning(`${name} (${file}): ${fault}, so sibling batches decode on copies of their prefix instead.`, {
    code: 'THREADWEAVER_CASCADE_OFF',
  });
  return undefined;
}

/** The graph file stem for a local folder (transformers.js appends `_quantized` for q8). */
export function graphFileName(
  dir: string,
  dtype: 'q8' | 'fp32',
  graph: TransformersEngineOptions['graph'] = 'auto',
): string {
  if (graph === 'original') return 'model';
  const append = path.join(dir, 'onnx', dtype === 'q8' ? 'model_append_quantized.onnx' : 'model_append.onnx');
  if (existsSync(append)) return 'model_append';
  if (graph === 'append') throw new EngineError(`model: ${append} not found (graph 'append' was asked for)`, 'model');
  return 'model';
}

async function loadModel(source: ModelSource, options: TransformersEngineOptions, stem?: string) {
  const { AutoModelForCausalLM, env } = await transformersJs();
  const session_options = { intraOpNumThreads: options.threads ?? 1, interOpNumThreads: 1 };
  const dtype = options.dtype ?? 'q8';
  if (source.kind === 'local') {
    env.localModelPath = source.parent + '/';
    env.allowLocalModels = true;
    const model_file_name = stem ?? graphFileName(source.dir, dtype, options.graph);
    try {
      const model = await AutoModelForCausalLM.from_pretrained(source.name, {
        dtype,
        local_files_only: true,
        session_options,
        model_file_name,
      });
      return { model, file: `onnx/${model_file_name}${dtype === 'q8' ? '_quantized' : ''}.onnx` };
    } catch (err) {
      throw new EngineError(
        `model: cannot load ${source.dir} (dtype ${dtype}): ${err instanceof Error ? err.message : String(err)}`,
        'model',
        { cause: err },
      );
    }
  }
  try {
    const model = await AutoModelForCausalLM.from_pretrained(source.id, { dtype, session_options });
    return { model, file: `onnx/model${dtype === 'q8' ? '_quantized' : ''}.onnx` };
  } catch (err) {
    throw hubLoadError(source.id, err);
  }
}

function ones(n: number): number[] {
  return new Array<number>(n).fill(1);
}
