import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../../scripts/onnx/graph.js';
import { DataType, decodeModel, encodeModel, tensorValueInfo } from '../../scripts/onnx/onnx-proto.js';
import { rewriteCascade } from '../../scripts/onnx/rewrite-cascade.js';
import { rewriteCascadeDecoder, rewriteDecoderWithPast } from '../../scripts/onnx/rewrite-decoder.js';
import { repoRoot } from '../support/helpers.js';

// The cascade graph at the onnxruntime level: what it computes against the appending graph it
// was rewritten from, and that a row's results never depend on the other rows of its batch.

const onnxDir = path.join(repoRoot, 'models/tiny-threadweaver/onnx');
const original = readFileSync(path.join(onnxDir, 'model_quantized.onnx'));
const appendGraph = readFileSync(path.join(onnxDir, 'model_append_quantized.onnx'));
const cascadeGraph = readFileSync(path.join(onnxDir, 'model_cascade_quantized.onnx'));
const shape = { heads: 8, kvHeads: 2, headDim: 32 };
const layers = 6;
const kinds = ['key', 'value'] as const;
const position = shape.kvHeads * shape.headDim;
const bits = (u: Float32Array, v: Float32Array) =>
  Buffer.compare(
    Buffer.from(u.buffer, u.byteOffset, u.byteLength),
    Buffer.from(v.buffer, v.byteOffset, v.byteLength),
  ) === 0;
const i64 = (values: readonly number[], dims: number[]) =>
  new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
const f32 = (values: Float32Array, dims: number[]) => new ort.Tensor('float32', values, dims);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A graph that also outputs layer 0's attention probabilities (named `probs`). */
function exposing(model: Uint8Array, tensor: string): Uint8Array {
  const parts = decodeModel(model);
  const graph = new Graph(parts.graph);
  graph.addOutput(tensorValueInfo(tensor, DataType.float, []));
  return encodeModel({ model: parts.model, graph: graph.encode() });
}

interface Rows {
  /** Per decode call: logits [rows, tokens, vocab] and layer 0's probabilities in [rows, heads, tokens, shared + own]. */
  logits: Float32Array[];
  probs: Float32Array[];
  /** The rows' own new positions per call, per row: [tokens, kv, d] for each cache output. */
  added: Float32Array[][][];
}

let plain: ort.InferenceSession;
let cascade: ort.InferenceSession;
const prefixIds = (() => {
  const next = rng(11);
  return Array.from({ length: 150 }, () => 3 + Math.floor(next() * 100));
})();
let prefix: Record<string, Float32Array>;

beforeAll(async () => {
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  plain = await ort.InferenceSession.create(exposing(appendGraph, '/layers.0/self_attn/Softmax_output_0'), options);
  cascade = await ort.InferenceSession.create(exposing(cascadeGraph, '/layers.0/self_attn/cascade/probs'), options);
  const empty = Object.fromEntries(
    Array.from({ length: layers }, (_, l) =>
      kinds.map((k) => [`past.${l}.${k}`, f32(new Float32Array(0), [0, 1, shape.kvHeads, shape.headDim])]),
    ).flat(),
  );
  const P = prefixIds.length;
  const out = await plain.run({
    input_ids: i64(prefixIds, [1, P]),
    position_ids: i64(
      prefixIds.map((_, i) => i),
      [1, P],
    ),
    attention_mask: i64(
      prefixIds.map(() => 1),
      [1, P],
    ),
    ...empty,
  });
  prefix = Object.fromEntries(
    Array.from({ length: layers }, (_, l) =>
      kinds.map((k) => [`${l}.${k}`, out[`new.${l}.${k}`]!.data as Float32Array]),
    ).flat(),
  );
});

/**
 * Sibling rows after the prefix: each row's header (left-padded to the longest), then `steps`
 * decode steps of the given tokens. `graph` 'plain' decodes every row on its own copy of the
 * prefix (as the engine does without the cascade), 'cascade' passes the prefix once.
 */
