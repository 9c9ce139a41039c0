/**
 * Rewrite the appending decoder (`rewrite-append-kv.ts`) into the sibling decoder: rows that
 * share a prefix attend to it through one stored copy ("cascade" attention).
 *
 *   inputs   shared.L.key / shared.L.value  [shared, kv_heads, d]         the common prefix, once
 *            past.L.key / past.L.value      [past, batch, kv_heads, d]    each row's own positions
 *            attention_mask                 [batch, past + tokens]        over the rows' own positions
 *   outputs  new.L.key / new.L.value        [tokens, batch, kv_heads, d]  as before
 *
 * Per layer the attention is computed in two parts and merged with their softmax statistics:
 *
 *   shared  every row's queries of one KV head stacked, [kv, batch·rep·tokens, d], against the
 *           prefix: one q·Kᵀ, one softmax and one p·V per KV head for the whole batch;
 *   own     each row against its own positions, masked as before (causal, padding);
 *   merge   with mᵢ a part's largest score, lᵢ its softmax denominator and oᵢ its (normalised)
 *           output, a part's share of the whole softmax is sᵢ = e^mᵢ·lᵢ / Σⱼ e^mⱼ·lⱼ and
 *
 *             out = o_shared + s_own · (o_own − o_shared)
 *
 * Only operations whose result for one row cannot depend on the other rows are used: MLAS's
 * softmax, GEMM and exp (row by row, element by element), maxima (exact in any order) and
 * element-wise arithmetic. No sum runs over a reduction whose order could depend on where a row
 * sits in memory: softmax returns exp(x − m) / l, so its largest value is 1 / l (the max element's
 * exp(0)), read with a max. So a row's logits are the same bits whichever rows share its batch,
 * and whether its prefix came from a cache or was just computed. They differ in low bits from one
 * softmax over the whole context (a sum split in two rounds differently), which is why the engine
 * runs this graph for sibling calls only (docs/onnx-rewrite.md).
 *
 * Usage: node dist/scripts/onnx/rewrite-cascade.js <append.onnx> <out.onnx> [--config config.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Graph, type GraphNode } from './graph.js';
import { appendNames } from './rewrite-append-kv.js';
import { rewriteArgs, type AttentionShape } from './rewrite-gqa.js';
import { attribute, DataType, decodeModel, encodeModel, floatAttr, floatTensor, int64Tensor, intAttr, intsAttr, tensorValueInfo, type NewNode } from './onnx-proto.js';

export interface CascadeReport {
  layers: number;
  addedNodes: number;
}

/** Input names of the shared prefix. */
export const sharedName = (layer: number, kind: 'key' | 'value') => `shared.${layer}.${kind}`;

const C = {
  stackedQ: 'cascade/shape_stacked_q',
  repTokens: 'cascade/rep',
  kvRows: 'cascade/kv_rows',
  packedWidth: 'cascade/packed_width',
  unstacked: 'cascade/shape_unstacked',
  perHead: 'cascade/shape_per_head',
  unpack: 'cascade/split_out_max_inv',
  maxGap: 'cascade/max_gap',
} as const;

