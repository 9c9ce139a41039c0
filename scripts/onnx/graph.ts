/**
 * An editable view of an ONNX GraphProto: nodes as decoded views (untouched ones keep their
 * original bytes), lookups by tensor name, dead-node removal and an order check. Everything else
 * in the graph (initializers, inputs, outputs, value infos) passes through as raw fields.
 */
import {
  decodeNode,
  decodeTensor,
  GraphField,
  NodeField,
  nodeFields,
  valueInfoName,
  type NewNode,
  type NodeView,
  type TensorView,
} from './onnx-proto.js';
import {
  decodeFields,
  encodeFields,
  fieldBytes,
  fieldString,
  messageField,
  bytesField,
  stringField,
  type Field,
} from './protobuf.js';
import { TensorField } from './onnx-proto.js';

export interface GraphNode {
  view: NodeView;
  /** The original NodeProto bytes; absent for nodes built by a rewrite. */
  raw?: Uint8Array;
}

export class Graph {
  nodes: GraphNode[];
  /** Graph fields other than nodes, in order; nodes are re-inserted where the first one stood. */
  private readonly rest: Field[];
  private nodeSlot: number;
  private readonly added: Field[] = [];

  constructor(fields: readonly Field[]) {
    this.nodes = [];
    this.rest = [];
    let slot = -1;
    for (const f of fields) {
      if (f.no === GraphField.node) {
        if (slot < 0) slot = this.rest.length;
        const raw = fieldBytes(f);
        this.nodes.push({ view: decodeNode(raw), raw });
      } else this.rest.push(f);
    }
    this.nodeSlot = slot < 0 ? this.rest.length : slot;
  }

  get inputs(): string[] {
    return this.rest.filter((f) => f.no === GraphField.input).map(valueInfoName);
  }

  get outputs(): string[] {
    return this.rest.filter((f) => f.no === GraphField.output).map(valueInfoName);
  }

  initializerNames(): string[] {
    return [...this.rest, ...this.added]
      .filter((f) => f.no === GraphField.initializer)
      .map((f) => {
        const name = decodeFields(fieldBytes(f)).find((x) => x.no === TensorField.name);
        return name ? fieldString(name) : '';
      });
  }

  /** An initializer by name (existing or added). */
  initializer(name: string): TensorView | undefined {
    for (const f of [...this.rest, ...this.added]) {
      if (f.no !== GraphField.initializer) continue;
      const t = decodeTensor(decodeFields(fieldBytes(f)));
      if (t.name === name) return t;
    }
    return undefined;
  }

  /** Replace the declaration of graph input or output `name` (a ValueInfoProto's fields), in place. */
  replaceValueInfo(kind: 'input' | 'output', name: string, info: readonly Field[]): void {
    const no = kind === 'input' ? GraphField.input : GraphField.output;
    const at = this.rest.findIndex((f) => f.no === no && valueInfoName(f) === name);
    if (at < 0) throw new Error(`graph: no ${kind} named ${name}`);
    this.rest[at] = messageField(no, info);
  }

  /** Declare a new graph input (a ValueInfoProto's fields) after the existing ones. */
  addInput(info: readonly Field[]): void {
    let at = -1;
    this.rest.forEach((f, k) => {
      if (f.no === GraphField.input) at = k;
    });
    this.rest.splice(at + 1, 0, messageField(GraphField.input, info));
    if (at + 1 <= this.nodeSlot) this.nodeSlot++;
  }

  /** Declare an intermediate tensor a graph output too (for inspecting it), after the existing outputs. */
  addOutput(info: readonly Field[]): void {
    let at = -1;
    this.rest.forEach((f, k) => {
      if (f.no === GraphField.output) at = k;
    });
    this.rest.splice(at + 1, 0, messageField(GraphField.output, info));
    if (at + 1 <= this.nodeSlot) this.nodeSlot++;
  }

  /** Drop every recorded intermediate shape (value_info): optional hints a rewrite may have made stale. */
  dropValueInfos(): void {
    for (let k = this.rest.length - 1; k >= 0; k--) {
      if (this.rest[k]!.no !== GraphField.valueInfo) continue;
      this.rest.splice(k, 1);
      if (k < this.nodeSlot) this.nodeSlot--;
    }
  }

  /** Append an initializer (a TensorProto's fields). */
  addInitializer(tensor: readonly Field[]): void {
    this.added.push(messageField(GraphField.initializer, tensor));
  }

