import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../scripts/onnx/graph.js';
import { decodeModel, GraphField } from '../scripts/onnx/onnx-proto.js';
import { fieldBytes } from '../scripts/onnx/protobuf.js';
import { rewriteGqa } from '../scripts/onnx/rewrite-gqa.js';
import { TransformersEngine } from '../src/engine/transformers.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { repoRoot } from './helpers.js';

const modelDir = path.join(repoRoot, 'models/tiny-threadweaver');
const originalPath = path.join(modelDir, 'onnx/model_quantized.onnx');
const rewrittenPath = path.join(modelDir, 'onnx/model_gqa_quantized.onnx');
const shape = { heads: 8, kvHeads: 2, headDim: 32 };
const layers = 6;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('GQA rewrite of the bundled decoder graph', () => {
  const original = readFileSync(originalPath);

  it('decodes and re-encodes the original model byte for byte', async () => {
    const { encodeModel } = await import('../scripts/onnx/onnx-proto.js');
    expect(Buffer.compare(Buffer.from(encodeModel(decodeModel(original))), original)).toBe(0);
  });

  it('the committed rewritten model is what the tool produces, and is under 5 MB', () => {
    const { model, report } = rewriteGqa(original, shape);
    expect(report.scoreMatMuls).toBe(layers);
    expect(report.valueMatMuls).toBe(layers);
    const committed = readFileSync(rewrittenPath);
    expect(Buffer.compare(Buffer.from(model), committed)).toBe(0);
    expect(committed.length).toBeLessThan(5 * 1024 * 1024);
  });

  it('no longer repeats K/V, and keeps other nodes and all initializers byte-identical', () => {
    const before = decodeModel(original);
    const after = decodeModel(readFileSync(rewrittenPath));
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

    const inits = (g: typeof before) => g.graph.filter((f) => f.no === GraphField.initializer).map((f) => hex(fieldBytes(f)));
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
    input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: batch * t }, () => BigInt(Math.floor(next() * 110))), [batch, t]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: batch * t }, (_, k) => BigInt(past + (k % t))), [batch, t]),
    attention_mask: new ort.Tensor('int64', mask, [batch, total]),
  };
  for (let l = 0; l < layers; l++) {
    for (const kv of ['key', 'value']) {
      const data = Float32Array.from({ length: batch * shape.kvHeads * past * shape.headDim }, () => next() * 4 - 2);
      feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', data, [batch, shape.kvHeads, past, shape.headDim]);
    }
  }
  return feeds;
}

describe('original and rewritten graphs under onnxruntime', () => {
  let a: ort.InferenceSession;
  let b: ort.InferenceSession;
  beforeAll(async () => {
    a = await ort.InferenceSession.create(originalPath);
    b = await ort.InferenceSession.create(rewrittenPath);
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
    const open = { ...feeds, attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * (past + t)).fill(1n), [batch, past + t]) };
    const z = await b.run(open);
    const l0 = x.logits!.data as Float32Array;
    const l1 = z.logits!.data as Float32Array;
    if (past > 0) expect(l0.some((v, i) => Math.abs(v - l1[i]!) > 1e-3)).toBe(true);
  });
});

describe('the embedded engine on the rewritten graph', () => {
  let dir: string;
  let before: TransformersEngine;
  let after: TransformersEngine;
  beforeAll(async () => {
    // A copy of the model folder whose q8 decoder is the rewritten graph.
    dir = mkdtempSync(path.join(os.tmpdir(), 'tw-gqa-'));
    const copy = path.join(dir, 'tiny-threadweaver');
    mkdirSync(path.join(copy, 'onnx'), { recursive: true });
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      copyFileSync(path.join(modelDir, f), path.join(copy, f));
    }
    copyFileSync(rewrittenPath, path.join(copy, 'onnx/model_quantized.onnx'));
    before = await TransformersEngine.load({ model: modelDir, prefixCache: false });
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
