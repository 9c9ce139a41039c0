/**
 * Rewrite the appending decoder (`rewrite-append-kv.ts`) into the cascade decoder for sibling
 * batches: rows that share a prefix attend to one stored copy of it.
 *
 *   inputs   shared.L.key / shared.L.value  [shared, kv_heads, d]         the common prefix, once
 *            past.L.key / past.L.value      [past, kv_heads, batch, d]    each row's own positions
 *            attention_mask                 [batch, past + tokens]        over the rows' own positions
 *   outputs  new.L.key / new.L.value        [tokens, kv_heads, batch, d]
 *
 * The rows' own cache is kv-head-major within a position, so the whole attention runs in the
 * layout [kv, batch, rep·tokens, ·] and every row's queries of one KV head are contiguous. Per layer:
 *
 *   scores   shared: all rows' queries of a KV head stacked, [kv, batch·rep·tokens, d], times the
 *            prefix's keys: one GEMM per KV head for the whole batch. own: each row against its
 *            own positions, as before. Side by side, [kv, batch, rep·tokens, shared + own]: per
 *            query the same row of scores as the appending graph's, in the same order.
 *   softmax  masked (the prefix is visible to every row; causal and padding on the own part) and
 *            normalised over that whole row: the same probabilities, bit for bit, as the
 *            appending graph gives the row decoded on its own copy of the prefix.
 *   p·V      shared part stacked (one GEMM per KV head), own part per row, added.
 *
 * Only the last sum is split: p·V over the prefix and over the row's own positions are two GEMM
 * chains added, where the appending graph runs one, so outputs differ from it in the last bits.
 * Every operation is row-wise (MLAS's GEMM and softmax, element-wise arithmetic, copies), so a
 * row's logits are the same bits whichever rows share its batch, and whether its prefix came from
 * a cache. docs/onnx-rewrite.md#cascade-attention-for-sibling-batches has the measurements.
 *
 * Usage: node dist/scripts/onnx/rewrite-cascade.js <append.onnx> <out.onnx> [--config config.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Graph, type GraphNode } from './graph.js';
import { appendNames } from './rewrite-append-kv.js';
import { rewriteArgs, type AttentionShape } from './rewrite-gqa.js';
import {
  attribute,
  boolTensor,
  DataType,
  decodeModel,
  encodeModel,
  floatAttr,
  int64Tensor,
  intAttr,
  intsAttr,
  NodeField,
  tensorValueInfo,
  type NewNode,
} from './onnx-proto.js';

export interface CascadeReport {
  layers: number;
  addedNodes: number;
  removedNodes: number;
}

/** Input names of the shared prefix. */
export const sharedName = (layer: number, kind: 'key' | 'value') => `shared.${layer}.${kind}`;

