import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../../scripts/onnx/graph.js';
import { decodeModel, GraphField } from '../../scripts/onnx/onnx-proto.js';
import { fieldBytes } from '../../scripts/onnx/protobuf.js';
import { rewriteAppendKv } from '../../scripts/onnx/rewrite-append-kv.js';
import { rewriteCascade } from '../../scripts/onnx/rewrite-cascade.js';
import { rewriteAppendingDecoder, rewriteDecoder, rewriteDecoderWithPast } from '../../scripts/onnx/rewrite-decoder.js';
import { rewriteGqa } from '../../scripts/onnx/rewrite-gqa.js';
import { rewriteTokenQuant } from '../../scripts/onnx/rewrite-token-quant.js';
import { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { repoRoot } from '../support/helpers.js';
import { MODEL_FOLDER_FILES } from '../../src/engine/model-source.js';

const modelDir = path.join(repoRoot, 'models/tiny-threadweaver');
const originalPath = path.join(modelDir, 'onnx/model_quantized.onnx');
const rewrittenPath = path.join(modelDir, 'onnx/model_append_quantized.onnx');
const shape = { heads: 8, kvHeads: 2, headDim: 32 };
const layers = 6;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Same values to the bit (NaN payloads and signed zeros included). */
const bits = (u: Float32Array, v: Float32Array) =>
  Buffer.compare(
    Buffer.from(u.buffer, u.byteOffset, u.byteLength),
    Buffer.from(v.buffer, v.byteOffset, v.byteLength),
  ) === 0;

const original = readFileSync(originalPath);
// The attention rewrite alone, to check it against the export it came from.
const gqaOnly = rewriteGqa(original, shape).model;
// The first two steps: the decoder-with-past contract, computing what the shipped graph computes.
const withPast = rewriteDecoderWithPast(original, shape);

describe('the committed decoder', () => {
  it('is what the rewrite tools produce from the export (GQA, per-token quantization, appending cache, static shapes), and is under 5 MB', async () => {
    const committed = readFileSync(rewrittenPath);
    expect(Buffer.compare(Buffer.from(await rewriteDecoder(original, shape)), committed)).toBe(0);
    expect(committed.length).toBeLessThan(5 * 1024 * 1024);
  });
});

describe('GQA rewrite of the bundled decoder graph', () => {
  it('decodes and re-encodes the original model byte for byte', async () => {
    const { encodeModel } = await import('../../scripts/onnx/onnx-proto.js');
    expect(Buffer.compare(Buffer.from(encodeModel(decodeModel(original))), original)).toBe(0);
  });

  it('rewrites one q·Kᵀ and one p·V per layer', () => {
    const { report } = rewriteGqa(original, shape);
    expect(report.scoreMatMuls).toBe(layers);
    expect(report.valueMatMuls).toBe(layers);
  });

  it('no longer repeats K/V, and keeps other nodes and all initializers byte-identical', () => {
    const before = decodeModel(original);
    const after = decodeModel(gqaOnly);
    const g0 = new Graph(before.graph);
    const g1 = new Graph(after.graph);
    expect(g0.nodes.filter((n) => n.view.opType === 'Expand')).toHaveLength(2 * layers);
    expect(g1.nodes.filter((n) => n.view.opType === 'Expand')).toHaveLength(0);

    // Each layer's attention MatMuls now read the cache itself (K through one transpose).
    for (let l = 0; l < layers; l++) {
      const pv = g1.consumers(`present.${l}.value`).filter((n) => n.view.opType === 'MatMul');
      expect(pv).toHaveLength(1);
      const kt = g1.consumers(`present.${l}.key`).filter((n) => n.view.opType === 'Transpose');
      expect(kt).toHaveLength(1);
      expect(g1.consumers(kt[0]!.view.outputs[0]!).map((n) => n.view.opType)).toEqual(['MatMul']);
    }

    const inits = (g: typeof before) =>
      g.graph.filter((f) => f.no === GraphField.initializer).map((f) => hex(fieldBytes(f)));
    const kept = new Set(inits(after));
    expect(inits(before).every((i) => kept.has(i))).toBe(true);
    expect(inits(after).length).toBe(inits(before).length + 4);

    // Surviving nodes are the original bytes; new nodes live under .../gqa/.
    const originals = new Map(g0.nodes.map((n) => [n.view.name, hex(n.raw!)]));
    for (const n of g1.nodes) {
      if (n.view.name.includes('gqa/')) continue;
      expect(hex(n.raw!)).toBe(originals.get(n.view.name));
    }
    expect(g1.nodes.filter((n) => n.view.name.includes('gqa/'))).toHaveLength(8 * layers);
    expect(g1.inputs).toEqual(g0.inputs);
    expect(g1.outputs).toEqual(g0.outputs);
  });

  it('refuses a model it already rewrote, and shapes that are not GQA', () => {
    expect(() => rewriteGqa(readFileSync(rewrittenPath), shape)).toThrow(/already has gqa\/shape_grouped_q/);
    expect(() => rewriteGqa(original, { heads: 8, kvHeads: 8, headDim: 32 })).toThrow(/not grouped-query attention/);
  });
});

// A small deterministic generator so a failure reproduces.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Feeds for `batch` rows of `t` new tokens after `past` cached ones. Masks have zeros in the
 * middle of the past (holes) and, in odd rows, left-padding of the new tokens, as the engine
 * writes for padded sibling headers.
 */
function randomFeeds(next: () => number, batch: number, past: number, t: number): Record<string, ort.Tensor> {
  const total = past + t;
  const mask = new BigInt64Array(batch * total).fill(1n);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < past; c++) if (next() < 0.2 || c === past >> 1) mask[b * total + c] = 0n;
    if (b % 2 === 1) for (let c = past; c < total - 1; c++) mask[b * total + c] = 0n;
  }
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: batch * t }, () => BigInt(Math.floor(next() * 110))),
      [batch, t],
    ),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: batch * t }, (_, k) => BigInt(past + (k % t))),
      [batch, t],
    ),
    attention_mask: new ort.Tensor('int64', mask, [batch, total]),
  };
  for (let l = 0; l < layers; l++) {
    for (const kv of ['key', 'value']) {
      const data = Float32Array.from({ length: batch * shape.kvHeads * past * shape.headDim }, () => next() * 4 - 2);
      feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', data, [
        batch,
        shape.kvHeads,
        past,
        shape.headDim,
      ]);
    }
  }
  return feeds;
}

