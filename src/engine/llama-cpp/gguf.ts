/**
 * A GGUF v3 writer: metadata and tensors in F32, F16 or Q8_0, the file layout llama.cpp reads
 * (little endian; header, metadata, tensor infos, then the tensor data, each part aligned).
 * No npm package writes GGUF tensors (`@huggingface/gguf` reads and writes metadata only).
 */
import type { FileHandle } from 'node:fs/promises';
import { ThreadweaverError } from '../../errors.js';

/** The GGUF value types (gguf.h `gguf_type`). */
const ValueType = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10 } as const;

/** The tensor types this writer encodes (ggml.h `ggml_type`). */
export const TensorType = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type TensorTypeName = keyof typeof TensorType;

/** Values per Q8_0 block: one f16 scale and 32 int8 values, 34 bytes. */
export const Q8_0_BLOCK = 32;

/** A metadata value, typed as GGUF stores it (JavaScript numbers say nothing of width). */
export type MetadataValue =
  | { type: 'uint32' | 'int32' | 'float32' | 'uint64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'int32[]' | 'float32[]'; value: readonly number[] };

export const u32 = (value: number): MetadataValue => ({ type: 'uint32', value });
export const i32 = (value: number): MetadataValue => ({ type: 'int32', value });
export const f32 = (value: number): MetadataValue => ({ type: 'float32', value });
export const bool = (value: boolean): MetadataValue => ({ type: 'bool', value });
export const str = (value: string): MetadataValue => ({ type: 'string', value });
export const strings = (value: readonly string[]): MetadataValue => ({ type: 'string[]', value });
export const i32s = (value: readonly number[]): MetadataValue => ({ type: 'int32[]', value });

export interface GgufTensor {
  name: string;
  /** Dimensions in ggml order: `dims[0]` is the contiguous one (a Hugging Face `[out, in]` weight is `[in, out]`). */
  dims: readonly number[];
  type: TensorTypeName;
  /** The values, row-major as in `dims` reversed (the same bytes a PyTorch tensor holds). */
  data: () => Promise<Float32Array> | Float32Array;
}

/** A GGUF file that cannot be written or read: an unsupported tensor, type or metadata value. */
export class GgufError extends ThreadweaverError {
  override name = 'GgufError';
}

const ALIGNMENT = 32;

/** Bytes of a tensor of `type` with `count` values. */
export function tensorBytes(type: TensorTypeName, count: number): number {
  if (type === 'F32') return count * 4;
  if (type === 'F16') return count * 2;
  return (count / Q8_0_BLOCK) * 34;
}

/**
 * Write a GGUF file: `metadata` in the given order (`general.alignment` is left at its default of
 * 32), then `tensors`, each encoded as it is written so that one tensor at a time is in memory.
 */
export async function writeGguf(
  out: FileHandle,
  metadata: ReadonlyMap<string, MetadataValue>,
  tensors: readonly GgufTensor[],
): Promise<{ bytes: number }> {
  const head = new ByteWriter();
  head.u32(0x46554747); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, value] of metadata) {
    head.string(key);
    writeValue(head, key, value);
  }
  let offset = 0;
  for (const t of tensors) {
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (t.type === 'Q8_0' && t.dims[0]! % Q8_0_BLOCK !== 0)
      throw new GgufError(`${t.name}: Q8_0 needs rows of a multiple of ${Q8_0_BLOCK} values, got ${t.dims[0]}`);
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(TensorType[t.type]);
    head.u64(offset);
    offset = align(offset + tensorBytes(t.type, count));
  }
  head.pad();
  let position = 0;
  const write = async (bytes: Uint8Array) => {
    await out.write(bytes, 0, bytes.length, position);
    position += bytes.length;
  };
  await write(head.bytes());
  for (const t of tensors) {
    const values = await t.data();
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (values.length !== count)
      throw new GgufError(`${t.name}: ${values.length} values for dimensions [${t.dims.join(', ')}]`);
    const bytes = encodeTensor(t.type, values);
    await write(bytes);
    const padding = align(position) - position;
    if (padding > 0) await write(new Uint8Array(padding));
  }
  return { bytes: position };
}