export function rewriteCascade(model: Uint8Array, shape: AttentionShape): { model: Uint8Array; report: CascadeReport } {
  const { heads, kvHeads, headDim } = shape;
  const parts = decodeModel(model);
  const graph = new Graph(parts.graph);
  const fail = (why: string): never => {
    throw new Error(`rewrite-cascade: ${why}`);
  };
  if (graph.initializerNames().includes(C.stackedQ)) fail(`the model already has ${C.stackedQ}; was it rewritten before?`);
  if (!graph.inputs.includes(appendNames.past(0, 'key'))) fail(`no ${appendNames.past(0, 'key')} input (run rewrite-append-kv first)`);
  const report: CascadeReport = { layers: 0, addedNodes: 0 };
  const build = Graph.counting(report);
  const reduceMax = (name: string, input: string, output: string) =>
    build({ opType: 'ReduceMax', name, inputs: [input], outputs: [output], attributes: [intsAttr('axes', [-1]), intAttr('keepdims', 1)] });
  const fused = (node: Omit<NewNode, 'opType' | 'domain'>) => build({ ...node, opType: 'FusedMatMul', domain: 'com.microsoft' });
  const only = (tensor: string, opType: string): GraphNode => {
    const users = graph.consumers(tensor);
    if (users.length !== 1 || users[0]!.view.opType !== opType) fail(`${tensor} must feed one ${opType}, found ${users.map((u) => u.view.opType).join(', ') || 'nothing'}`);
    return users[0]!;
  };

  graph.addInitializer(int64Tensor(C.stackedQ, [3], [kvHeads, -1, headDim]));
  graph.addInitializer(int64Tensor(C.repTokens, [1], [heads / kvHeads]));
  graph.addInitializer(int64Tensor(C.kvRows, [2], [kvHeads, -1]));
  graph.addInitializer(int64Tensor(C.packedWidth, [1], [headDim + 2]));
  graph.addInitializer(int64Tensor(C.perHead, [4], [0, heads, -1, headDim + 2]));
  graph.addInitializer(int64Tensor(C.unpack, [3], [headDim, 1, 1]));
  graph.addInitializer(floatTensor(C.maxGap, [], [80]));
  // [kv, −1, rep·tokens, d + 2] unstacks the shared part's rows; tokens come from input_ids, once per call.
  const prologue = [
    build({ opType: 'Shape', name: 'cascade/Tokens', inputs: ['input_ids'], outputs: ['cascade/tokens'], attributes: [intAttr('start', 1), intAttr('end', 2)] }),
    build({ opType: 'Mul', name: 'cascade/RepTokens', inputs: ['cascade/tokens', C.repTokens], outputs: ['cascade/rep_tokens'] }),
    build({ opType: 'Concat', name: 'cascade/Unstacked', inputs: [C.kvRows, 'cascade/rep_tokens', C.packedWidth], outputs: [C.unstacked], attributes: [intAttr('axis', 0)] }),
  ];

  const after = new Map<GraphNode, GraphNode[]>();
  const renamed = new Map<GraphNode, GraphNode>();
  for (let layer = 0; graph.inputs.includes(appendNames.past(layer, 'key')); layer++) {
    // The appending graph's attention: FusedMatMul(q, keys) → Reshape → Where(mask) → Softmax →
    // Reshape → FusedMatMul(·, values) → Reshape → attention output [b, heads, t, d].
    const allOf = (kind: 'key' | 'value') => {
      const users = graph.consumers(appendNames.past(layer, kind)).filter((n) => n.view.opType === 'Concat');
      if (users.length !== 1) fail(`${appendNames.past(layer, kind)} must feed one Concat (run rewrite-append-kv first)`);
      return users[0]!.view.outputs[0]!;
    };
    const qk = only(allOf('key'), 'FusedMatMul');
    const alpha = attribute(qk.view, 'alpha')?.f;
    if (alpha === undefined || qk.view.inputs[1] !== allOf('key')) fail(`layer ${layer}: q·Kᵀ is not FusedMatMul(q, keys, alpha)`);
    const q = qk.view.inputs[0]!;
    const masked = only(only(qk.view.outputs[0]!, 'Reshape').view.outputs[0]!, 'Where').view.outputs[0]!;
    const softmax = graph.consumers(masked).find((n) => n.view.opType === 'Softmax') ?? fail(`layer ${layer}: no Softmax after the mask`);
    const probs = softmax.view.outputs[0]!;
    const pv = only(only(probs, 'Reshape').view.outputs[0]!, 'FusedMatMul');
    if (pv.view.inputs[1] !== allOf('value')) fail(`layer ${layer}: p·V does not read the value cache`);
    const outReshape = only(pv.view.outputs[0]!, 'Reshape');
    const attention = outReshape.view.outputs[0]!;

    const n = (s: string) => `/layers.${layer}/self_attn/cascade/${s}`;
    // The own part keeps its nodes; its output becomes o_own.
    renamed.set(outReshape, Graph.build({ opType: 'Reshape', name: outReshape.view.name, inputs: outReshape.view.inputs, outputs: [n('o_own')] }));
    after.set(outReshape, [
      reduceMax(n('OwnMax'), masked, n('m_own')),
      reduceMax(n('OwnInverse'), probs, n('inv_own')),
      // Shared part: q [b, kv, rep·t, d] → [kv, b·rep·t, d], one GEMM per KV head for all rows.
      build({ opType: 'Transpose', name: n('KvMajor'), inputs: [q], outputs: [n('q_kv_major')], attributes: [intsAttr('perm', [1, 0, 2, 3])] }),
      build({ opType: 'Reshape', name: n('StackQ'), inputs: [n('q_kv_major'), C.stackedQ], outputs: [n('q_stacked')] }),
      fused({
        name: n('MatMulQK'),
        inputs: [n('q_stacked'), sharedName(layer, 'key')],
        outputs: [n('scores')],
        attributes: [intAttr('transB', 1), floatAttr('alpha', alpha!), intAttr('transBatchB', 1)],
      }),
      build({ opType: 'Softmax', name: n('Softmax'), inputs: [n('scores')], outputs: [n('probs')], attributes: [intAttr('axis', -1)] }),
      reduceMax(n('SharedMax'), n('scores'), n('m_stacked')),
      reduceMax(n('SharedInverse'), n('probs'), n('inv_stacked')),
      fused({ name: n('MatMulPV'), inputs: [n('probs'), sharedName(layer, 'value')], outputs: [n('o_stacked')], attributes: [intAttr('transBatchB', 1)] }),
      // Back to [b, heads, t, ·], the two statistics riding along: one transpose for the three.
      build({ opType: 'Concat', name: n('Pack'), inputs: [n('o_stacked'), n('m_stacked'), n('inv_stacked')], outputs: [n('packed')], attributes: [intAttr('axis', -1)] }),
      build({ opType: 'Reshape', name: n('Unstack'), inputs: [n('packed'), C.unstacked], outputs: [n('packed_kv_major')] }),
      build({ opType: 'Transpose', name: n('RowMajor'), inputs: [n('packed_kv_major')], outputs: [n('packed_rows')], attributes: [intsAttr('perm', [1, 0, 2, 3])] }),
      build({ opType: 'Reshape', name: n('PerHead'), inputs: [n('packed_rows'), C.perHead], outputs: [n('packed_heads')] }),
      build({ opType: 'Split', name: n('Unpack'), inputs: [n('packed_heads'), C.unpack], outputs: [n('o_shared'), n('m_shared'), n('inv_shared')], attributes: [intAttr('axis', -1)] }),
      // Merge (see the header, with the statistic 1/l): share of the own part
      //   = e^(m_own − m_shared) · (1/l_shared) / (e^(m_own − m_shared) · (1/l_shared) + 1/l_own);
      // the gap is capped at 80 so e^gap stays finite (past it the share is 1 in float anyway).
      build({ opType: 'Sub', name: n('MaxGap'), inputs: [n('m_own'), n('m_shared')], outputs: [n('gap')] }),
      build({ opType: 'Min', name: n('CapGap'), inputs: [n('gap'), C.maxGap], outputs: [n('capped_gap')] }),
      build({ opType: 'Exp', name: n('Rescale'), inputs: [n('capped_gap')], outputs: [n('rescale')] }),
      build({ opType: 'Mul', name: n('OwnWeight'), inputs: [n('rescale'), n('inv_shared')], outputs: [n('own_weight')] }),
      build({ opType: 'Add', name: n('TotalWeight'), inputs: [n('own_weight'), n('inv_own')], outputs: [n('total_weight')] }),
      build({ opType: 'Div', name: n('OwnShare'), inputs: [n('own_weight'), n('total_weight')], outputs: [n('own_share')] }),
      build({ opType: 'Sub', name: n('Difference'), inputs: [n('o_own'), n('o_shared')], outputs: [n('difference')] }),
      build({ opType: 'Mul', name: n('Shift'), inputs: [n('difference'), n('own_share')], outputs: [n('shift')] }),
      build({ opType: 'Add', name: n('Merge'), inputs: [n('o_shared'), n('shift')], outputs: [attention] }),
    ]);
    for (const kind of ['key', 'value'] as const) {
      graph.addInput(tensorValueInfo(sharedName(layer, kind), DataType.float, ['shared_sequence_length', kvHeads, headDim]));
    }
    report.layers++;
  }
  if (report.layers === 0) fail('no layers found');
  graph.nodes = [...prologue, ...graph.nodes.flatMap((node) => [renamed.get(node) ?? node, ...(after.get(node) ?? [])])];
  graph.checkOrder();
  return { model: encodeModel({ model: parts.model, graph: graph.encode() }), report };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { input, output, shape } = rewriteArgs('rewrite-cascade');
  const { model, report } = rewriteCascade(readFileSync(input), shape);
  writeFileSync(output, model);
  console.log(`${output}: ${report.layers} layers attend to a shared prefix stored once; ${report.addedNodes} nodes added; ${model.length} bytes`);
}
