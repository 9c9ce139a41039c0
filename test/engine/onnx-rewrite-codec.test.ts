import { describe, expect, it } from 'vitest';
import {
  decodeFields,
  encodeFields,
  fieldInt,
  fieldString,
  packedIntsField,
  ProtobufError,
  repeatedInts,
  stringField,
  varintField,
  WireType,
  type Field,
} from '../../scripts/onnx/protobuf.js';
import {
  attributes,
  decodeNode,
  decodeTensor,
  encodeModel,
  decodeModel,
  int64Tensor,
  intsAttr,
  intAttr,
  nodeFields,
} from '../../scripts/onnx/onnx-proto.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

describe('protobuf wire codec', () => {
  it('matches the encoding examples of the protobuf spec', () => {
    // Field 1 = varint 150 is 08 96 01; field 2 = "testing" is 12 07 + the UTF-8 bytes.
    expect(hex(encodeFields([varintField(1, 150)]))).toBe('089601');
    expect(hex(encodeFields([stringField(2, 'testing')]))).toBe('120774657374696e67');
    const [f] = decodeFields(bytes('089601'));
    expect(f).toMatchObject({ no: 1, wire: WireType.varint });
    expect(fieldInt(f!)).toBe(150n);
    expect(fieldString(decodeFields(bytes('120774657374696e67'))[0]!)).toBe('testing');
  });

  it('round-trips int64 edge values, negatives as 10-byte two’s complement', () => {
    const values = [0n, 1n, 127n, 128n, 300n, 2n ** 32n, 2n ** 63n - 1n, -1n, -(2n ** 63n)];
    for (const v of values) {
      const enc = encodeFields([varintField(5, v)]);
      expect(fieldInt(decodeFields(enc)[0]!)).toBe(v);
      if (v < 0n) expect(enc.length).toBe(1 + 10);
    }
  });

  it('keeps fields it does not interpret, in order, byte for byte', () => {
    const fixed32: Field = { no: 9, wire: WireType.fixed32, value: bytes('0000803f') };
    const fixed64: Field = { no: 10, wire: WireType.fixed64, value: bytes('0102030405060708') };
    const msg = encodeFields([varintField(3, 7), fixed32, stringField(1, 'x'), fixed64, varintField(3, 8)]);
    const back = decodeFields(msg);
    expect(back.map((f) => f.no)).toEqual([3, 9, 1, 10, 3]);
    expect(hex(encodeFields(back))).toBe(hex(msg));
  });

  it('reads repeated int64 both packed and unpacked', () => {
    const packed = decodeFields(encodeFields([packedIntsField(8, [1, -1, 300])]));
    const unpacked = decodeFields(encodeFields([varintField(8, 1), varintField(8, -1), varintField(8, 300)]));
    expect(repeatedInts(packed, 8)).toEqual([1n, -1n, 300n]);
    expect(repeatedInts(unpacked, 8)).toEqual([1n, -1n, 300n]);
  });

  it('rejects truncated and malformed input with the offset', () => {
    expect(() => decodeFields(bytes('0896'))).toThrow(ProtobufError);
    expect(() => decodeFields(bytes('0896'))).toThrow(/truncated varint at offset 1/);
    expect(() => decodeFields(bytes('1205616263'))).toThrow(/field 2 at offset 0 runs past the end/);
    expect(() => decodeFields(bytes('0b00'))).toThrow(/unsupported wire type 3/);
    expect(() => decodeFields(bytes('0001'))).toThrow(/field number 0/);
  });
});

describe('ONNX message views', () => {
  it('builds nodes with int and ints attributes that read back', () => {
    const fields = nodeFields({
      opType: 'Transpose',
      name: 'n',
      inputs: ['x'],
      outputs: ['y'],
      attributes: [intsAttr('perm', [0, 1, 3, 2]), intAttr('axis', -1)],
    });
    const node = decodeNode(encodeFields(fields));
    expect(node).toMatchObject({ opType: 'Transpose', name: 'n', inputs: ['x'], outputs: ['y'], domain: '' });
    const attrs = attributes(node);
    expect(attrs.find((a) => a.name === 'perm')!.ints).toEqual([0n, 1n, 3n, 2n]);
    expect(attrs.find((a) => a.name === 'axis')!.i).toBe(-1n);
  });

  it('writes INT64 tensors as little-endian raw data', () => {
    const t = decodeTensor(int64Tensor('s', [4], [0, 2, -1, 32]));
    expect(t).toMatchObject({ name: 's', dataType: 7, dims: [4n] });
    expect(t.int64s()).toEqual([0n, 2n, -1n, 32n]);
  });

  it('needs exactly one graph in a model', () => {
    expect(() => decodeModel(encodeFields([varintField(1, 8)]))).toThrow(/expected one graph in the model, found 0/);
    const model = encodeFields([
      varintField(1, 8),
      { no: 7, wire: WireType.bytes, value: encodeFields([stringField(2, 'g')]) },
    ]);
    expect(hex(encodeModel(decodeModel(model)))).toBe(hex(model));
  });
});