async function decode(graph: 'plain' | 'cascade', headers: number[][], steps: number[][]): Promise<Rows> {
  const b = headers.length;
  const P = prefixIds.length;
  const width = Math.max(...headers.map((h) => h.length));
  const cascadeGraph = graph === 'cascade';
  const session = cascadeGraph ? cascade : plain;
  // Caches as plain arrays of positions: [position][row] → 64 floats ([kv, d]).
  const own: Float32Array[][][] = Array.from({ length: layers * 2 }, () => []);
  const masks = headers.map((h) => [
    ...(cascadeGraph ? [] : new Array<number>(P).fill(1)),
    ...new Array<number>(width - h.length).fill(0),
    ...h.map(() => 1),
  ]);
  const result: Rows = { logits: [], probs: [], added: [] };
  const run = async (ids: number[][], positions: number[][]) => {
    const t = ids[0]!.length;
    const length = own[0]!.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(ids.flat(), [b, t]),
      position_ids: i64(positions.flat(), [b, t]),
      attention_mask: i64(masks.flat(), [b, masks[0]!.length]),
    };
    for (let l = 0; l < layers; l++) {
      kinds.forEach((k, j) => {
        const cache = own[l * 2 + j]!;
        const pastLength = cascadeGraph ? length : P + length;
        const data = new Float32Array(pastLength * b * position);
        for (let p = 0; p < pastLength; p++) {
          for (let r = 0; r < b; r++) {
            const values =
              !cascadeGraph && p < P
                ? prefix[`${l}.${k}`]!.subarray(p * position, (p + 1) * position)
                : cache[cascadeGraph ? p : p - P]![r]!;
            // Sequence-major [p, row, kv, d] for the appending graph; heads first [p, kv, row, d] for the cascade's own cache.
            for (let h = 0; h < shape.kvHeads; h++) {
              const at = cascadeGraph
                ? ((p * shape.kvHeads + h) * b + r) * shape.headDim
                : (p * b + r) * position + h * shape.headDim;
              data.set(values.subarray(h * shape.headDim, (h + 1) * shape.headDim), at);
            }
          }
        }
        feeds[`past.${l}.${k}`] = f32(
          data,
          cascadeGraph ? [pastLength, shape.kvHeads, b, shape.headDim] : [pastLength, b, shape.kvHeads, shape.headDim],
        );
        if (cascadeGraph) feeds[`shared.${l}.${k}`] = f32(prefix[`${l}.${k}`]!, [P, shape.kvHeads, shape.headDim]);
      });
    }
    const out = await session.run(feeds);
    result.logits.push(out.logits!.data as Float32Array);
    const probs = out[cascadeGraph ? '/layers.0/self_attn/cascade/probs' : '/layers.0/self_attn/Softmax_output_0']!;
    result.probs.push(cascadeGraph ? rowMajor(probs.data as Float32Array, b, t) : (probs.data as Float32Array));
    const added: Float32Array[][] = [];
    for (let l = 0; l < layers; l++) {
      kinds.forEach((k, j) => {
        const data = out[`new.${l}.${k}`]!.data as Float32Array;
        const perRow: Float32Array[] = [];
        for (let s = 0; s < t; s++) {
          const values = Array.from({ length: b }, () => new Float32Array(position));
          for (let r = 0; r < b; r++) {
            for (let h = 0; h < shape.kvHeads; h++) {
              const at = cascadeGraph
                ? ((s * shape.kvHeads + h) * b + r) * shape.headDim
                : (s * b + r) * position + h * shape.headDim;
              values[r]!.set(data.subarray(at, at + shape.headDim), h * shape.headDim);
            }
          }
          own[l * 2 + j]!.push(values);
          perRow.push(...values);
        }
        added.push(perRow);
      });
    }
    result.added.push(added);
  };
  await run(
    headers.map((h) => [...new Array<number>(width - h.length).fill(0), ...h]),
    headers.map(() => Array.from({ length: width }, (_, i) => P + i)),
  );
  for (const [s, tokens] of steps.entries()) {
    masks.forEach((m) => m.push(1));
    await run(
      tokens.map((x) => [x]),
      tokens.map(() => [P + width + s]),
    );
  }
  return result;
}

/** Layer 0's probabilities of the cascade graph, [kv, rows, rep·tokens, T], as the appending graph lays them out: [rows, heads, tokens, T]. */
function rowMajor(probs: Float32Array, rows: number, tokens: number): Float32Array {
  const rep = shape.heads / shape.kvHeads;
  const T = probs.length / (shape.heads * rows * tokens);
  const out = new Float32Array(probs.length);
  for (let kv = 0; kv < shape.kvHeads; kv++) {
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < rep * tokens; q++) {
        const head = kv * rep + Math.floor(q / tokens);
        out.set(
          probs.subarray(((kv * rows + r) * rep * tokens + q) * T, ((kv * rows + r) * rep * tokens + q + 1) * T),
          ((r * shape.heads + head) * tokens + (q % tokens)) * T,
        );
      }
    }
  }
  return out;
}

/** Row `r`'s slice of a per-call tensor whose first axis is the row. */
const row = (data: Float32Array, rows: number, r: number) =>
  data.subarray((data.length / rows) * r, (data.length / rows) * (r + 1));

