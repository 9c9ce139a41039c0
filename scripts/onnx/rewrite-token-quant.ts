/**
 * Rewrite a dynamically quantized decoder so activations are quantized per token instead of
 * per tensor.
 *
 * onnxruntime's int8 export quantizes each MatMul input with one `DynamicQuantizeLinear`: a single
 * scale and zero point for the whole [batch, tokens, hidden] tensor. Every token's result then
 * depends on every other token in the same call: a prompt prefilled in one call or in two chunks,
 * or a row decoded next to sibling rows, gives different logits (by 0.5–4 on the bundled model),
 * so a prefix cache or batching changes the generated text. With one scale per token, each
 * token's linear layers see that token alone, and since the int8 products are summed exactly in
 * int32, a token's result is the same bits whatever else is in the call.
 *
 * Per `DynamicQuantizeLinear(x) → (q, scale, zp)`, along the last axis:
 *
 *   scale = max|x| / 127                      (one per token; [.., tokens, 1])
 *   q     = uint8(round(x / scale) + 128)     (symmetric int8 stored as uint8 around zero point 128)
 *
 * and each consumer `MatMulInteger(q, W, zp, w_zp) → Cast → Mul(·, scale · w_scale)` becomes one
 * `com.microsoft.MatMulIntegerToFloat(q, W, scale, w_scale, 128, w_zp)`: the runtime's fused
 * kernel, which scales the exact int32 sums per token. onnxruntime's `MatMulInteger` and
 * `MatMulIntegerToFloat` only take a scalar zero point for A, which is why the per-token scheme is
 * symmetric (a per-token zero point would need a correction node per MatMul; measured 1.5× slower
 * per decode step). The uint8 form keeps the runtime's fast u8·s8 kernel (an int8 A runs on a
 * slow generic path, 6× slower).
 *
 * Usage: node dist/scripts/onnx/rewrite-token-quant.js <in.onnx> <out.onnx>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Graph, type GraphNode } from './graph.js';
import {
  DataType,
  decodeModel,
  encodeModel,
  floatTensor,
  intAttr,
  intsAttr,
  uint8Tensor,
  withOpset,
} from './onnx-proto.js';

export interface TokenQuantReport {
  /** DynamicQuantizeLinear nodes made per-token. */
  quantizers: number;
  /** MatMulInteger chains fused into MatMulIntegerToFloat. */
  matmuls: number;
  removedNodes: number;
  addedNodes: number;
}

const C = {
  qmax: 'tokq/qmax',
  mid: 'tokq/mid',
  zeroPoint: 'tokq/zero_point',
} as const;

