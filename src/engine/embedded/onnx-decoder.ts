import { loadedTransformersJs } from '../transformers-js.js';
import { appendKV, emptyKV, kvInput, type KVCache, type KVLayout } from './kv-cache.js';
import { EngineError } from '../errors.js';

/** The slice of onnxruntime's InferenceSession we use. */
export interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
}

/** One forward step for a batch: new tokens per row plus the full attention mask per row. */
export interface ForwardInput {
  ids: readonly (readonly number[])[];
  positions: readonly (readonly number[])[];
  /** Per row, 0/1 over past + new columns (0 marks padding). */
  mask: readonly (readonly number[])[];
}

export interface ForwardOutput {
  /** Logits of each row's last new position, `batch × vocab`. */
  lastLogits: Float32Array;
  /**
   * The cache with this step's positions. For a sequence-major cache this is `past` itself,
   * extended in place: copy `past` first (`selectRows`, `truncate`) to keep it as it was.
   */
  present: KVCache;
}

export interface DecoderShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

/** Positions `from, from + 1, …, to − 1`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

// transformers.js wraps onnxruntime's Tensor; building through it avoids a direct dependency on
// the runtime package while handing the session the exact tensor class it expects.
function ortTensor(type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[]): unknown {
  const { Tensor } = loadedTransformersJs();
  return (new Tensor(type, data, dims) as unknown as { ort_tensor: unknown }).ort_tensor;
}

function int64Matrix(rows: readonly (readonly number[])[]): { data: BigInt64Array; dims: number[] } {
  const width = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => {
    if (row.length !== width) throw new EngineError('forward: ragged batch', 'internal');
    for (let c = 0; c < width; c++) data[r * width + c] = BigInt(row[c]!);
  });
  return { data, dims: [rows.length, width] };
}

/** A 0/1 mask as int64: mostly ones, so fill and clear the holes (no BigInt per element). */
function maskMatrix(rows: readonly (readonly number[])[]): { data: BigInt64Array; dims: number[] } {
  const width = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * width).fill(1n);
  rows.forEach((row, r) => {
    if (row.length !== width) throw new EngineError('forward: ragged batch', 'internal');
    for (let c = 0; c < width; c++) if (row[c] === 0) data[r * width + c] = 0n;
  });
  return { data, dims: [rows.length, width] };
}

/** The cache contracts a decoder graph can have, told apart by its input names. */
interface Contract {
  layout: KVLayout;
  past: string[];
  out: string[];
  /** Inputs of a prefix shared by every row (the sibling graph), in the order of `past`. */
  shared: string[];
}

function contractOf(session: OrtSession, layers: number): Contract {
  const names = (prefix: string) =>
    Array.from({ length: layers }, (_, l) => [`${prefix}${l}.key`, `${prefix}${l}.value`]).flat();
  // The bundled graphs (scripts/onnx/rewrite-append-kv.ts, rewrite-cascade.ts): sequence-major,
  // return new positions only; the sibling graph also reads a prefix stored once for all rows.
  if (session.inputNames.includes('past.0.key')) {
    // The cascade graph keeps the rows' own positions heads first ([positions, heads, rows, d]).
    if (session.inputNames.includes('shared.0.key'))
      return { layout: 'sequence-head-major', past: names('past.'), out: names('new.'), shared: names('shared.') };
    return { layout: 'sequence-major', past: names('past.'), out: names('new.'), shared: [] };
  }
  return { layout: 'batch-major', past: names('past_key_values.'), out: names('present.'), shared: [] };
}

/** Direct calls into a decoder ONNX session: we own the KV cache and the loop. */
export class OnnxDecoder {
  readonly layout: KVLayout;
  /**
   * Whether the graph attends to a prefix shared by all rows, passed once (`forward`'s `shared`):
   * then `past` and the mask hold each row's own positions only.
   */
  readonly sharesPrefix: boolean;
  private readonly pastNames: string[];
  private readonly outNames: string[];
  private readonly sharedNames: string[];

