/**
 * The slice of the ONNX schema (onnx.proto3) the graph tools read and write, on top of the raw
 * field lists of `protobuf.ts`. Views keep their message's fields, so an unchanged node or
 * initializer re-encodes to its original bytes.
 */
import {
  decodeFields,
  encodeFields,
  fieldBytes,
  fieldInt,
  fieldString,
  messageField,
  packedIntsField,
  repeatedInts,
  stringField,
  varintField,
  bytesField,
  WireType,
  type Field,
} from './protobuf.js';

export const ModelField = { irVersion: 1, graph: 7, opsetImport: 8 } as const;
export const GraphField = { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
export const NodeField = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, docString: 6, domain: 7 } as const;
export const AttrField = { name: 1, f: 2, i: 3, s: 4, t: 5, ints: 8, type: 20 } as const;
export const AttrType = { float: 1, int: 2, string: 3, tensor: 4, ints: 7 } as const;
export const TensorField = { dims: 1, dataType: 2, name: 8, rawData: 9 } as const;
export const DataType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9 } as const;
const ValueInfoField = { name: 1, type: 2 } as const;
const TypeField = { tensorType: 1 } as const;
const TensorTypeField = { elemType: 1, shape: 2 } as const;
const ShapeField = { dim: 1 } as const;
const DimField = { value: 1, param: 2 } as const;
const OpsetField = { domain: 1, version: 2 } as const;

export interface ModelParts {
  /** ModelProto fields, with the graph field left in place (replaced on `encodeModel`). */
  model: Field[];
  /** GraphProto fields in their original order. */
  graph: Field[];
}

export function decodeModel(bytes: Uint8Array): ModelParts {
  const model = decodeFields(bytes);
  const graphs = model.filter((f) => f.no === ModelField.graph);
  if (graphs.length !== 1) throw new Error(`onnx: expected one graph in the model, found ${graphs.length}`);
  return { model, graph: decodeFields(fieldBytes(graphs[0]!)) };
}

export function encodeModel(parts: ModelParts): Uint8Array {
  const graph = encodeFields(parts.graph);
  return encodeFields(parts.model.map((f) => (f.no === ModelField.graph ? bytesField(ModelField.graph, graph) : f)));
}

export function opsetVersion(model: readonly Field[], domain = ''): number | undefined {
  for (const f of model) {
    if (f.no !== ModelField.opsetImport) continue;
    const sub = decodeFields(fieldBytes(f));
    const d = sub.find((x) => x.no === OpsetField.domain);
    if ((d ? fieldString(d) : '') !== domain) continue;
    const v = sub.find((x) => x.no === OpsetField.version);
    return v ? Number(fieldInt(v)) : undefined;
  }
  return undefined;
}

/** Model fields with an opset import for `domain` added after the last one (if it is not there yet). */
export function withOpset(model: readonly Field[], domain: string, version: number): Field[] {
  if (opsetVersion(model, domain) !== undefined) return [...model];
  let last = -1;
  model.forEach((f, k) => {
    if (f.no === ModelField.opsetImport) last = k;
  });
  const entry = messageField(ModelField.opsetImport, [
    stringField(OpsetField.domain, domain),
    varintField(OpsetField.version, version),
  ]);
  return [...model.slice(0, last + 1), entry, ...model.slice(last + 1)];
}

// ---- nodes ----

export interface NodeView {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  /** The NodeProto's fields (attributes stay raw here; read them with `attribute`). */
  fields: Field[];
}

export function decodeNode(bytes: Uint8Array): NodeView {
  const fields = decodeFields(bytes);
  const str = (no: number) => fields.filter((f) => f.no === no).map(fieldString);
  return {
    opType: str(NodeField.opType)[0] ?? '',
    domain: str(NodeField.domain)[0] ?? '',
    name: str(NodeField.name)[0] ?? '',
    inputs: str(NodeField.input),
    outputs: str(NodeField.output),
    fields,
  };
}