describe('original and GQA-rewritten graphs under onnxruntime', () => {
  let a: ort.InferenceSession;
  let b: ort.InferenceSession;
  beforeAll(async () => {
    a = await ort.InferenceSession.create(originalPath);
    b = await ort.InferenceSession.create(gqaOnly);
  });

  const cases: [batch: number, past: number, t: number][] = [
    [1, 0, 6],
    [3, 0, 5],
    [1, 1, 1],
    [4, 1, 2],
    [2, 300, 1],
    [4, 300, 1],
    [3, 300, 4],
  ];
  it.each(cases)('batch %i, past %i, %i new tokens: logits and presents agree to 1e-4', async (batch, past, t) => {
    const feeds = randomFeeds(rng(batch * 1000 + past * 10 + t), batch, past, t);
    const [x, y] = [await a.run(feeds), await b.run(feeds)];
    expect(b.outputNames).toEqual(a.outputNames);
    for (const name of a.outputNames) {
      expect(y[name]!.dims).toEqual(x[name]!.dims);
      const u = x[name]!.data as Float32Array;
      const v = y[name]!.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < u.length; i++) worst = Math.max(worst, Math.abs(u[i]! - v[i]!));
      expect(worst, name).toBeLessThan(1e-4);
    }
    // The masked holes matter: zeroing them changes the logits (so the test can see a mask bug).
    const open = {
      ...feeds,
      attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * (past + t)).fill(1n), [batch, past + t]),
    };
    const z = await b.run(open);
    const l0 = x.logits!.data as Float32Array;
    const l1 = z.logits!.data as Float32Array;
    if (past > 0) expect(l0.some((v, i) => Math.abs(v - l1[i]!) > 1e-3)).toBe(true);
  });
});