describe('the committed cascade graph', () => {
  it('is what the rewrite tools produce from the export (the appending graph, then the cascade rewrite, then static shapes), and is under 5 MB', async () => {
    expect(Buffer.compare(Buffer.from(await rewriteCascadeDecoder(original, shape)), cascadeGraph)).toBe(0);
    expect(cascadeGraph.length).toBeLessThan(5 * 1024 * 1024);
  });

  it('takes the shared prefix once ([shared, kv, d]) and the rows’ own positions heads first; refuses other graphs', () => {
    const g = new Graph(decodeModel(cascadeGraph).graph);
    const names = (prefix: string) =>
      Array.from({ length: layers }, (_, l) => [`${prefix}.${l}.key`, `${prefix}.${l}.value`]).flat();
    expect(g.inputs).toEqual(['input_ids', 'attention_mask', 'position_ids', ...names('past'), ...names('shared')]);
    expect(g.outputs).toEqual(['logits', ...names('new')]);
    expect(() => rewriteCascade(cascadeGraph, shape)).toThrow(/already has cascade\/kv/);
    expect(() => rewriteCascade(rewriteDecoderWithPast(original, shape), shape)).toThrow(/run rewrite-append-kv first/);
  });
});

describe('cascade attention against the appending graph', () => {
  const next = rng(5);
  const tokens = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(next() * 100));
  // Unequal headers (padded rows) and a few decode steps.
  const headers = [tokens(4), tokens(6), tokens(5)];
  const steps = Array.from({ length: 6 }, () => tokens(3));

  it('gives every query the same attention probabilities, bit for bit (layer 0: same inputs), padded rows included', async () => {
    const [x, y] = [await decode('plain', headers, steps), await decode('cascade', headers, steps)];
    for (let call = 0; call < x.probs.length; call++)
      expect(bits(x.probs[call]!, y.probs[call]!), `call ${call}`).toBe(true);
    // The probabilities are not trivially equal: the prefix matters (attended to in every row).
    const P = prefixIds.length;
    expect(x.probs[1]!.subarray(0, P).some((p) => p > 1e-3)).toBe(true);
  });

  it('gives logits within rounding of the appending graph (p·V is summed in two parts)', async () => {
    const [x, y] = [await decode('plain', headers, steps), await decode('cascade', headers, steps)];
    const gaps = x.logits
      .flatMap((l, call) => Array.from(l, (v, i) => Math.abs(v - y.logits[call]![i]!)))
      .sort((u, v) => u - v);
    // Typically a last-bit difference; now and then the low bits flip an int8 rounding of a later
    // layer's input (activations are quantized per token), which moves a logit by a few hundredths.
    expect(gaps[gaps.length >> 1]).toBeLessThan(1e-5);
    expect(gaps[gaps.length - 1]).toBeLessThan(0.25);
    expect(gaps[gaps.length - 1]).toBeGreaterThan(0);
  });

  it('gives a row the same bits whichever rows share its batch (other rows, fewer rows, another order)', async () => {
    const [a, b, c] = [tokens(5), tokens(5), tokens(5)];
    const [sa, sb, sc] = [tokens(4), tokens(4), tokens(4)];
    const stepsOf = (...rows: number[][]) => sa.map((_, s) => rows.map((r) => r[s]!));
    const alone = await decode('cascade', [a], stepsOf(sa));
    const three = await decode('cascade', [b, a, c], stepsOf(sb, sa, sc));
    const two = await decode('cascade', [c, a], stepsOf(sc, sa));
    for (const [batch, index, rows] of [
      [three, 1, 3],
      [two, 1, 2],
    ] as const) {
      alone.logits.forEach((l, call) =>
        expect(bits(l, row(batch.logits[call]!, rows, index)), `logits, call ${call}`).toBe(true),
      );
      alone.added.forEach((outputs, call) =>
        outputs.forEach((perRow, o) => {
          const tokensInCall = perRow.length / rows;
          for (let s = 0; s < tokensInCall; s++)
            expect(bits(perRow[s]!, batch.added[call]![o]![s * rows + index]!), `cache ${o}, call ${call}`).toBe(true);
        }),
      );
    }
    // A padded row too: the same padding beside different rows.
    const short = tokens(3);
    const p1 = await decode('cascade', [short, a], stepsOf(sa, sb));
    const p2 = await decode('cascade', [short, b, c], stepsOf(sa, sc, sb));
    p1.logits.forEach((l, call) =>
      expect(bits(row(l, 2, 0), row(p2.logits[call]!, 3, 0)), `padded row, call ${call}`).toBe(true),
    );
  });
});