export interface AttributeView {
  name: string;
  type: number;
  i?: bigint;
  f?: number;
  s?: string;
  ints: bigint[];
  /** A TensorProto's fields, for tensor attributes. */
  t?: Field[];
}

export function attributes(node: NodeView): AttributeView[] {
  return node.fields
    .filter((f) => f.no === NodeField.attribute)
    .map((f) => {
      const sub = decodeFields(fieldBytes(f));
      const one = (no: number) => sub.find((x) => x.no === no);
      const name = one(AttrField.name);
      const type = one(AttrField.type);
      const i = one(AttrField.i);
      const fl = one(AttrField.f);
      const s = one(AttrField.s);
      const t = one(AttrField.t);
      return {
        name: name ? fieldString(name) : '',
        type: type ? Number(fieldInt(type)) : 0,
        ...(i ? { i: fieldInt(i) } : {}),
        ...(fl && fl.wire === WireType.fixed32
          ? { f: new DataView(fl.value.buffer, fl.value.byteOffset, 4).getFloat32(0, true) }
          : {}),
        ...(s ? { s: new TextDecoder().decode(fieldBytes(s)) } : {}),
        ints: repeatedInts(sub, AttrField.ints),
        ...(t ? { t: decodeFields(fieldBytes(t)) } : {}),
      };
    });
}

export function attribute(node: NodeView, name: string): AttributeView | undefined {
  return attributes(node).find((a) => a.name === name);
}

/** An AttributeProto as a NodeProto field. */
export function intAttr(name: string, value: bigint | number): Field {
  return messageField(NodeField.attribute, [
    stringField(AttrField.name, name),
    varintField(AttrField.i, value),
    varintField(AttrField.type, AttrType.int),
  ]);
}

export function intsAttr(name: string, values: readonly (bigint | number)[]): Field {
  return messageField(NodeField.attribute, [
    stringField(AttrField.name, name),
    packedIntsField(AttrField.ints, values),
    varintField(AttrField.type, AttrType.ints),
  ]);
}

export function floatAttr(name: string, value: number): Field {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  return messageField(NodeField.attribute, [
    stringField(AttrField.name, name),
    { no: AttrField.f, wire: WireType.fixed32, value: bytes },
    varintField(AttrField.type, AttrType.float),
  ]);
}

export interface NewNode {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  domain?: string;
  attributes?: readonly Field[];
}

/** A NodeProto's fields in the order the ONNX exporters write them. */
export function nodeFields(n: NewNode): Field[] {
  return [
    ...n.inputs.map((x) => stringField(NodeField.input, x)),
    ...n.outputs.map((x) => stringField(NodeField.output, x)),
    stringField(NodeField.name, n.name),
    stringField(NodeField.opType, n.opType),
    ...(n.attributes ?? []),
    ...(n.domain ? [stringField(NodeField.domain, n.domain)] : []),
  ];
}

// ---- tensors and value infos ----

/** A TensorProto's fields with its values as little-endian raw_data. */
function rawTensor(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): Field[] {
  return [
    packedIntsField(TensorField.dims, dims),
    varintField(TensorField.dataType, dataType),
    stringField(TensorField.name, name),
    bytesField(TensorField.rawData, raw),
  ];
}

/** An INT64 TensorProto's fields (little-endian raw_data). */
export function int64Tensor(name: string, dims: readonly number[], values: readonly (bigint | number)[]): Field[] {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, k) => view.setBigInt64(k * 8, BigInt(v), true));
  return rawTensor(name, DataType.int64, dims, raw);
}

/** An INT32 TensorProto's fields. */
export function int32Tensor(name: string, dims: readonly number[], values: readonly number[]): Field[] {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, k) => view.setInt32(k * 4, v, true));
  return rawTensor(name, DataType.int32, dims, raw);
}

/** A UINT8 TensorProto's fields. */
export function uint8Tensor(name: string, dims: readonly number[], values: readonly number[]): Field[] {
  return rawTensor(name, DataType.uint8, dims, Uint8Array.from(values));
}