export function rewriteTokenQuant(model: Uint8Array): { model: Uint8Array; report: TokenQuantReport } {
  const parts = decodeModel(model);
  const graph = new Graph(parts.graph);
  for (const name of Object.values(C)) {
    if (graph.initializerNames().includes(name))
      throw new Error(`rewrite-token-quant: the model already has ${name}; was it rewritten before?`);
  }
  graph.addInitializer(floatTensor(C.qmax, [], [127]));
  graph.addInitializer(floatTensor(C.mid, [], [128]));
  graph.addInitializer(uint8Tensor(C.zeroPoint, [], [128]));

  const report: TokenQuantReport = { quantizers: 0, matmuls: 0, removedNodes: 0, addedNodes: 0 };
  const replaced = new Map<GraphNode, GraphNode[]>();
  const dropped = new Set<GraphNode>();
  const build = Graph.counting(report);
  const only = (tensor: string, opType: string, what: string): GraphNode => {
    const users = graph.consumers(tensor);
    if (users.length !== 1 || users[0]!.view.opType !== opType) {
      throw new Error(
        `rewrite-token-quant: expected ${what} to feed one ${opType}, found ${users.map((u) => u.view.opType).join(', ') || 'nothing'}`,
      );
    }
    return users[0]!;
  };

  for (const node of graph.nodes) {
    const v = node.view;
    if (v.opType !== 'DynamicQuantizeLinear' || v.domain !== '') continue;
    const x = v.inputs[0]!;
    const [q, scale, zp] = v.outputs as [string, string, string];
    const users = graph.consumers(q);
    if (
      users.length === 0 ||
      users.some((u) => u.view.opType !== 'MatMulInteger' || u.view.inputs[0] !== q || u.view.inputs[2] !== zp)
    ) {
      throw new Error(`rewrite-token-quant: ${q} must feed only MatMulInteger(A = ${q}, a_zero_point = ${zp})`);
    }
    const t = (s: string) => `${v.name}/token/${s}`;
    replaced.set(node, [
      build({ opType: 'Abs', name: t('Abs'), inputs: [x], outputs: [t('abs')] }),
      build({
        opType: 'ReduceMax',
        name: t('Max'),
        inputs: [t('abs')],
        outputs: [t('max')],
        attributes: [intsAttr('axes', [-1]), intAttr('keepdims', 1)],
      }),
      // An all-zero token gets scale 0 and garbage q; the kernel's output is scaled by 0 anyway.
      build({ opType: 'Div', name: t('Scale'), inputs: [t('max'), C.qmax], outputs: [scale] }),
      build({ opType: 'Div', name: t('Steps'), inputs: [x, scale], outputs: [t('steps')] }),
      build({ opType: 'Round', name: t('Round'), inputs: [t('steps')], outputs: [t('rounded')] }),
      build({ opType: 'Add', name: t('Shift'), inputs: [t('rounded'), C.mid], outputs: [t('shifted')] }),
      build({
        opType: 'Cast',
        name: t('Quantized'),
        inputs: [t('shifted')],
        outputs: [q],
        attributes: [intAttr('to', DataType.uint8)],
      }),
    ]);
    report.quantizers++;

    for (const mm of users) {
      // MatMulInteger → Cast(float) → Mul(·, Mul(scale, w_scale)) as exported.
      const cast = only(mm.view.outputs[0]!, 'Cast', mm.view.name);
      const mul = only(cast.view.outputs[0]!, 'Mul', cast.view.name);
      const factor = mul.view.inputs.find((i) => i !== cast.view.outputs[0])!;
      const scales = graph.producer(factor);
      if (
        scales?.view.opType !== 'Mul' ||
        !scales.view.inputs.includes(scale) ||
        graph.consumers(factor).length !== 1
      ) {
        throw new Error(`rewrite-token-quant: ${mul.view.name} does not scale by ${scale} · w_scale`);
      }
      const wScale = scales.view.inputs.find((i) => i !== scale)!;
      const [, w, , wZp] = mm.view.inputs as [string, string, string, string?];
      dropped.add(cast).add(mul).add(scales);
      replaced.set(mm, [
        build({
          opType: 'MatMulIntegerToFloat',
          domain: 'com.microsoft',
          name: mm.view.name,
          inputs: [q, w, scale, wScale, C.zeroPoint, ...(wZp ? [wZp] : [])],
          outputs: [mul.view.outputs[0]!],
        }),
      ]);
      report.matmuls++;
    }
  }
  if (report.quantizers === 0)
    throw new Error('rewrite-token-quant: no DynamicQuantizeLinear found (is this a dynamically quantized model?)');
  const before = graph.nodes.length;
  graph.nodes = graph.nodes.filter((n) => !dropped.has(n)).flatMap((n) => replaced.get(n) ?? [n]);
  report.removedNodes = before - (graph.nodes.length - report.addedNodes);
  graph.checkOrder();
  return { model: encodeModel({ model: withOpset(parts.model, 'com.microsoft', 1), graph: graph.encode() }), report };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output, ...rest] = process.argv.slice(2);
  if (!input || !output || rest.length > 0) {
    console.error('usage: rewrite-token-quant <in.onnx> <out.onnx>');
    process.exit(2);
  }
  const { model, report } = rewriteTokenQuant(readFileSync(input));
  writeFileSync(output, model);
  console.log(
    `${output}: ${report.quantizers} quantizers per token, ${report.matmuls} MatMulIntegerToFloat; ` +
      `${report.removedNodes} nodes removed, ${report.addedNodes} added; ${model.length} bytes`,
  );
}