export function rewriteCascade(model: Uint8Array, shape: AttentionShape): { model: Uint8Array; report: CascadeReport } {
  const { heads, kvHeads, headDim } = shape;
  const rep = heads / kvHeads;
  const parts = decodeModel(model);
  const graph = new Graph(parts.graph);
  const fail = (why: string): never => {
    throw new Error(`rewrite-cascade: ${why}`);
  };
  // cascade/kv goes when rewrite-static-shapes drops unread initializers; the shared inputs stay.
  if (graph.initializerNames().includes('cascade/kv') || graph.inputs.some((i) => i.startsWith('shared.')))
    fail('the model already has cascade/kv or shared.* inputs; was it rewritten before?');
  if (!graph.inputs.includes(appendNames.past(0, 'key')))
    fail(`no ${appendNames.past(0, 'key')} input (run rewrite-append-kv first)`);
  const report: CascadeReport = { layers: 0, addedNodes: 0, removedNodes: 0 };
  const build = Graph.counting(report);
  const fused = (node: Omit<NewNode, 'opType' | 'domain'>) =>
    build({ ...node, opType: 'FusedMatMul', domain: 'com.microsoft' });
  const only = (tensor: string, opType: string): GraphNode => {
    const users = graph.consumers(tensor);
    if (users.length !== 1 || users[0]!.view.opType !== opType)
      fail(`${tensor} must feed one ${opType}, found ${users.map((u) => u.view.opType).join(', ') || 'nothing'}`);
    return users[0]!;
  };
  const ints = (name: string, values: readonly number[]) => {
    graph.addInitializer(int64Tensor(`cascade/${name}`, [values.length], values));
    return `cascade/${name}`;
  };
  const c = {
    kv: ints('kv', [kvHeads]),
    kvAny: ints('kv_any', [kvHeads, -1]),
    repeat: ints('repeat', [rep]),
    one: ints('one', [1]),
    oneAny: ints('one_any', [1, -1]),
    headDim: ints('head_dim', [headDim]),
    axis0: ints('axis_0', [0]),
    repeatMask: ints('repeat_mask', [1, rep, 1, 1]),
    stackedQ: ints('shape_stacked_q', [kvHeads, -1, headDim]),
    outHeads: ints('shape_out_heads', [kvHeads, 0, rep, -1, headDim]),
  };
  graph.addInitializer(boolTensor('cascade/not_hidden', [1, 1, 1, 1], [false]));

  // Per call: the sizes the reshapes need, and the mask [1, b, rep·t, shared + own] (true = hidden).
  const g = (s: string) => `cascade/${s}`;
  const dims = (name: string, input: string, start: number, end: number) =>
    build({
      opType: 'Shape',
      name: g(name),
      inputs: [input],
      outputs: [g(name)],
      attributes: [intAttr('start', start), intAttr('end', end)],
    });
  const concat0 = (name: string, inputs: string[]) =>
    build({ opType: 'Concat', name: g(name), inputs, outputs: [g(name)], attributes: [intAttr('axis', 0)] });
  const hidden =
    graph.nodes.find((n) => n.view.opType === 'Not')?.view.outputs[0] ?? fail('no Not node (the attention mask)');
  const prologue = [
    dims('batch', 'input_ids', 0, 1),
    dims('tokens', 'input_ids', 1, 2),
    dims('shared', sharedName(0, 'key'), 0, 1),
    dims('own', 'attention_mask', 1, 2),
    build({ opType: 'Mul', name: g('RepTokens'), inputs: [g('tokens'), c.repeat], outputs: [g('rep_tokens')] }),
    build({ opType: 'Add', name: g('All'), inputs: [g('shared'), g('own')], outputs: [g('all')] }),
    concat0('shape_shared_scores', [c.kvAny, g('rep_tokens'), g('shared')]),
    concat0('shape_shared_probs', [c.kvAny, g('shared')]),
    concat0('shape_shared_out', [c.kvAny, g('rep_tokens'), c.headDim]),
    concat0('split_shared_own', [g('shared'), g('own')]),
    concat0('shape_visible', [g('batch'), c.one, g('tokens'), g('shared')]),
    concat0('shape_mask', [c.oneAny, g('rep_tokens'), g('all')]),
    build({
      opType: 'Expand',
      name: g('Visible'),
      inputs: ['cascade/not_hidden', g('shape_visible')],
      outputs: [g('visible')],
    }),
  ];
  const replaced = new Map<GraphNode, GraphNode[]>();
  const notNode = graph.producer(hidden)!;
  replaced.set(notNode, [
    notNode,
    build({
      opType: 'Concat',
      name: g('MaskAll'),
      inputs: [g('visible'), hidden],
      outputs: [g('hidden_all')],
      attributes: [intAttr('axis', -1)],
    }),
    build({
      opType: 'Expand',
      name: g('MaskHeads'),
      inputs: [g('hidden_all'), c.repeatMask],
      outputs: [g('hidden_heads')],
    }),
    build({ opType: 'Reshape', name: g('Mask'), inputs: [g('hidden_heads'), g('shape_mask')], outputs: [g('hidden')] }),
  ]);

  for (let layer = 0; graph.inputs.includes(appendNames.past(layer, 'key')); layer++) {
    // The appending graph's attention: FusedMatMul(q, keys) → Reshape → Where(mask) → Softmax →
    // Reshape → FusedMatMul(·, values) → Reshape → Transpose → Reshape → o_proj.
    const cacheConcat = (kind: 'key' | 'value') => {
      const users = graph.consumers(appendNames.past(layer, kind)).filter((n) => n.view.opType === 'Concat');
      if (users.length !== 1)
        fail(`${appendNames.past(layer, kind)} must feed one Concat (run rewrite-append-kv first)`);
      return users[0]!;
    };
    const keys = cacheConcat('key').view.outputs[0]!;
    const qk = only(keys, 'FusedMatMul');
    const alpha = attribute(qk.view, 'alpha')?.f ?? fail(`layer ${layer}: q·Kᵀ has no alpha`);
    if (qk.view.inputs[1] !== keys) fail(`layer ${layer}: q·Kᵀ does not read the key cache`);
    const reshapeScores = only(qk.view.outputs[0]!, 'Reshape');
    const where = only(reshapeScores.view.outputs[0]!, 'Where');
    const softmax = only(where.view.outputs[0]!, 'Softmax');
    const reshapeProbs = only(softmax.view.outputs[0]!, 'Reshape');
    const pv = only(reshapeProbs.view.outputs[0]!, 'FusedMatMul');
    if (pv.view.inputs[1] !== cacheConcat('value').view.outputs[0])
      fail(`layer ${layer}: p·V does not read the value cache`);
    const reshapeOut = only(pv.view.outputs[0]!, 'Reshape');
    const transposeOut = only(reshapeOut.view.outputs[0]!, 'Transpose');
    if (attribute(transposeOut.view, 'perm')?.ints.map(Number).join(',') !== '0,2,1,3')
      fail(`layer ${layer}: the attention output is not transposed back to [b, t, heads, d]`);

    const n = (s: string) => `/layers.${layer}/self_attn/cascade/${s}`;
    // New positions are written [tokens, kv, batch, d]: the own cache is kv-head-major.
    for (const kind of ['key', 'value'] as const) {
      const added = graph.producer(appendNames.added(layer, kind));
      if (added?.view.opType !== 'Transpose') fail(`${appendNames.added(layer, kind)} is not a Transpose`);
      replaced.set(added!, [
        Graph.build({
          opType: 'Transpose',
          name: added!.view.name,
          inputs: added!.view.inputs,
          outputs: added!.view.outputs,
          attributes: [intsAttr('perm', [2, 1, 0, 3])],
        }),
      ]);
    }
    // q [b, kv, rep·t, d] → [kv, b, rep·t, d]: own part (per row) and, stacked, shared part.
    replaced.set(qk, [
      build({
        opType: 'Transpose',
        name: n('KvMajor'),
        inputs: [qk.view.inputs[0]!],
        outputs: [n('q')],
        attributes: [intsAttr('perm', [1, 0, 2, 3])],
      }),
      Graph.build({
        opType: 'FusedMatMul',
        domain: 'com.microsoft',
        name: qk.view.name,
        inputs: [n('q'), keys],
        outputs: [n('own_scores')],
        attributes: attributesOf(qk),
      }),
      build({ opType: 'Reshape', name: n('StackQ'), inputs: [n('q'), c.stackedQ], outputs: [n('q_stacked')] }),
      fused({
        name: n('MatMulQK'),
        inputs: [n('q_stacked'), sharedName(layer, 'key')],
        outputs: [n('shared_scores_stacked')],
        attributes: [intAttr('transB', 1), floatAttr('alpha', alpha), intAttr('transBatchB', 1)],
      }),
    ]);
    replaced.set(reshapeScores, [
      build({
        opType: 'Reshape',
        name: n('SharedScores'),
        inputs: [n('shared_scores_stacked'), g('shape_shared_scores')],
        outputs: [n('shared_scores')],
      }),
      build({
        opType: 'Concat',
        name: n('Scores'),
        inputs: [n('shared_scores'), n('own_scores')],
        outputs: [n('scores')],
        attributes: [intAttr('axis', -1)],
      }),
    ]);
    replaced.set(where, [
      Graph.build({
        opType: 'Where',
        name: where.view.name,
        inputs: [g('hidden'), where.view.inputs[1]!, n('scores')],
        outputs: [n('masked')],
      }),
    ]);
    replaced.set(softmax, [
      Graph.build({
        opType: 'Softmax',
        name: softmax.view.name,
        inputs: [n('masked')],
        outputs: [n('probs')],
        attributes: [intAttr('axis', -1)],
      }),
    ]);
    replaced.set(reshapeProbs, [
      build({
        opType: 'Split',
        name: n('SplitProbs'),
        inputs: [n('probs'), g('split_shared_own')],
        outputs: [n('shared_probs'), n('own_probs')],
        attributes: [intAttr('axis', -1)],
      }),
      build({
        opType: 'Reshape',
        name: n('StackProbs'),
        inputs: [n('shared_probs'), g('shape_shared_probs')],
        outputs: [n('shared_probs_stacked')],
      }),
      fused({
        name: n('MatMulPV'),
        inputs: [n('shared_probs_stacked'), sharedName(layer, 'value')],
        outputs: [n('shared_out_stacked')],
        attributes: [intAttr('transBatchB', 1)],
      }),
      build({
        opType: 'Reshape',
        name: n('SharedOut'),
        inputs: [n('shared_out_stacked'), g('shape_shared_out')],
        outputs: [n('shared_out')],
      }),
    ]);
    replaced.set(pv, [
      Graph.build({
        opType: 'FusedMatMul',
        domain: 'com.microsoft',
        name: pv.view.name,
        inputs: [n('own_probs'), pv.view.inputs[1]!],
        outputs: [n('own_out')],
        attributes: attributesOf(pv),
      }),
      build({ opType: 'Add', name: n('Out'), inputs: [n('shared_out'), n('own_out')], outputs: [n('out')] }),
    ]);
    // [kv, b, rep·t, d] → [kv, b, rep, t, d] → [b, t, kv, rep, d], which the next Reshape flattens to [b, t, heads·d].
    replaced.set(reshapeOut, [
      Graph.build({
        opType: 'Reshape',
        name: reshapeOut.view.name,
        inputs: [n('out'), c.outHeads],
        outputs: [n('out_heads')],
      }),
    ]);
    replaced.set(transposeOut, [
      Graph.build({
        opType: 'Transpose',
        name: transposeOut.view.name,
        inputs: [n('out_heads')],
        outputs: transposeOut.view.outputs,
        attributes: [intsAttr('perm', [1, 3, 0, 2, 4])],
      }),
    ]);
    for (const kind of ['key', 'value'] as const) {
      graph.addInput(
        tensorValueInfo(sharedName(layer, kind), DataType.float, ['shared_sequence_length', kvHeads, headDim]),
      );
      graph.replaceValueInfo(
        'input',
        appendNames.past(layer, kind),
        tensorValueInfo(appendNames.past(layer, kind), DataType.float, [
          'past_sequence_length',
          kvHeads,
          'batch_size',
          headDim,
        ]),
      );
      graph.replaceValueInfo(
        'output',
        appendNames.added(layer, kind),
        tensorValueInfo(appendNames.added(layer, kind), DataType.float, [
          'sequence_length',
          kvHeads,
          'batch_size',
          headDim,
        ]),
      );
    }
    report.layers++;
  }
  if (report.layers === 0) fail('no layers found');
  const before = graph.nodes.length;
  graph.nodes = [...prologue, ...graph.nodes.flatMap((node) => replaced.get(node) ?? [node])];
  graph.removeDeadNodes();
  report.removedNodes = before - (graph.nodes.length - report.addedNodes);
  // Intermediate shapes the exporter recorded no longer hold (q, scores and outputs changed rank).
  graph.dropValueInfos();
  graph.checkOrder();
  return { model: encodeModel({ model: parts.model, graph: graph.encode() }), report };
}

/** A node's attribute fields, to rebuild it with other inputs or outputs. */
function attributesOf(node: GraphNode) {
  return node.view.fields.filter((f) => f.no === NodeField.attribute);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { input, output, shape } = rewriteArgs('rewrite-cascade');
  const { model, report } = rewriteCascade(readFileSync(input), shape);
  writeFileSync(output, model);
  console.log(
    `${output}: ${report.layers} layers attend to a shared prefix stored once; ${report.removedNodes} nodes removed, ${report.addedNodes} added; ${model.length} bytes`,
  );
}