/** A BOOL TensorProto's fields. */
export function boolTensor(name: string, dims: readonly number[], values: readonly boolean[]): Field[] {
  return rawTensor(
    name,
    DataType.bool,
    dims,
    Uint8Array.from(values, (v) => (v ? 1 : 0)),
  );
}

/** A FLOAT TensorProto's fields. */
export function floatTensor(name: string, dims: readonly number[], values: readonly number[]): Field[] {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, k) => view.setFloat32(k * 4, v, true));
  return rawTensor(name, DataType.float, dims, raw);
}

export interface TensorView {
  name: string;
  dataType: number;
  dims: bigint[];
  /** Values of a small INT64 tensor stored as raw_data or int64_data (field 7). */
  int64s(): bigint[];
  /** Values of an 8-bit integer tensor (UINT8 or INT8) stored as raw_data or int32_data (field 5). */
  int8s(): number[];
  /** Values of a FLOAT tensor stored as raw_data or float_data (field 4). */
  float32s(): number[];
}

export function decodeTensor(fields: readonly Field[]): TensorView {
  const name = fields.find((f) => f.no === TensorField.name);
  const type = fields.find((f) => f.no === TensorField.dataType);
  const raw = fields.find((f) => f.no === TensorField.rawData);
  const dataType = type ? Number(fieldInt(type)) : 0;
  return {
    name: name ? fieldString(name) : '',
    dataType,
    dims: repeatedInts(fields, TensorField.dims),
    int64s() {
      if (dataType !== DataType.int64)
        throw new Error(`onnx: tensor ${this.name} is not INT64 (data_type ${dataType})`);
      if (!raw) return repeatedInts(fields, 7);
      const b = fieldBytes(raw);
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      return Array.from({ length: b.byteLength / 8 }, (_, k) => view.getBigInt64(k * 8, true));
    },
    int8s() {
      if (dataType !== DataType.uint8 && dataType !== DataType.int8)
        throw new Error(`onnx: tensor ${this.name} is not 8-bit (data_type ${dataType})`);
      if (!raw)
        return repeatedInts(fields, 5).map((v) =>
          dataType === DataType.int8 ? Number(BigInt.asIntN(8, v)) : Number(v),
        );
      const b = fieldBytes(raw);
      return dataType === DataType.int8
        ? Array.from(new Int8Array(b.buffer, b.byteOffset, b.byteLength))
        : Array.from(b);
    },
    float32s() {
      if (dataType !== DataType.float)
        throw new Error(`onnx: tensor ${this.name} is not FLOAT (data_type ${dataType})`);
      const bytes = raw ? fieldBytes(raw) : undefined;
      if (bytes) {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return Array.from({ length: bytes.byteLength / 4 }, (_, k) => view.getFloat32(k * 4, true));
      }
      // float_data (field 4): packed, or one fixed32 field per value.
      const out: number[] = [];
      for (const f of fields) {
        if (f.no !== 4) continue;
        const b = f.wire === WireType.varint ? new Uint8Array(0) : f.value;
        const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
        for (let k = 0; k + 4 <= b.byteLength; k += 4) out.push(view.getFloat32(k, true));
      }
      return out;
    },
  };
}

/** A tensor ValueInfoProto's fields: element type and dims (numbers are fixed, strings symbolic). */
export function tensorValueInfo(name: string, elemType: number, dims: readonly (number | string)[]): Field[] {
  const dim = (d: number | string) =>
    messageField(ShapeField.dim, [
      typeof d === 'string' ? stringField(DimField.param, d) : varintField(DimField.value, d),
    ]);
  return [
    stringField(ValueInfoField.name, name),
    messageField(ValueInfoField.type, [
      messageField(TypeField.tensorType, [
        varintField(TensorTypeField.elemType, elemType),
        messageField(TensorTypeField.shape, dims.map(dim)),
      ]),
    ]),
  ];
}

export function valueInfoName(f: Field): string {
  const name = decodeFields(fieldBytes(f)).find((x) => x.no === ValueInfoField.name);
  return name ? fieldString(name) : '';
}
