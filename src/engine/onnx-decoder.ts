import { Tensor } from '@huggingface/transformers';
import { emptyKV, type KVCache } from './kv-cache.js';

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
  present: KVCache;
}

export interface DecoderShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

// transformers.js wraps onnxruntime's Tensor; building through it avoids a direct dependency on
// the runtime package while handing the session the exact tensor class it expects.
function ortTensor(type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[]): unknown {
  return (new Tensor(type, data, dims) as unknown as { ort_tensor: unknown }).ort_tensor;
}

function int64Matrix(rows: readonly (readonly number[])[]): { data: BigInt64Array; dims: number[] } {
  const width = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => {
    if (row.length !== width) throw new Error('forward: ragged batch');
    for (let c = 0; c < width; c++) data[r * width + c] = BigInt(row[c]!);
  });
  return { data, dims: [rows.length, width] };
}

/** Positions `from, from + 1, …, to − 1`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Direct calls into a decoder-with-past ONNX session: we own the KV cache and the loop. */
export class OnnxDecoder {
  readonly pastNames: string[];
  readonly presentNames: string[];
  forwardCalls = 0;

  constructor(
    private readonly session: OrtSession,
    readonly shape: DecoderShape,
  ) {
    this.pastNames = session.inputNames.filter((n) => n.startsWith('past_key_values.'));
    this.presentNames = this.pastNames.map((n) => n.replace('past_key_values.', 'present.'));
    for (const n of this.presentNames) {
      if (!session.outputNames.includes(n)) throw new Error(`decoder: session has no output ${n}`);
    }
    if (this.pastNames.length !== 2 * shape.layers) {
      throw new Error(`decoder: expected ${2 * shape.layers} past inputs, found ${this.pastNames.length}`);
    }
  }

  empty(batch: number): KVCache {
    return emptyKV(this.pastNames.length, this.shape.kvHeads, this.shape.headDim, batch);
  }

  async forward(input: ForwardInput, past: KVCache): Promise<ForwardOutput> {
    const batch = input.ids.length;
    if (past.batch !== batch) throw new Error(`forward: cache batch ${past.batch} ≠ input batch ${batch}`);
    const ids = int64Matrix(input.ids);
    const pos = int64Matrix(input.positions);
    const mask = int64Matrix(input.mask);
    const feeds: Record<string, unknown> = {
      input_ids: ortTensor('int64', ids.data, ids.dims),
      position_ids: ortTensor('int64', pos.data, pos.dims),
      attention_mask: ortTensor('int64', mask.data, mask.dims),
    };
    const pastDims = [batch, past.heads, past.length, past.headDim];
    this.pastNames.forEach((name, i) => {
      feeds[name] = ortTensor('float32', past.data[i]!, pastDims);
    });
    this.forwardCalls++;
    const out = await this.session.run(feeds);
    const logits = out.logits;
    if (!logits) throw new Error('decoder: session returned no logits');
    const [, seq, vocab] = logits.dims as [number, number, number];
    const all = logits.data as Float32Array;
    const lastLogits = new Float32Array(batch * vocab);
    for (let b = 0; b < batch; b++) {
      const from = (b * seq + seq - 1) * vocab;
      lastLogits.set(all.subarray(from, from + vocab), b * vocab);
    }
    const newLength = past.length + ids.dims[1]!;
    const present: KVCache = {
      batch,
      length: newLength,
      heads: past.heads,
      headDim: past.headDim,
      data: this.presentNames.map((n) => out[n]!.data as Float32Array),
    };
    return { lastLogits, present };
  }
}