describe('the embedded engine on the GQA-rewritten graph', () => {
  let dir: string;
  let before: TransformersEngine;
  let after: TransformersEngine;
  beforeAll(async () => {
    // A copy of the model folder whose q8 decoder is the rewritten graph.
    dir = mkdtempSync(path.join(os.tmpdir(), 'tw-gqa-'));
    const copy = path.join(dir, 'tiny-threadweaver');
    mkdirSync(path.join(copy, 'onnx'), { recursive: true });
    for (const f of MODEL_FOLDER_FILES) {
      copyFileSync(path.join(modelDir, f), path.join(copy, f));
    }
    writeFileSync(path.join(copy, 'onnx/model_quantized.onnx'), gqaOnly);
    before = await TransformersEngine.load({ model: modelDir, graph: 'original', prefixCache: false });
    after = await TransformersEngine.load({ model: copy, prefixCache: false });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('greedy decodes of arith problems are identical', async () => {
    for (const problem of ['Compute 37*24 + 18*53 - 29*11.', 'Compute 86*58 + 89*12 - 41*2.']) {
      const prompt = buildPrompt(before.tokenizer, problem, 'parallel');
      const x = await before.complete({ prompt, maxTokens: 200 });
      const y = await after.complete({ prompt, maxTokens: 200 });
      expect(y.ids).toEqual(x.ids);
      expect(y.text).toBe(x.text);
      expect(x.ids.length).toBeGreaterThan(20);
    }
  });

  it('batched sibling threads with padded headers decode identically', async () => {
    const prompt = buildPrompt(before.tokenizer, 'Compute 76*83 + 59*97 - 20*94.', 'parallel');
    const head = await before.complete({ prompt, maxTokens: 300, stop: ['</Outlines>'] });
    const prefix = [...before.tokenizer.encode(prompt), ...head.ids];
    const suffixes = ['\n<Thread>\n1:', '\n<Thread>\n2:', '\n<Thread>\n12:'].map((s) => before.tokenizer.encode(s));
    const request = { maxTokens: 120, stop: ['</Thread>'] };
    const x = await before.completeSiblings(prefix, suffixes, request);
    const y = await after.completeSiblings(prefix, suffixes, request);
    expect(y.map((r) => r.text)).toEqual(x.map((r) => r.text));
  });
});

const committed = readFileSync(rewrittenPath);

describe('per-token activation quantization', () => {
  it('replaces every per-tensor quantizer and fuses each MatMulInteger chain; weights untouched', () => {
    const { report } = rewriteTokenQuant(gqaOnly);
    expect(report).toMatchObject({ quantizers: 4 * layers + 1, matmuls: 7 * layers + 1 });
    const g = new Graph(decodeModel(withPast).graph);
    const ops = g.nodes.map((n) => n.view.opType);
    expect(ops).not.toContain('DynamicQuantizeLinear');
    expect(ops).not.toContain('MatMulInteger');
    const fused = g.nodes.filter((n) => n.view.opType === 'MatMulIntegerToFloat');
    expect(fused).toHaveLength(7 * layers + 1);
    expect(fused.every((n) => n.view.domain === 'com.microsoft')).toBe(true);
    const inits = (m: Uint8Array) =>
      decodeModel(m)
        .graph.filter((f) => f.no === GraphField.initializer)
        .map((f) => hex(fieldBytes(f)));
    const kept = new Set(inits(withPast));
    expect(inits(gqaOnly).every((i) => kept.has(i))).toBe(true);
    expect(() => rewriteTokenQuant(committed)).toThrow(/already has tokq\//);
  });

  /** Runs of a session on one row of ids: at once, in chunks, a row next to others, the last token alone. */
  async function splits(session: ort.InferenceSession, ids: number[], cuts: number[]) {
    const empty = (b: number) =>
      Object.fromEntries(
        Array.from({ length: layers }, (_, l) =>
          ['key', 'value'].map((kv) => [
            `past_key_values.${l}.${kv}`,
            new ort.Tensor('float32', new Float32Array(0), [b, shape.kvHeads, 0, shape.headDim]),
          ]),
        ).flat(),
      ) as Record<string, ort.Tensor>;
    const run = async (rows: number[][], past: Record<string, ort.Tensor>, from: number) => {
      const t = rows[0]!.length;
      const out = await session.run({
        ...past,
        input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, t]),
        position_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from(rows.flatMap((r) => r.map((_, i) => BigInt(from + i)))),
          [rows.length, t],
        ),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(rows.length * (from + t)).fill(1n), [
          rows.length,
          from + t,
        ]),
      });
      const present = Object.fromEntries(
        Object.keys(past).map((k) => [k, out[k.replace('past_key_values.', 'present.')]!]),
      );
      return { logits: out.logits!.data as Float32Array, present };
    };
    const whole = await run([ids], empty(1), 0);
    let past = empty(1);
    const pieces: Float32Array[] = [];
    for (let c = 1; c < cuts.length; c++) {
      const r = await run([ids.slice(cuts[c - 1], cuts[c])], past, cuts[c - 1]!);
      pieces.push(r.logits);
      past = r.present;
    }
    const chunked = new Float32Array(whole.logits.length);
    let at = 0;
    for (const p of pieces) {
      chunked.set(p, at);
      at += p.length;
    }
    const other = ids.map((x) => (x * 7 + 3) % 110);
    const batched = (await run([other, ids], empty(2), 0)).logits.subarray(whole.logits.length);
    const sameCache = Object.keys(past).every((k) =>
      bits(past[k]!.data as Float32Array, whole.present[k]!.data as Float32Array),
    );
    return { chunked: bits(chunked, whole.logits) && sameCache, batched: bits(batched, whole.logits) };
  }

  it('computes a sequence to the same bits in one call, in chunks, or beside another row; the export does not', async () => {
    const a = await ort.InferenceSession.create(originalPath);
    const b = await ort.InferenceSession.create(withPast);
    const next = rng(77);
    for (const length of [2, 9, 64, 300, 700]) {
      const ids = Array.from({ length }, () => 3 + Math.floor(next() * 100));
      // Uneven chunks, the last one a single token (how a cached prompt is resumed).
      const cuts = [
        0,
        Math.max(1, Math.floor(length / 3)),
        Math.max(1, Math.floor(length / 3)) + Math.floor(length / 4),
        length - 1,
        length,
      ].filter((c, i, xs) => i === 0 || c > xs[i - 1]!);
      expect(await splits(b, ids, cuts), `length ${length}`).toEqual({ chunked: true, batched: true });
      if (length >= 9)
        expect(await splits(a, ids, cuts), `export, length ${length}`).toEqual({ chunked: false, batched: false });
    }
  });

  it('predicts the same next token as the export at every position of real trajectories', async () => {
    const engine = await TransformersEngine.load({ prefixCache: false });
    const a = await ort.InferenceSession.create(originalPath);
    const b = await ort.InferenceSession.create(withPast);
    for (const problem of ['Compute 37*24 + 18*53 - 29*11.', 'Let f(x) = 3x^2 + 2x + 5. Compute f(4) + f(7).']) {
      const prompt = engine.tokenizer.encode(buildPrompt(engine.tokenizer, problem, 'parallel'));
      const out = await engine.complete({ prompt, maxTokens: 700 });
      const ids = [...prompt, ...out.ids];
      const feeds = randomFeeds(rng(1), 1, 0, ids.length);
      feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
      const [x, y] = [
        (await a.run(feeds)).logits!.data as Float32Array,
        (await b.run(feeds)).logits!.data as Float32Array,
      ];
      const top = (l: Float32Array, p: number) => {
        const row = l.subarray(p * 110, (p + 1) * 110);
        return row.indexOf(Math.max(...row));
      };
      for (let p = prompt.length - 1; p < ids.length - 1; p++)
        expect(top(y, p), `${problem} position ${p}`).toBe(top(x, p));
    }
  });
});