/** A tensor's values as GGUF stores them. */
export function encodeTensor(type: TensorTypeName, values: Float32Array): Uint8Array {
  if (type === 'F32')
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  if (type === 'F16') {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]!);
    return new Uint8Array(out.buffer);
  }
  return quantizeQ8_0(values);
}

/**
 * Q8_0 as llama.cpp quantizes it: per block of 32 values a scale d = max|x| / 127 stored as f16,
 * and round(x / d) as int8, rounding halves away from zero (C's `roundf`).
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  const blocks = values.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[b * Q8_0_BLOCK + j]!));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    view.setUint16(b * 34, toHalf(d), true);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const x = Math.fround(values[b * Q8_0_BLOCK + j]! * id);
      view.setInt8(b * 34 + 2 + j, Math.sign(x) * Math.floor(Math.abs(x) + 0.5));
    }
  }
  return out;
}

/** The nearest IEEE half (round to nearest, ties to even), as its 16 bits. */
export function toHalf(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  // Normal halves keep 10 of the 23 mantissa bits; subnormal ones shift the implicit 1 in too.
  const m = e > 0 ? mant : mant | 0x800000;
  const shift = e > 0 ? 13 : 14 - e;
  if (shift > 24) return sign;
  const kept = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const mid = 1 << (shift - 1);
  const up = rest > mid || (rest === mid && (kept & 1) === 1) ? 1 : 0;
  // A carry out of the mantissa moves into the exponent (or to infinity), which is the right result.
  return sign | ((e > 0 ? e << 10 : 0) + kept + up);
}

/** The value of an IEEE half's 16 bits. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function writeValue(w: ByteWriter, key: string, v: MetadataValue): void {
  switch (v.type) {
    case 'uint32':
    case 'int32':
    case 'float32':
    case 'uint64':
      if (!Number.isFinite(v.value)) throw new GgufError(`metadata ${key}: ${v.value} is not a number`);
      w.u32(ValueType[v.type]);
      scalar(w, v.type, v.value);
      return;
    case 'bool':
      w.u32(ValueType.bool);
      w.u8(v.value ? 1 : 0);
      return;
    case 'string':
      w.u32(ValueType.string);
      w.string(v.value);
      return;
    case 'string[]':
      w.u32(ValueType.array);
      w.u32(ValueType.string);
      w.u64(v.value.length);
      for (const s of v.value) w.string(s);
      return;
    case 'int32[]':
    case 'float32[]': {
      const type = v.type === 'int32[]' ? 'int32' : 'float32';
      w.u32(ValueType.array);
      w.u32(ValueType[type]);
      w.u64(v.value.length);
      for (const x of v.value) scalar(w, type, x);
      return;
    }
  }
}

function scalar(w: ByteWriter, type: 'uint32' | 'int32' | 'float32' | 'uint64', x: number): void {
  if (type === 'uint32') w.u32(x);
  else if (type === 'int32') w.i32(x);
  else if (type === 'float32') w.f32(x);
  else w.u64(x);
}

const align = (n: number): number => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  private length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(x: number): void {
    this.room(1);
    this.view.setUint8(this.length, x);
    this.length += 1;
  }
  u32(x: number): void {
    this.room(4);
    this.view.setUint32(this.length, x, true);
    this.length += 4;
  }
  i32(x: number): void {
    this.room(4);
    this.view.setInt32(this.length, x, true);
    this.length += 4;
  }
  f32(x: number): void {
    this.room(4);
    this.view.setFloat32(this.length, x, true);
    this.length += 4;
  }
  u64(x: number): void {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(x), true);
    this.length += 8;
  }
  string(s: string): void {
    const bytes = new TextEncoder().encode(s);
    this.u64(bytes.length);
    this.room(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  pad(): void {
    const n = align(this.length) - this.length;
    this.room(n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
