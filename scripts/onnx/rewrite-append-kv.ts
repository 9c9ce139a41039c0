/**
 * Rewrite a decoder so its key/value cache lives outside the graph and is only appended to.
 *
 * The decoder-with-past contract takes `past_key_values.L.{key,value}` [batch, kv_heads, past, d]
 * and returns `present.L.*` = Concat(past, new): the whole cache, every step. onnxruntime-node
 * copies every output into a fresh JavaScript buffer, so each step the cache was copied twice
 * (the Concat, then out to JavaScript) and twelve buffers the size of the cache were allocated
 * and collected. After this rewrite:
 *
 *   inputs   past.L.key / past.L.value   [past, batch, kv_heads, d]   (sequence-major)
 *   outputs  new.L.key  / new.L.value    [tokens, batch, kv_heads, d] (this step's positions only)
 *
 * Sequence-major means the first `past` positions of a buffer with room for more are one
 * contiguous prefix: the caller keeps one growing buffer per tensor, hands the runtime a view of
 * its prefix (no copy: inputs are passed by reference) and writes each step's `new.*` after it.
 * Inside the graph the attention still reads one [past + tokens] array per layer
 * (Concat along the sequence axis), through `com.microsoft.FusedMatMul` with `transBatchB`, so
 * the same MLAS kernels see the same values in the same order as before: logits are bit-identical
 * to the input graph's (`test/onnx-rewrite.test.ts`).
 *
 * Expects the grouped attention of `rewrite-gqa.ts` (each layer's q·Kᵀ reads `present.L.key`
 * through one Transpose, p·V reads `present.L.value`) and fails loudly on anything else.
 *
 * Usage: node dist/scripts/onnx/rewrite-append-kv.js <in.onnx> <out.onnx> [--config config.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Graph, type GraphNode } from './graph.js';
import type { Field } from './protobuf.js';
import { rewriteArgs, type AttentionShape } from './rewrite-gqa.js';
import {
  attribute,
  DataType,
  decodeModel,
  decodeTensor,
  encodeModel,
  floatAttr,
  int64Tensor,
  intAttr,
  intsAttr,
  tensorValueInfo,
  withOpset,
  type TensorView,
} from './onnx-proto.js';

export interface AppendKvReport {
  layers: number;
  removedNodes: number;
  addedNodes: number;
}

/** Input and output names of the appending contract. */
export const appendNames = {
  past: (layer: number, kind: 'key' | 'value') => `past.${layer}.${kind}`,
  added: (layer: number, kind: 'key' | 'value') => `new.${layer}.${kind}`,
};

/** Axis `i` of the batch-major [batch, kv_heads, seq, d] cache is axis `SEQUENCE_MAJOR[i]` now. */
const SEQUENCE_MAJOR = [1, 2, 0, 3];
const axisName = (axis: number) => `kvseq/axis_${axis}`;