describe('cache kept outside the graph, appended to (model_append_quantized.onnx)', () => {
  it('takes past.L.* sequence-major and returns only the new positions', () => {
    const g = new Graph(decodeModel(committed).graph);
    const past = Array.from({ length: layers }, (_, l) => [`past.${l}.key`, `past.${l}.value`]).flat();
    expect(g.inputs).toEqual(['input_ids', 'attention_mask', 'position_ids', ...past]);
    expect(g.outputs).toEqual(['logits', ...past.map((n) => n.replace('past.', 'new.'))]);
    // The cache is read through FusedMatMul with the batch dims moved (no transpose copy), two per layer.
    const fused = g.nodes.filter((n) => n.view.opType === 'FusedMatMul');
    expect(fused).toHaveLength(2 * layers);
    expect(() => rewriteAppendKv(committed, shape)).toThrow(/already has kvseq\/axis_0/);
    expect(() => rewriteAppendKv(original, shape)).toThrow(/run rewrite-gqa first/);
  });

  /** Batch-major feeds → the same values for the appending graph (past transposed to sequence-major). */
  function appendFeeds(feeds: Record<string, ort.Tensor>, batch: number, past: number): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {
      input_ids: feeds.input_ids!,
      position_ids: feeds.position_ids!,
      attention_mask: feeds.attention_mask!,
    };
    for (let l = 0; l < layers; l++) {
      for (const kv of ['key', 'value']) {
        const src = feeds[`past_key_values.${l}.${kv}`]!.data as Float32Array;
        const dst = new Float32Array(src.length);
        for (let b = 0; b < batch; b++) {
          for (let h = 0; h < shape.kvHeads; h++) {
            for (let p = 0; p < past; p++) {
              const from = ((b * shape.kvHeads + h) * past + p) * shape.headDim;
              dst.set(src.subarray(from, from + shape.headDim), ((p * batch + b) * shape.kvHeads + h) * shape.headDim);
            }
          }
        }
        out[`past.${l}.${kv}`] = new ort.Tensor('float32', dst, [past, batch, shape.kvHeads, shape.headDim]);
      }
    }
    return out;
  }

  const cases: [batch: number, past: number, t: number][] = [
    [1, 0, 7],
    [3, 0, 4],
    [1, 1, 1],
    [4, 9, 3],
    [2, 300, 1],
    [4, 300, 1],
    [3, 520, 5],
  ];
  let a: ort.InferenceSession;
  let b: ort.InferenceSession;
  beforeAll(async () => {
    a = await ort.InferenceSession.create(withPast);
    b = await ort.InferenceSession.create(committed);
  });
  it.each(cases)(
    'batch %i, past %i, %i new tokens: bit-identical logits and new positions to the decoder-with-past graph',
    async (batch, past, t) => {
      // Random caches and masks with holes (as padded sibling headers leave).
      const feeds = randomFeeds(rng(batch * 7919 + past * 31 + t), batch, past, t);
      const [x, y] = [await a.run(feeds), await b.run(appendFeeds(feeds, batch, past))];
      expect(bits(x.logits!.data as Float32Array, y.logits!.data as Float32Array)).toBe(true);
      for (let l = 0; l < layers; l++) {
        for (const kv of ['key', 'value']) {
          // present[b, h, past + s, :] is new[s, b, h, :].
          const present = x[`present.${l}.${kv}`]!.data as Float32Array;
          const added = y[`new.${l}.${kv}`]!.data as Float32Array;
          expect(y[`new.${l}.${kv}`]!.dims).toEqual([t, batch, shape.kvHeads, shape.headDim]);
          for (let s = 0; s < t; s++) {
            for (let bb = 0; bb < batch; bb++) {
              for (let h = 0; h < shape.kvHeads; h++) {
                const from = ((bb * shape.kvHeads + h) * (past + t) + past + s) * shape.headDim;
                const to = ((s * batch + bb) * shape.kvHeads + h) * shape.headDim;
                expect(
                  bits(present.subarray(from, from + shape.headDim), added.subarray(to, to + shape.headDim)),
                  `${l}.${kv} s${s} b${bb} h${h}`,
                ).toBe(true);
              }
            }
          }
        }
      }
    },
  );
});