  static build(node: NewNode): GraphNode {
    const fields = nodeFields(node);
    return { view: decodeNode(encodeFields(fields)) };
  }

  /** A copy of `node` reading `inputs` instead (name, outputs, attributes and domain kept). */
  static withInputs(node: GraphNode, inputs: readonly string[]): GraphNode {
    const fields = node.view.fields.filter((f) => f.no !== NodeField.input);
    const at = fields.findIndex((f) => f.no !== NodeField.input);
    const rebuilt = [
      ...inputs.map((i) => stringField(NodeField.input, i)),
      ...fields.slice(at < 0 ? fields.length : at),
    ];
    return { view: decodeNode(encodeFields(rebuilt)) };
  }

  /** `Graph.build` that counts what it builds into `report.addedNodes`. */
  static counting(report: { addedNodes: number }): (node: NewNode) => GraphNode {
    return (node) => {
      report.addedNodes++;
      return Graph.build(node);
    };
  }

  producer(tensor: string): GraphNode | undefined {
    return this.nodes.find((n) => n.view.outputs.includes(tensor));
  }

  consumers(tensor: string): GraphNode[] {
    return this.nodes.filter((n) => n.view.inputs.includes(tensor));
  }

  /** Drop nodes none of whose outputs are used (repeatedly); returns how many were removed. */
  removeDeadNodes(): number {
    const before = this.nodes.length;
    const graphOutputs = new Set(this.outputs);
    for (;;) {
      const used = new Set(graphOutputs);
      for (const n of this.nodes) for (const i of n.view.inputs) used.add(i);
      const keep = this.nodes.filter((n) => n.view.outputs.some((o) => o !== '' && used.has(o)));
      if (keep.length === this.nodes.length) break;
      this.nodes = keep;
    }
    return before - this.nodes.length;
  }

  /** Drop initializers no node reads (onnxruntime warns about each one at load); returns how many. */
  removeUnusedInitializers(): number {
    const read = new Set(this.nodes.flatMap((n) => n.view.inputs));
    const unused = (f: Field) => {
      if (f.no !== GraphField.initializer) return false;
      const name = decodeFields(fieldBytes(f)).find((x) => x.no === TensorField.name);
      return !read.has(name ? fieldString(name) : '');
    };
    const before = this.rest.length + this.added.length;
    for (let k = this.rest.length - 1; k >= 0; k--) {
      if (!unused(this.rest[k]!)) continue;
      this.rest.splice(k, 1);
      if (k < this.nodeSlot) this.nodeSlot--;
    }
    const keep = this.added.filter((f) => !unused(f));
    this.added.splice(0, this.added.length, ...keep);
    return before - this.rest.length - this.added.length;
  }

  /** Throw unless every node input is a graph input, an initializer or an earlier node's output. */
  checkOrder(): void {
    const known = new Set<string>(['', ...this.inputs, ...this.initializerNames()]);
    for (const n of this.nodes) {
      for (const i of n.view.inputs) {
        if (!known.has(i))
          throw new Error(`graph: node ${n.view.name} (${n.view.opType}) reads ${i} before it is produced`);
      }
      for (const o of n.view.outputs) known.add(o);
    }
    for (const o of this.outputs) if (!known.has(o)) throw new Error(`graph: output ${o} is never produced`);
  }

  /** Graph fields: value infos of tensors that no longer exist are dropped (they would be stale). */
  encode(): Field[] {
    const live = new Set<string>(this.inputs);
    for (const n of this.nodes) for (const o of n.view.outputs) live.add(o);
    const rest = this.rest.filter((f) => f.no !== GraphField.valueInfo || live.has(valueInfoName(f)));
    const nodes = this.nodes.map((n) => bytesField(GraphField.node, n.raw ?? encodeFields(n.view.fields)));
    // New initializers go right after the last existing one, keeping the exporter's field order.
    let lastInit = -1;
    rest.forEach((f, k) => {
      if (f.no === GraphField.initializer) lastInit = k;
    });
    const at = lastInit >= 0 ? lastInit + 1 : rest.length;
    const withInits = [...rest.slice(0, at), ...this.added, ...rest.slice(at)];
    const slot = this.nodeSlot <= at ? this.nodeSlot : this.nodeSlot + this.added.length;
    return [...withInits.slice(0, slot), ...nodes, ...withInits.slice(slot)];
  }
}