export function rewriteAppendKv(
  model: Uint8Array,
  shape: AttentionShape,
): { model: Uint8Array; report: AppendKvReport } {
  const parts = decodeModel(model);
  const graph = new Graph(parts.graph);
  if (graph.initializerNames().includes(axisName(0)))
    throw new Error(`rewrite-append-kv: the model already has ${axisName(0)}; was it rewritten before?`);
  const report: AppendKvReport = { layers: 0, removedNodes: 0, addedNodes: 0 };
  const build = Graph.counting(report);
  const replaced = new Map<GraphNode, GraphNode[]>();
  const dropped = new Set<GraphNode>();
  const fail = (why: string): never => {
    throw new Error(`rewrite-append-kv: ${why}`);
  };

  /** `matmul`'s A times the sequence-major cache `all`, read as [batch, kv_heads, seq, d] in place. */
  const readCache = (matmul: GraphNode, all: string, output: string, attributes: Field[]) =>
    build({
      opType: 'FusedMatMul',
      domain: 'com.microsoft',
      name: `${matmul.view.name}/kvseq`,
      inputs: [matmul.view.inputs[0]!, all],
      outputs: [output],
      attributes: [...attributes, intAttr('transBatchB', 1)],
    });

  /** A scalar constant (Constant node or initializer) by tensor name. */
  const scalar = (name: string, type: number): TensorView => {
    const producer = graph.producer(name);
    const t = producer?.view.opType === 'Constant' ? attribute(producer.view, 'value')?.t : undefined;
    const tensor = t ? decodeTensor(t) : graph.initializer(name);
    if (!tensor || tensor.dataType !== type || tensor.dims.reduce((n, d) => n * d, 1n) !== 1n)
      return fail(`${name} is not a scalar constant of data type ${type}`);
    return tensor;
  };

  for (let layer = 0; graph.inputs.includes(`past_key_values.${layer}.key`); layer++) {
    const rewriteKind = (kind: 'key' | 'value') => {
      const past = `past_key_values.${layer}.${kind}`;
      const present = `present.${layer}.${kind}`;
      const concat = graph.producer(present);
      if (concat?.view.opType !== 'Concat' || concat.view.inputs[0] !== past || concat.view.inputs.length !== 2)
        return fail(`${present} is not Concat(${past}, new)`);
      const added = appendNames.added(layer, kind);
      const all = `${concat.view.name}/kvseq/all`;
      replaced.set(concat, [
        // [batch, kv_heads, tokens, d] → [tokens, batch, kv_heads, d]
        build({
          opType: 'Transpose',
          name: `${concat.view.name}/kvseq/New`,
          inputs: [concat.view.inputs[1]!],
          outputs: [added],
          attributes: [intsAttr('perm', [2, 0, 1, 3])],
        }),
        build({
          opType: 'Concat',
          name: `${concat.view.name}/kvseq/All`,
          inputs: [appendNames.past(layer, kind), added],
          outputs: [all],
          attributes: [intAttr('axis', 0)],
        }),
      ]);
      return { present, all };
    };
    const key = rewriteKind('key');
    const value = rewriteKind('value');

    // q·Kᵀ: MatMul(q, Transpose(present.key, 0,1,3,2)), optionally followed by Div(·, c).
    const kUsers = graph.consumers(key.present);
    const transpose = kUsers[0];
    if (
      kUsers.length !== 1 ||
      transpose?.view.opType !== 'Transpose' ||
      attribute(transpose.view, 'perm')?.ints.map(Number).join(',') !== '0,1,3,2'
    ) {
      return fail(`${key.present} must feed one Transpose(perm 0,1,3,2) (run rewrite-gqa first)`);
    }
    const qk = graph.consumers(transpose.view.outputs[0]!);
    if (qk.length !== 1 || qk[0]!.view.opType !== 'MatMul' || qk[0]!.view.inputs[1] !== transpose.view.outputs[0])
      return fail(`the transposed ${key.present} must be a MatMul's B`);
    const scoreUsers = graph.consumers(qk[0]!.view.outputs[0]!);
    const div = scoreUsers.length === 1 && scoreUsers[0]!.view.opType === 'Div' ? scoreUsers[0]! : undefined;
    // The scale as onnxruntime fuses MatMul + Div into FusedMatMul: alpha = 1 / c in float.
    const alpha = div ? Math.fround(1 / scalar(div.view.inputs[1]!, DataType.float).float32s()[0]!) : 1;
    dropped.add(transpose);
    if (div) dropped.add(div);
    replaced.set(qk[0]!, [
      readCache(qk[0]!, key.all, (div ?? qk[0]!).view.outputs[0]!, [intAttr('transB', 1), floatAttr('alpha', alpha)]),
    ]);

    // p·V: MatMul(p, present.value).
    const pv = graph.consumers(value.present);
    if (pv.length !== 1 || pv[0]!.view.opType !== 'MatMul' || pv[0]!.view.inputs[1] !== value.present)
      return fail(`${value.present} must be one MatMul's B (run rewrite-gqa first)`);
    replaced.set(pv[0]!, [readCache(pv[0]!, value.all, pv[0]!.view.outputs[0]!, [])]);
    report.layers++;
  }
  if (report.layers === 0) fail('no past_key_values.0.key input (is this a decoder-with-past?)');

  // The exporter reads the past length as Shape(past)[2]; in the new layout that is axis 0.
  const axes = new Set<number>();
  for (let layer = 0; layer < report.layers; layer++) {
    for (const kind of ['key', 'value'] as const) {
      const past = `past_key_values.${layer}.${kind}`;
      for (const user of graph.consumers(past)) {
        if (replaced.has(user)) continue;
        const gathers = user.view.opType === 'Shape' ? graph.consumers(user.view.outputs[0]!) : [];
        if (
          gathers.length === 0 ||
          gathers.some((g) => g.view.opType !== 'Gather') ||
          attribute(user.view, 'start') ||
          attribute(user.view, 'end')
        ) {
          return fail(
            `${past} feeds ${user.view.opType} ${user.view.name}; only the cache and Gather(Shape(·), axis) are handled`,
          );
        }
        replaced.set(user, [Graph.withInputs(user, [appendNames.past(layer, kind)])]);
        for (const g of gathers) {
          const axis = SEQUENCE_MAJOR[Number(scalar(g.view.inputs[1]!, DataType.int64).int64s()[0])];
          if (axis === undefined) return fail(`${g.view.name} gathers an axis the cache does not have`);
          axes.add(axis);
          replaced.set(g, [Graph.withInputs(g, [g.view.inputs[0]!, axisName(axis)])]);
        }
      }
    }
  }

  for (const axis of axes) graph.addInitializer(int64Tensor(axisName(axis), [], [axis]));
  const before = graph.nodes.length;
  graph.nodes = graph.nodes.filter((n) => !dropped.has(n)).flatMap((n) => replaced.get(n) ?? [n]);
  graph.removeDeadNodes();
  report.removedNodes = before - (graph.nodes.length - report.addedNodes);
  for (let layer = 0; layer < report.layers; layer++) {
    for (const kind of ['key', 'value'] as const) {
      graph.replaceValueInfo(
        'input',
        `past_key_values.${layer}.${kind}`,
        tensorValueInfo(appendNames.past(layer, kind), DataType.float, [
          'past_sequence_length',
          'batch_size',
          shape.kvHeads,
          shape.headDim,
        ]),
      );
      graph.replaceValueInfo(
        'output',
        `present.${layer}.${kind}`,
        tensorValueInfo(appendNames.added(layer, kind), DataType.float, [
          'sequence_length',
          'batch_size',
          shape.kvHeads,
          shape.headDim,
        ]),
      );
    }
  }
  graph.checkOrder();
  return { model: encodeModel({ model: withOpset(parts.model, 'com.microsoft', 1), graph: graph.encode() }), report };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { input, output, shape } = rewriteArgs('rewrite-append-kv');
  const { model, report } = rewriteAppendKv(readFileSync(input), shape);
  writeFileSync(output, model);
  console.log(
    `${output}: ${report.layers} layers append to an external cache; ${report.removedNodes} nodes removed, ${report.addedNodes} added; ${model.length} bytes`,
  );
}