describe('shape arithmetic folded into constants (rewrite-static-shapes.ts)', () => {
  const appending = rewriteAppendingDecoder(original, shape);
  const graphs = {
    append: { before: appending, after: committed },
    cascade: {
      before: rewriteCascade(appending, shape).model,
      after: readFileSync(path.join(modelDir, 'onnx/model_cascade_quantized.onnx')),
    },
  };

  it('keeps a few of the shape chains and reads every initializer it keeps', () => {
    for (const { before, after } of Object.values(graphs)) {
      const [g0, g1] = [new Graph(decodeModel(before).graph), new Graph(decodeModel(after).graph)];
      const count = (g: Graph, op: string) => g.nodes.filter((n) => n.view.opType === op).length;
      expect(count(g1, 'Shape')).toBeLessThan(count(g0, 'Shape') / 4);
      expect(g1.nodes.length).toBeLessThan(g0.nodes.length - 300);
      expect(g1.inputs).toEqual(g0.inputs);
      expect(g1.outputs).toEqual(g0.outputs);
      const read = new Set(g1.nodes.flatMap((n) => n.view.inputs));
      expect(g1.initializerNames().filter((n) => !read.has(n))).toEqual([]);
    }
  });

  /** Random feeds for any of the graphs, from its declared inputs: masks with holes, caches of `past` positions. */
  function feedsFor(session: ort.InferenceSession, next: () => number, sizes: Record<string, number>) {
    const dims: Record<string, number> = {
      ...sizes,
      total_sequence_length: sizes.past_sequence_length! + sizes.sequence_length!,
    };
    const feeds: Record<string, ort.Tensor> = {};
    for (const m of session.inputMetadata) {
      if (!m.isTensor) throw new Error(`${m.name}: not a tensor`);
      const d = m.shape.map((x) => (typeof x === 'number' ? x : dims[x]!));
      const n = d.reduce((a, x) => a * x, 1);
      const int = (f: (k: number) => number) =>
        new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: n }, (_, k) => BigInt(f(k))),
          d,
        );
      if (m.name === 'input_ids') feeds[m.name] = int(() => Math.floor(next() * 110));
      else if (m.name === 'position_ids')
        feeds[m.name] = int((k) => dims.past_sequence_length! + (k % dims.sequence_length!));
      else if (m.name === 'attention_mask')
        feeds[m.name] = int((k) => (k % d[1]! === d[1]! - 1 || next() > 0.2 ? 1 : 0));
      else
        feeds[m.name] = new ort.Tensor(
          'float32',
          Float32Array.from({ length: n }, () => next() * 4 - 2),
          d,
        );
    }
    return feeds;
  }

  // Sizes the tool's probes did not use.
  const sizes = [
    { batch_size: 5, sequence_length: 3, past_sequence_length: 17, shared_sequence_length: 40 },
    { batch_size: 1, sequence_length: 1, past_sequence_length: 0, shared_sequence_length: 1 },
    { batch_size: 2, sequence_length: 6, past_sequence_length: 611, shared_sequence_length: 9 },
  ];
  it.each(Object.keys(graphs) as (keyof typeof graphs)[])(
    '%s graph: every output the same bits as before folding, for calls of other sizes than the probes',
    async (name) => {
      const [a, b] = await Promise.all(
        [graphs[name].before, graphs[name].after].map((m) => ort.InferenceSession.create(m, { logSeverityLevel: 3 })),
      );
      for (const [k, size] of sizes.entries()) {
        const feeds = feedsFor(a!, rng(100 + k), size);
        const [x, y] = [await a!.run(feeds), await b!.run(feeds)];
        for (const out of a!.outputNames) {
          expect(y[out]!.dims, `${name} ${out}`).toEqual(x[out]!.dims);
          expect(
            bits(x[out]!.data as Float32Array, y[out]!.data as Float32Array),
            `${name} ${out} ${JSON.stringify(size)}`,
          ).toBe(true);
        }
      }
    },
  );
});