  constructor(
    private readonly session: OrtSession,
    readonly shape: DecoderShape,
  ) {
    const contract = contractOf(session, shape.layers);
    this.layout = contract.layout;
    this.pastNames = contract.past;
    this.outNames = contract.out;
    this.sharedNames = contract.shared;
    this.sharesPrefix = contract.shared.length > 0;
    for (const n of [...this.pastNames, ...this.sharedNames]) {
      if (!session.inputNames.includes(n))
        throw new EngineError(`decoder: session has no input ${n} (expected ${shape.layers} layers)`, 'model');
    }
    for (const n of this.outNames) {
      if (!session.outputNames.includes(n)) throw new EngineError(`decoder: session has no output ${n}`, 'model');
    }
    const extra = session.inputNames.filter((n) => /^past/.test(n) && !this.pastNames.includes(n));
    if (extra.length > 0)
      throw new EngineError(`decoder: expected ${shape.layers} layers, found more cache inputs (${extra[0]})`, 'model');
  }

  empty(batch: number): KVCache {
    return emptyKV(this.layout, this.pastNames.length, this.shape.kvHeads, this.shape.headDim, batch);
  }

  /**
   * One forward call. For a graph that shares a prefix, `shared` is that prefix's batch-1 cache
   * (read in place, never changed) and `past` / `input.mask` cover the rows' own positions.
   */
  async forward(input: ForwardInput, past: KVCache, shared?: KVCache): Promise<ForwardOutput> {
    const batch = input.ids.length;
    if (past.batch !== batch)
      throw new EngineError(`forward: cache batch ${past.batch} ≠ input batch ${batch}`, 'internal');
    if (past.layout !== this.layout)
      throw new EngineError(`forward: a ${past.layout} cache for a ${this.layout} graph`, 'internal');
    if (this.sharesPrefix !== (shared !== undefined))
      throw new EngineError(
        this.sharesPrefix
          ? 'forward: this graph needs the shared prefix'
          : 'forward: this graph takes no shared prefix',
        'internal',
      );
    if (shared && (shared.batch !== 1 || shared.layout === 'batch-major' || shared.length === 0))
      throw new EngineError(
        'forward: the shared prefix must be a non-empty sequence-major cache of one row',
        'internal',
      );
    const ids = int64Matrix(input.ids);
    const pos = int64Matrix(input.positions);
    const mask = maskMatrix(input.mask);
    const feeds: Record<string, unknown> = {
      input_ids: ortTensor('int64', ids.data, ids.dims),
      position_ids: ortTensor('int64', pos.data, pos.dims),
      attention_mask: ortTensor('int64', mask.data, mask.dims),
    };
    this.pastNames.forEach((name, i) => {
      const { data, dims } = kvInput(past, i);
      feeds[name] = ortTensor('float32', data, dims);
    });
    if (shared) {
      this.sharedNames.forEach((name, i) => {
        const { data, dims } = kvInput(shared, i);
        // [positions, 1, heads, d] is the same memory as [positions, heads, d].
        feeds[name] = ortTensor('float32', data, [dims[0]!, ...dims.slice(2)]);
      });
    }
    const out = await this.session.run(feeds);
    const logits = out.logits;
    if (!logits) throw new EngineError('decoder: session returned no logits', 'model');
    const [, seq, vocab] = logits.dims as [number, number, number];
    const all = logits.data as Float32Array;
    const lastLogits = new Float32Array(batch * vocab);
    for (let b = 0; b < batch; b++) {
      const from = (b * seq + seq - 1) * vocab;
      lastLogits.set(all.subarray(from, from + vocab), b * vocab);
    }
    const outputs = this.outNames.map((n) => out[n]!.data as Float32Array);
    if (this.layout !== 'batch-major') return { lastLogits, present: appendKV(past, outputs, ids.dims[1]!) };
    const length = past.length + ids.dims[1]!;
    return { lastLogits, present: { ...past, length, capacity: length, data: outputs } };
  }
}
