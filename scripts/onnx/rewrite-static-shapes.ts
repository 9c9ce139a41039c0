/**
 * Fold a decoder graph's shape arithmetic into constants.
 *
 * The export recomputes, in every call, the shapes it reshapes to and the offsets it slices at:
 * per layer `Shape → Gather → Unsqueeze → Concat` chains build `[batch, tokens, 8, 32]` for the
 * head split, `Shape → Gather → Div → Cast → Unsqueeze` the rotary halves' offsets, and so on.
 * They are tiny kernels, but a decode step ran about 330 of them in the appending graph's 1,043
 * nodes, each paying onnxruntime's per-kernel cost, which is what a one-token step of a 3.4M model
 * is mostly made of.
 *
 * What is folded: a tensor computed from shapes alone (from `Shape` outputs, constants and small
 * initializers, through any ops) that a data op reads. Its value is found by running the graph on
 * a few calls of different sizes (rows, new tokens, cached positions); a value that is the same
 * in all of them becomes an initializer. A shape given to a `Reshape` that changes with the call
 * becomes a constant too when its changing entries are always the data's own dims at that index
 * (`Reshape`'s 0: keep that dim). The nodes that only fed them are then dropped. Nothing a data op
 * computes changes, so the graph's outputs are the same bits for every input (checked by
 * test/engine/onnx-rewrite.real.test.ts on calls of other sizes than the probes').
 *
 * Usage: node dist/scripts/onnx/rewrite-static-shapes.js <in.onnx> <out.onnx>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { Graph, type GraphNode } from './graph.js';
import { attribute, DataType, decodeModel, decodeTensor, encodeModel, int64Tensor } from './onnx-proto.js';
import { messageField, stringField, varintField } from './protobuf.js';

export interface StaticShapesReport {
  /** Shape tensors replaced by constants (the same in every probe). */
  folded: number;
  /** Changing `Reshape` shapes replaced by constants with 0 for the dims they keep. */
  zeroedReshapes: number;
  removedNodes: number;
}

/** The sizes of the probe calls, by the graph's dim names (a total length is derived). */
const PROBES = [
  { batch_size: 1, sequence_length: 1, past_sequence_length: 5, shared_sequence_length: 7 },
  { batch_size: 3, sequence_length: 2, past_sequence_length: 9, shared_sequence_length: 12 },
  { batch_size: 4, sequence_length: 1, past_sequence_length: 300, shared_sequence_length: 520 },
  { batch_size: 2, sequence_length: 7, past_sequence_length: 0, shared_sequence_length: 3 },
] as const;

/** Inputs larger than this many elements are weights, not shape constants. */
const SMALL = 64;

/** The element type of a shape tensor, from the op that makes it (what the probe outputs are declared as). */
function elementType(node: GraphNode, input: (name: string) => number): number {
  const v = node.view;
  switch (v.opType) {
    case 'Shape':
    case 'Size':
      return DataType.int64;
    case 'Cast':
      return Number(attribute(v, 'to')!.i);
    case 'Constant':
      return decodeTensor(attribute(v, 'value')!.t!).dataType;
    case 'Equal':
    case 'Less':
    case 'Greater':
    case 'LessOrEqual':
    case 'GreaterOrEqual':
    case 'Not':
    case 'And':
    case 'Or':
      return DataType.bool;
    case 'Where':
      return input(v.inputs[1]!);
    default:
      return input(v.inputs[0]!);
  }
}

function valueInfo(name: string, elemType: number) {
  // A ValueInfoProto with a tensor type and no shape.
  return [stringField(1, name), messageField(2, [messageField(1, [varintField(1, elemType)])])];
}

/** Feeds for one probe, from the session's declared inputs: ids, a full mask, positions after the past, any floats. */
function probeFeeds(session: ort.InferenceSession, dims: Readonly<Record<string, number>>): Record<string, ort.Tensor> {
  const past = dims.past_sequence_length ?? 0;
  const tokens = dims.sequence_length ?? 1;
  const sizes: Record<string, number> = { ...dims, total_sequence_length: past + tokens };
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`rewrite-static-shapes: input ${meta.name} is not a tensor`);
    const shape = meta.shape.map((d) => {
      if (typeof d === 'number') return d;
      const size = sizes[d];
      if (size === undefined) throw new Error(`rewrite-static-shapes: no probe size for dim ${d} of ${meta.name}`);
      return size;
    });
    const n = shape.reduce((a, d) => a * d, 1);
    if (meta.type === 'int64') {
      const value = (i: number) =>
        meta.name === 'attention_mask'
          ? 1n
          : meta.name === 'position_ids'
            ? BigInt(past + (i % tokens))
            : BigInt(4 + ((i * 37) % 100));
      feeds[meta.name] = new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: n }, (_, i) => value(i)),
        shape,
      );
    } else if (meta.type === 'float32') {
      feeds[meta.name] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
        shape,
      );
    } else throw new Error(`rewrite-static-shapes: input ${meta.name} has type ${meta.type}`);
  }
  return feeds;
}

const valueKey = (t: ort.Tensor) => JSON.stringify([t.dims, Array.from(t.data as ArrayLike<unknown>, String)]);

