/**
 * A minimal protobuf wire-format codec. A message is kept as its ordered list of fields, each
 * with its raw payload, so decoding and re-encoding an untouched message reproduces its bytes
 * exactly and fields we do not interpret survive unchanged.
 */

export const WireType = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** One field occurrence. `value` is a bigint for varints, the raw payload bytes otherwise. */
export type Field =
  | { no: number; wire: typeof WireType.varint; value: bigint }
  | { no: number; wire: typeof WireType.bytes | typeof WireType.fixed32 | typeof WireType.fixed64; value: Uint8Array };

export class ProtobufError extends Error {
  override name = 'ProtobufError';
}

function readVarint(buf: Uint8Array, pos: number): [value: bigint, next: number] {
  let result = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length; i++) {
    const byte = buf[i]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, i + 1];
    shift += 7n;
    if (shift > 63n) throw new ProtobufError(`varint longer than 10 bytes at offset ${pos}`);
  }
  throw new ProtobufError(`truncated varint at offset ${pos}`);
}

/** Split a message into its fields (payloads are views into `buf`, not copies). */
export function decodeFields(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const at = pos;
    const [key, afterKey] = readVarint(buf, pos);
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (no === 0) throw new ProtobufError(`field number 0 at offset ${at}`);
    pos = afterKey;
    switch (wire) {
      case WireType.varint: {
        const [value, next] = readVarint(buf, pos);
        fields.push({ no, wire, value });
        pos = next;
        break;
      }
      case WireType.bytes: {
        const [len, next] = readVarint(buf, pos);
        const end = next + Number(len);
        if (end > buf.length) throw new ProtobufError(`field ${no} at offset ${at} runs past the end`);
        fields.push({ no, wire, value: buf.subarray(next, end) });
        pos = end;
        break;
      }
      case WireType.fixed32:
      case WireType.fixed64: {
        const size = wire === WireType.fixed32 ? 4 : 8;
        if (pos + size > buf.length) throw new ProtobufError(`field ${no} at offset ${at} runs past the end`);
        fields.push({ no, wire, value: buf.subarray(pos, pos + size) });
        pos += size;
        break;
      }
      default:
        throw new ProtobufError(`unsupported wire type ${wire} (field ${no}) at offset ${at}`);
    }
  }
  return fields;
}

function varintBytes(value: bigint): number[] {
  // Negative int64 values are encoded as their 64-bit two's complement (10 bytes).
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return out;
}

/** Serialize fields in order. */
export function encodeFields(fields: readonly Field[]): Uint8Array {
  const parts: (number[] | Uint8Array)[] = [];
  let size = 0;
  const push = (p: number[] | Uint8Array) => {
    parts.push(p);
    size += p.length;
  };
  for (const f of fields) {
    push(varintBytes(BigInt((f.no << 3) | f.wire)));
    if (f.wire === WireType.varint) {
      push(varintBytes(f.value));
    } else {
      if (f.wire === WireType.bytes) push(varintBytes(BigInt(f.value.length)));
      else if (f.value.length !== (f.wire === WireType.fixed32 ? 4 : 8)) {
        throw new ProtobufError(`field ${f.no}: fixed payload of ${f.value.length} bytes`);
      }
      push(f.value);
    }
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

// Field builders and readers for the common scalar shapes.

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export const bytesField = (no: number, value: Uint8Array): Field => ({ no, wire: WireType.bytes, value });
export const stringField = (no: number, value: string): Field => bytesField(no, utf8.encode(value));
export const varintField = (no: number, value: bigint | number): Field => ({
  no,
  wire: WireType.varint,
  value: BigInt(value),
});
export const messageField = (no: number, fields: readonly Field[]): Field => bytesField(no, encodeFields(fields));

export function fieldString(f: Field): string {
  if (f.wire !== WireType.bytes) throw new ProtobufError(`field ${f.no}: expected a string, found wire type ${f.wire}`);
  return fromUtf8.decode(f.value);
}

export function fieldBytes(f: Field): Uint8Array {
  if (f.wire !== WireType.bytes) throw new ProtobufError(`field ${f.no}: expected bytes, found wire type ${f.wire}`);
  return f.value;
}

/** A varint read as a signed 64-bit integer (protobuf int64). */
export function fieldInt(f: Field): bigint {
  if (f.wire !== WireType.varint)
    throw new ProtobufError(`field ${f.no}: expected a varint, found wire type ${f.wire}`);
  return BigInt.asIntN(64, f.value);
}

/** Repeated int64: accepts both packed (one length-delimited run) and unpacked occurrences. */
export function repeatedInts(fields: readonly Field[], no: number): bigint[] {
  const out: bigint[] = [];
  for (const f of fields) {
    if (f.no !== no) continue;
    if (f.wire === WireType.varint) out.push(BigInt.asIntN(64, f.value));
    else if (f.wire === WireType.bytes) {
      let pos = 0;
      while (pos < f.value.length) {
        const [v, next] = readVarint(f.value, pos);
        out.push(BigInt.asIntN(64, v));
        pos = next;
      }
    } else throw new ProtobufError(`field ${no}: expected int64s, found wire type ${f.wire}`);
  }
  return out;
}

/** Packed repeated int64 as one field. */
export function packedIntsField(no: number, values: readonly (bigint | number)[]): Field {
  return bytesField(no, Uint8Array.from(values.flatMap((v) => varintBytes(BigInt(v)))));
}
