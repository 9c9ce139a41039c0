/**
 * A safetensors reader: the JSON header (names, dtypes, shapes, byte ranges) and each tensor's
 * values as float32, read from the file one tensor at a time.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { fromHalf, GgufError } from './gguf.js';

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** Byte range in the data section (after the header). */
  offsets: [number, number];
}

export class SafetensorsFile {
  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly dataStart: number,
    readonly tensors: ReadonlyMap<string, SafetensorsEntry>,
  ) {}

  static async open(file: string): Promise<SafetensorsFile> {
    const handle = await open(file, 'r');
    try {
      const size = (await handle.stat()).size;
      const lengthBytes = Buffer.alloc(8);
      await handle.read(lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (size < 8 || headerLength > size - 8) throw new GgufError(`${file}: not a safetensors file (header length)`);
      const header = Buffer.alloc(headerLength);
      await handle.read(header, 0, headerLength, 8);
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(header.toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new GgufError(`${file}: not a safetensors file (the header is not JSON)`);
      }
      const tensors = new Map<string, SafetensorsEntry>();
      for (const [name, v] of Object.entries(json)) {
        if (name === '__metadata__') continue;
        const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        if (typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets))
          throw new GgufError(`${file}: tensor ${name} has no dtype, shape or data_offsets`);
        tensors.set(name, {
          dtype: e.dtype,
          shape: e.shape as number[],
          offsets: e.data_offsets as [number, number],
        });
      }
      return new SafetensorsFile(file, handle, 8 + headerLength, tensors);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** A tensor's values as float32 (F32, F16 and BF16 tensors). */
  async read(name: string): Promise<Float32Array> {
    const e = this.tensors.get(name);
    if (!e) throw new GgufError(`${this.file}: no tensor ${name}`);
    const [start, end] = e.offsets;
    const bytes = Buffer.alloc(end - start);
    await this.handle.read(bytes, 0, bytes.length, this.dataStart + start);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const width = { F32: 4, F16: 2, BF16: 2 }[e.dtype];
    if (width === undefined)
      throw new GgufError(`${this.file}: tensor ${name} is ${e.dtype}; F32, F16 and BF16 convert`);
    if (bytes.length !== count * width)
      throw new GgufError(`${this.file}: tensor ${name} holds ${bytes.length} bytes for shape [${e.shape.join(', ')}]`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(count);
    if (e.dtype === 'F32') for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    else if (e.dtype === 'F16') for (let i = 0; i < count; i++) out[i] = fromHalf(view.getUint16(i * 2, true));
    else for (let i = 0; i < count; i++) out[i] = fromBits(view.getUint16(i * 2, true) << 16);
    return out;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

const scratch = new Uint32Array(1);
const scratchF32 = new Float32Array(scratch.buffer);

function fromBits(bits: number): number {
  scratch[0] = bits >>> 0;
  return scratchF32[0]!;
}
