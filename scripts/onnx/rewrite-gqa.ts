/**
 * Rewrite the grouped-query attention of an exported decoder so K and V are never repeated.
 *
 * The exporter turns `repeat_kv(x)` (x[:, :, None].expand(b, kv, rep, T, d).reshape(b, kv·rep, T, d))
 * into Unsqueeze(axis 2) → Expand → Reshape, which copies each layer's whole KV cache `rep` times
 * per step (and the transpose of the repeated K copies it again). Heads are kv-major
 * (head = kv·rep + r), so the query heads of one KV group are contiguous: q [b, H, t, d] reshapes for
 * free to [b, kv, rep·t, d] and each group attends with one MatMul against its own K/V:
 *
 *   scores = Reshape(MatMul(Reshape(q, [0, kv, -1, d]), Transpose(K)) / c, [0, H, -1, 0])
 *   out    = Reshape(MatMul(Reshape(probs, [0, kv, -1, 0]), V), [0, H, -1, d])
 *
 * Masking and softmax run on the same [b, H, t, T] tensors as before; every other node and every
 * initializer is kept byte-for-byte. The scale (Div) moves before the reshape so onnxruntime can
 * fold Transpose and Div into one FusedMatMul, as it does in the original graph.
 *
 * Usage: node dist/scripts/onnx/rewrite-gqa.js <in.onnx> <out.onnx> [--config config.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Graph, type GraphNode } from './graph.js';
import {
  attribute,
  decodeModel,
  decodeTensor,
  encodeModel,
  int64Tensor,
  intsAttr,
  opsetVersion,
} from './onnx-proto.js';
import { decodeFields, fieldBytes, type Field } from './protobuf.js';
import { GraphField } from './onnx-proto.js';

export interface AttentionShape {
  heads: number;
  kvHeads: number;
  headDim: number;
}

export interface RewriteReport {
  /** Score MatMuls (q·Kᵀ) rewritten. */
  scoreMatMuls: number;
  /** Probability MatMuls (p·V) rewritten. */
  valueMatMuls: number;
  /** Nodes dropped because only the repeat chains used them. */
  removedNodes: number;
  addedNodes: number;
}

/** Values of a small INT64 constant: an initializer or a Constant node's `value`. */
function constantInts(graph: Graph, rest: readonly Field[], name: string): bigint[] | undefined {
  const producer = graph.producer(name);
  if (producer) {
    if (producer.view.opType !== 'Constant') return undefined;
    const t = attribute(producer.view, 'value')?.t;
    return t ? decodeTensor(t).int64s() : undefined;
  }
  for (const f of rest) {
    if (f.no !== GraphField.initializer) continue;
    const t = decodeTensor(decodeFields(fieldBytes(f)));
    if (t.name === name) return t.dataType === 7 ? t.int64s() : undefined;
  }
  return undefined;
}

/**
 * If `tensor` is repeat_kv(x) as exported (Reshape(Expand(Unsqueeze(x, axes=[2])))), return x.
 */
function unrepeated(graph: Graph, rest: readonly Field[], tensor: string): string | undefined {
  const reshape = graph.producer(tensor);
  if (reshape?.view.opType !== 'Reshape') return undefined;
  const expand = graph.producer(reshape.view.inputs[0]!);
  if (expand?.view.opType !== 'Expand') return undefined;
  const unsqueeze = graph.producer(expand.view.inputs[0]!);
  if (unsqueeze?.view.opType !== 'Unsqueeze') return undefined;
  // Opset ≥ 13 passes axes as an input; older opsets as an attribute.
  const axes = unsqueeze.view.inputs[1]
    ? constantInts(graph, rest, unsqueeze.view.inputs[1])
    : attribute(unsqueeze.view, 'axes')?.ints;
  if (!axes || axes.length !== 1 || axes[0] !== 2n) return undefined;
  return unsqueeze.view.inputs[0];
}