export async function rewriteStaticShapes(
  model: Uint8Array,
): Promise<{ model: Uint8Array; report: StaticShapesReport }> {
  const parts = decodeModel(model);
  const graph = new Graph(parts.graph);
  const types = new Map<string, number>();
  const small = new Set<string>();
  for (const name of graph.initializerNames()) {
    const t = graph.initializer(name)!;
    types.set(name, t.dataType);
    if (t.dims.reduce((a, d) => a * Number(d), 1) <= SMALL) small.add(name);
  }
  // Tensors computed from shapes alone.
  const derived = new Set(small);
  const constants = new Set<string>();
  for (const n of graph.nodes) {
    const v = n.view;
    const fromShapes =
      v.opType === 'Shape' ||
      v.opType === 'Constant' ||
      (v.inputs.length > 0 && v.inputs.every((i) => i === '' || derived.has(i)));
    if (!fromShapes) continue;
    const type = elementType(n, (i) => types.get(i) ?? DataType.float);
    for (const o of v.outputs) {
      derived.add(o);
      types.set(o, type);
      if (v.opType === 'Constant') constants.add(o);
    }
  }
  // The ones a data op reads (and the data those Reshapes reshape, whose dims decide a 0).
  const frontier = new Set<string>();
  const reshapeData = new Set<string>();
  for (const n of graph.nodes) {
    const v = n.view;
    if (v.outputs.every((o) => derived.has(o))) continue;
    for (const i of v.inputs) if (derived.has(i) && !small.has(i) && !constants.has(i)) frontier.add(i);
    if (v.opType === 'Reshape' && frontier.has(v.inputs[1]!)) reshapeData.add(v.inputs[0]!);
  }

  // Probe: the frontier's values, and the reshaped data's dims through an added Shape each.
  const probe = new Graph(parts.graph);
  const dimsOf = (t: string) => `${t}/static-shapes/probe-dims`;
  for (const t of reshapeData)
    probe.nodes.push(Graph.build({ opType: 'Shape', name: dimsOf(t), inputs: [t], outputs: [dimsOf(t)] }));
  const fetched = [...frontier, ...[...reshapeData].map(dimsOf)];
  for (const t of frontier) probe.addOutput(valueInfo(t, types.get(t)!));
  for (const t of reshapeData) probe.addOutput(valueInfo(dimsOf(t), DataType.int64));
  const session = await ort.InferenceSession.create(encodeModel({ model: parts.model, graph: probe.encode() }), {
    logSeverityLevel: 3,
  });
  const runs: Record<string, ort.Tensor>[] = [];
  for (const dims of PROBES) runs.push(await session.run(probeFeeds(session, dims), fetched));
  await session.release();

  const report: StaticShapesReport = { folded: 0, zeroedReshapes: 0, removedNodes: 0 };
  const replace = (tensor: string, values: readonly bigint[], readers: (n: GraphNode) => boolean) => {
    const name = `${tensor}/static`;
    graph.addInitializer(int64Tensor(name, runs[0]![tensor]!.dims, values));
    graph.nodes = graph.nodes.map((n) =>
      readers(n)
        ? Graph.withInputs(
            n,
            n.view.inputs.map((i) => (i === tensor ? name : i)),
          )
        : n,
    );
  };
  const isDataOp = (n: GraphNode) => !n.view.outputs.every((o) => derived.has(o));
  for (const t of frontier) {
    const values = runs.map((r) => r[t]!);
    if (values.every((v) => valueKey(v) === valueKey(values[0]!))) {
      if (types.get(t) !== DataType.int64) continue;
      replace(t, Array.from(values[0]!.data as BigInt64Array), (n) => isDataOp(n) && n.view.inputs.includes(t));
      report.folded++;
      continue;
    }
    const readers = graph.nodes.filter((n) => n.view.inputs.includes(t));
    if (!readers.every((n) => n.view.opType === 'Reshape' && n.view.inputs[1] === t && n.view.inputs[0] !== t))
      continue;
    if (readers.some((n) => Number(attribute(n.view, 'allowzero')?.i ?? 0) !== 0)) continue;
    const data = readers.map((n) => n.view.inputs[0]!);
    const zeroed = runs.map((r) =>
      Array.from(r[t]!.data as BigInt64Array, (v, i) =>
        data.every((d) => (r[dimsOf(d)]!.data as BigInt64Array)[i] === v) ? 0n : v,
      ),
    );
    const first = JSON.stringify(zeroed[0]!.map(String));
    if (!zeroed.every((z) => JSON.stringify(z.map(String)) === first)) continue;
    replace(t, zeroed[0]!, (n) => n.view.opType === 'Reshape' && n.view.inputs[1] === t);
    report.zeroedReshapes++;
  }
  report.removedNodes = graph.removeDeadNodes();
  graph.removeUnusedInitializers();
  graph.checkOrder();
  return { model: encodeModel({ model: parts.model, graph: graph.encode() }), report };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output, ...rest] = process.argv.slice(2);
  if (!input || !output || rest.length > 0) {
    console.error('usage: rewrite-static-shapes <in.onnx> <out.onnx>');
    process.exit(2);
  }
  const { model, report } = await rewriteStaticShapes(readFileSync(input));
  writeFileSync(output, model);
  console.log(
    `${output}: ${report.folded} shape tensors folded, ${report.zeroedReshapes} reshapes to constant shapes; ` +
      `${report.removedNodes} nodes removed; ${model.length} bytes`,
  );
}
