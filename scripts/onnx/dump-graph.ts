/**
 * Print an ONNX graph as one line per node (`op_type inputs -> outputs [attributes]`), with
 * the graph's inputs, outputs and opsets: enough to read how a subgraph was exported.
 * Usage: node dist/scripts/onnx/dump-graph.js <model.onnx> [--filter <substring>]
 */
import { readFileSync } from 'node:fs';
import { fieldBytes } from './protobuf.js';
import {
  attributes,
  decodeModel,
  decodeNode,
  decodeTensor,
  GraphField,
  ModelField,
  valueInfoName,
  type NodeView,
} from './onnx-proto.js';
import { decodeFields, fieldInt, fieldString } from './protobuf.js';

function describeAttrs(node: NodeView): string {
  const parts = attributes(node).map((a) => {
    if (a.i !== undefined) return `${a.name}=${a.i}`;
    if (a.f !== undefined) return `${a.name}=${a.f}`;
    if (a.s !== undefined) return `${a.name}="${a.s}"`;
    if (a.ints.length > 0) return `${a.name}=[${a.ints.join(',')}]`;
    if (a.t) {
      const t = decodeTensor(a.t);
      const small = t.dataType === 7 && t.dims.reduce((p, d) => p * d, 1n) <= 8n;
      return `${a.name}=tensor(type ${t.dataType}, dims [${t.dims.join(',')}]${small ? `, ${t.int64s().join(',')}` : ''})`;
    }
    return a.name;
  });
  return parts.length ? ` [${parts.join(' ')}]` : '';
}

export function dumpGraph(bytes: Uint8Array, filter?: string): string {
  const { model, graph } = decodeModel(bytes);
  const lines: string[] = [];
  for (const f of model) {
    if (f.no === ModelField.opsetImport) {
      const sub = decodeFields(fieldBytes(f));
      const d = sub.find((x) => x.no === 1);
      const v = sub.find((x) => x.no === 2);
      lines.push(`opset ${d ? fieldString(d) || '(ai.onnx)' : '(ai.onnx)'} ${v ? fieldInt(v) : '?'}`);
    }
  }
  lines.push(
    `inputs: ${graph
      .filter((f) => f.no === GraphField.input)
      .map(valueInfoName)
      .join(', ')}`,
  );
  lines.push(
    `outputs: ${graph
      .filter((f) => f.no === GraphField.output)
      .map(valueInfoName)
      .join(', ')}`,
  );
  const inits = graph
    .filter((f) => f.no === GraphField.initializer)
    .map((f) => decodeTensor(decodeFields(fieldBytes(f))));
  lines.push(`initializers: ${inits.length}`);
  for (const t of inits) {
    const n = t.dims.reduce((p, d) => p * d, 1n);
    const vals = t.dataType === 7 && n <= 8n ? ` = ${t.int64s().join(',')}` : '';
    lines.push(`  init ${t.name} type ${t.dataType} [${t.dims.join(',')}]${vals}`);
  }
  for (const f of graph) {
    if (f.no !== GraphField.node) continue;
    const n = decodeNode(fieldBytes(f));
    const line = `${n.domain ? n.domain + '.' : ''}${n.opType} ${n.inputs.join(', ')} -> ${n.outputs.join(', ')}${describeAttrs(n)}  (${n.name})`;
    if (!filter || line.includes(filter)) lines.push(line);
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, flag, filter] = process.argv.slice(2);
  if (!file) {
    console.error('usage: dump-graph <model.onnx> [--filter <substring>]');
    process.exit(2);
  }
  console.log(dumpGraph(readFileSync(file), flag === '--filter' ? filter : undefined));
}