export function rewriteGqa(model: Uint8Array, shape: AttentionShape): { model: Uint8Array; report: RewriteReport } {
  const { heads, kvHeads, headDim } = shape;
  if (heads % kvHeads !== 0 || heads === kvHeads) {
    throw new Error(`rewrite-gqa: ${heads} query heads over ${kvHeads} KV heads is not grouped-query attention`);
  }
  const parts = decodeModel(model);
  const opset = opsetVersion(parts.model);
  if (opset === undefined || opset < 14)
    throw new Error(`rewrite-gqa: needs ai.onnx opset ≥ 14 (Reshape with 0/-1), model has ${opset}`);
  const graph = new Graph(parts.graph);

  const shapes = {
    groupedQ: `gqa/shape_grouped_q`,
    groupedRows: `gqa/shape_grouped_rows`,
    headScores: `gqa/shape_head_scores`,
    headOut: `gqa/shape_head_out`,
  };
  for (const name of Object.values(shapes)) {
    if (graph.initializerNames().includes(name))
      throw new Error(`rewrite-gqa: the model already has ${name}; was it rewritten before?`);
  }
  graph.addInitializer(int64Tensor(shapes.groupedQ, [4], [0, kvHeads, -1, headDim]));
  graph.addInitializer(int64Tensor(shapes.groupedRows, [4], [0, kvHeads, -1, 0]));
  graph.addInitializer(int64Tensor(shapes.headScores, [4], [0, heads, -1, 0]));
  graph.addInitializer(int64Tensor(shapes.headOut, [4], [0, heads, -1, headDim]));

  const report: RewriteReport = { scoreMatMuls: 0, valueMatMuls: 0, removedNodes: 0, addedNodes: 0 };
  const replaced = new Map<GraphNode, GraphNode[]>();
  const dropped = new Set<GraphNode>();
  const build = Graph.counting(report);

  for (const node of graph.nodes) {
    const v = node.view;
    if (v.opType !== 'MatMul' || v.domain !== '') continue;
    const [a, b] = v.inputs as [string, string];
    const out = v.outputs[0]!;
    const prefix = v.name.replace(/\/[^/]*$/, '') + '/gqa';
    const transpose = graph.producer(b);

    if (transpose?.view.opType === 'Transpose') {
      // Scores: MatMul(q, Transpose(repeat(K), perm 0,1,3,2)).
      const perm = attribute(transpose.view, 'perm')?.ints.map(Number);
      const k = unrepeated(graph, parts.graph, transpose.view.inputs[0]!);
      if (!k || perm?.join(',') !== '0,1,3,2') continue;
      const users = graph.consumers(out);
      const div =
        users.length === 1 && users[0]!.view.opType === 'Div' && users[0]!.view.inputs[0] === out
          ? users[0]!
          : undefined;
      const scaled = div ? div.view.outputs[0]! : out;
      const nodes = [
        build({
          opType: 'Reshape',
          name: `${prefix}/ReshapeQ`,
          inputs: [a, shapes.groupedQ],
          outputs: [`${prefix}/q_grouped`],
        }),
        build({
          opType: 'Transpose',
          name: `${prefix}/TransposeK`,
          inputs: [k],
          outputs: [`${prefix}/k_t`],
          attributes: [intsAttr('perm', [0, 1, 3, 2])],
        }),
        build({
          opType: 'MatMul',
          name: `${prefix}/MatMulQK`,
          inputs: [`${prefix}/q_grouped`, `${prefix}/k_t`],
          outputs: [`${prefix}/scores_grouped`],
        }),
        ...(div
          ? [
              build({
                opType: 'Div',
                name: `${prefix}/Scale`,
                inputs: [`${prefix}/scores_grouped`, div.view.inputs[1]!],
                outputs: [`${prefix}/scores_scaled`],
              }),
            ]
          : []),
        build({
          opType: 'Reshape',
          name: `${prefix}/ReshapeScores`,
          inputs: [div ? `${prefix}/scores_scaled` : `${prefix}/scores_grouped`, shapes.headScores],
          outputs: [scaled],
        }),
      ];
      replaced.set(node, nodes);
      if (div) dropped.add(div);
      report.scoreMatMuls++;
      continue;
    }

    // Values: MatMul(probs, repeat(V)).
    const val = unrepeated(graph, parts.graph, b);
    if (!val) continue;
    replaced.set(node, [
      build({
        opType: 'Reshape',
        name: `${prefix}/ReshapeProbs`,
        inputs: [a, shapes.groupedRows],
        outputs: [`${prefix}/probs_grouped`],
      }),
      build({
        opType: 'MatMul',
        name: `${prefix}/MatMulPV`,
        inputs: [`${prefix}/probs_grouped`, val],
        outputs: [`${prefix}/out_grouped`],
      }),
      build({
        opType: 'Reshape',
        name: `${prefix}/ReshapeOut`,
        inputs: [`${prefix}/out_grouped`, shapes.headOut],
        outputs: [out],
      }),
    ]);
    report.valueMatMuls++;
  }

  if (report.scoreMatMuls === 0 || report.scoreMatMuls !== report.valueMatMuls) {
    throw new Error(
      `rewrite-gqa: found ${report.scoreMatMuls} q·Kᵀ and ${report.valueMatMuls} p·V MatMuls over repeated KV; ` +
        'expected one of each per layer (is this a GQA decoder exported from repeat_kv?)',
    );
  }
  const original = graph.nodes.length;
  graph.nodes = graph.nodes.filter((n) => !dropped.has(n)).flatMap((n) => replaced.get(n) ?? [n]);
  graph.removeDeadNodes();
  report.removedNodes = original - (graph.nodes.length - report.addedNodes);
  graph.checkOrder();
  return { model: encodeModel({ model: parts.model, graph: graph.encode() }), report };
}

function readShape(configPath: string): AttentionShape {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  const num = (key: string): number => {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
      throw new Error(`${configPath}: ${key} must be a positive integer`);
    return value;
  };
  const heads = num('num_attention_heads');
  return {
    heads,
    kvHeads: config.num_key_value_heads === undefined ? heads : num('num_key_value_heads'),
    headDim: config.head_dim === undefined ? num('hidden_size') / heads : num('head_dim'),
  };
}

/**
 * `<in.onnx> <out.onnx> [--config config.json]` from the command line; the config defaults to
 * the one beside the input's onnx/ folder. Exits with the usage line when the arguments are wrong.
 */
export function rewriteArgs(tool: string): { input: string; output: string; shape: AttentionShape } {
  const args = process.argv.slice(2);
  const at = args.indexOf('--config');
  const config = at >= 0 ? args.splice(at, 2)[1] : undefined;
  const [input, output] = args;
  if (!input || !output || args.length !== 2) {
    console.error(`usage: ${tool} <in.onnx> <out.onnx> [--config <config.json>]  (default: config.json beside onnx/)`);
    process.exit(2);
  }
  return {
    input,
    output,
    shape: readShape(config ?? path.join(path.dirname(path.dirname(path.resolve(input))), 'config.json')),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { input, output, shape } = rewriteArgs('rewrite-gqa');
  const { model, report } = rewriteGqa(readFileSync(input), shape);
  writeFileSync(output, model);
  console.log(
    `${output}: ${report.scoreMatMuls} attention layers regrouped (${shape.heads} heads over ${shape.kvHeads} KV heads); ` +
      `${report.removedNodes} nodes removed, ${report.addedNodes} added; ${model.length} bytes`,
  );
}
