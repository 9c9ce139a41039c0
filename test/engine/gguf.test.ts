import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';

import os from 'node:os';
import path from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { describe, expect, it } from 'vitest';
import { writeAtomically } from '../../src/internal/files.js';
import { createRng } from '../../src/internal/random.js';
import { byteEncode, convertToGguf, permuteRope } from '../../src/engine/llama-cpp/convert.js';
import {
  bool,
  f32,
  fromHalf,
  GgufError,
  i32s,
  quantizeQ8_0,
  str,
  strings,
  toHalf,
  u32,
  writeGguf,
  type GgufTensor,
  type MetadataValue,
} from '../../src/engine/llama-cpp/gguf.js';
import { repoRoot } from '../support/helpers.js';

// The GGUF writer and the converter's pieces, checked against node-llama-cpp's own GGUF reader
// (JavaScript: no native build needed) and against the arithmetic they stand for.

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gguf-test-'));

describe('toHalf', () => {
  it('rounds to the nearest half, ties to even, through subnormals and overflow', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // halfway to the next binade rounds to infinity
    expect(toHalf(Infinity)).toBe(0x7c00);
    expect(toHalf(NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie: to the even mantissa
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: up to the even one
    expect(toHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalf(2 ** -25)).toBe(0x0000); // tie with zero: even
    expect(toHalf(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toHalf(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up out of the subnormals
    expect(toHalf(-0)).toBe(0x8000);
  });

  it('is the nearest half for random values (no half is closer)', () => {
    const rng = createRng(7);
    for (let i = 0; i < 2000; i++) {
      const x = Math.fround((rng.next() - 0.5) * 2 ** (rng.int(-20, 15) + 1));
      const h = toHalf(x);
      const err = Math.abs(fromHalf(h) - x);
      expect(Math.abs(fromHalf(h + 1) - x)).toBeGreaterThanOrEqual(err);
      if ((h & 0x7fff) > 0) expect(Math.abs(fromHalf(h - 1) - x)).toBeGreaterThanOrEqual(err);
    }
  });
});

describe('quantizeQ8_0', () => {
  it('stores per block of 32 an f16 scale max|x|/127 and int8 values within half a step', () => {
    const rng = createRng(3);
    const values = Float32Array.from({ length: 64 }, () => (rng.next() - 0.5) * 4);
    values[40] = 0;
    const q = quantizeQ8_0(values);
    expect(q.length).toBe(2 * 34);
    const view = new DataView(q.buffer);
    for (let b = 0; b < 2; b++) {
      const d = fromHalf(view.getUint16(b * 34, true));
      const block = values.subarray(b * 32, b * 32 + 32);
      expect(d).toBeCloseTo(Math.max(...block.map(Math.abs)) / 127, 3);
      for (let j = 0; j < 32; j++) {
        const back = view.getInt8(b * 34 + 2 + j) * d;
        expect(Math.abs(back - block[j]!)).toBeLessThanOrEqual(d * 0.5 + 1e-3);
      }
    }
    expect(new DataView(quantizeQ8_0(new Float32Array(32)).buffer).getUint16(0, true)).toBe(0); // all zero
  });
});

describe('writeGguf', () => {
  it('writes a file node-llama-cpp reads back: every metadata type, tensors aligned, values as encoded', async () => {
    const rng = createRng(11);
    const a = Float32Array.from({ length: 3 * 32 }, () => rng.next() - 0.5);
    const b = Float32Array.from({ length: 5 }, () => rng.next());
    const metadata = new Map<string, MetadataValue>([
      ['general.architecture', str('llama')],
      ['general.name', str('tëst ✓')],
      ['test.u32', u32(4_000_000_000)],
      ['test.f32', f32(0.25)],
      ['test.bool', bool(true)],
      ['test.strings', strings(['a', '', 'Ġb'])],
      ['test.ints', i32s([-1, 0, 7])],
    ]);
    const tensors: GgufTensor[] = [
      { name: 'a.q8', dims: [32, 3], type: 'Q8_0', data: () => a },
      { name: 'b.f32', dims: [5], type: 'F32', data: () => b },
      { name: 'a.f16', dims: [32, 3], type: 'F16', data: () => a },
    ];
    const file = path.join(tmp, 'types.gguf');
    await writeAtomically(file, (out) => writeGguf(out, metadata, tensors));
    const info = await readGgufFileInfo(file, { sourceType: 'filesystem', logWarnings: false });
    expect(info.version).toBe(3);
    const m = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(m.general!.name).toBe('tëst ✓');
    expect(m.test).toEqual({ u32: 4_000_000_000, f32: 0.25, bool: true, strings: ['a', '', 'Ġb'], ints: [-1, 0, 7] });
    expect(info.tensorInfo!.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType])).toEqual([
      ['a.q8', [32, 3], 8],
      ['b.f32', [5], 0],
      ['a.f16', [32, 3], 1],
    ]);
    const bytes = readFileSync(file);
    const at = (name: string) => Number(info.tensorInfo!.find((t) => t.name === name)!.fileOffset);
    for (const t of info.tensorInfo!) expect(Number(t.fileOffset) % 32).toBe(0);
    const f32Back = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + at('b.f32'), bytes.byteOffset + at('b.f32') + 20),
    );
    expect([...f32Back]).toEqual([...b]);
    const f16View = new DataView(bytes.buffer, bytes.byteOffset + at('a.f16'), a.length * 2);
    for (let i = 0; i < a.length; i++) expect(fromHalf(f16View.getUint16(i * 2, true))).toBeCloseTo(a[i]!, 3);
    expect(Buffer.from(bytes.subarray(at('a.q8'), at('a.q8') + 102))).toEqual(Buffer.from(quantizeQ8_0(a)));
  });

  it('refuses Q8_0 rows that are not whole blocks, and a tensor whose values do not fill its dimensions', async () => {
    const write = (t: GgufTensor) =>
      writeAtomically(path.join(tmp, 'bad.gguf'), (out) => writeGguf(out, new Map(), [t]));
    await expect(write({ name: 'x', dims: [31, 2], type: 'Q8_0', data: () => new Float32Array(62) })).rejects.toThrow(
      /x: Q8_0 needs rows of a multiple of 32 values, got 31/,
    );
    await expect(write({ name: 'y', dims: [4], type: 'F32', data: () => new Float32Array(3) })).rejects.toThrow(
      GgufError,
    );
    expect(existsSync(path.join(tmp, 'bad.gguf'))).toBe(false);
  });
});

describe('permuteRope', () => {
  // RoPE as Hugging Face applies it (dimension i pairs with i + d/2) and as llama.cpp does for
  // Llama (dimension 2i pairs with 2i + 1), both with frequency theta^(-2i/d).
  const rotate = (v: number[], pos: number, pair: (i: number, d: number) => [number, number]) => {
    const d = v.length;
    const out = [...v];
    for (let i = 0; i < d / 2; i++) {
      const [a, b] = pair(i, d);
      const angle = pos * 10000 ** (-(2 * i) / d);
      out[a] = v[a]! * Math.cos(angle) - v[b]! * Math.sin(angle);
      out[b] = v[b]! * Math.cos(angle) + v[a]! * Math.sin(angle);
    }
    return out;
  };
  const hf = (v: number[], pos: number) => rotate(v, pos, (i, d) => [i, i + d / 2]);
  const interleaved = (v: number[], pos: number) => rotate(v, pos, (i) => [2 * i, 2 * i + 1]);
  const project = (w: Float32Array, rows: number, cols: number, x: number[]) =>
    Array.from({ length: rows }, (_, r) => x.reduce((s, xc, c) => s + w[r * cols + c]! * xc, 0));
  const heads = (v: number[], d: number) => Array.from({ length: v.length / d }, (_, h) => v.slice(h * d, h * d + d));
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

  it('makes llama.cpp attention scores equal the Hugging Face ones (GQA: 4 query heads, 2 key heads)', () => {
    const rng = createRng(5);
    const d = 8;
    const cols = 6;
    const wq = Float32Array.from({ length: 4 * d * cols }, () => rng.next() - 0.5);
    const wk = Float32Array.from({ length: 2 * d * cols }, () => rng.next() - 0.5);
    const x1 = Array.from({ length: cols }, () => rng.next() - 0.5);
    const x2 = Array.from({ length: cols }, () => rng.next() - 0.5);
    const scores = (q: Float32Array, k: Float32Array, rope: typeof hf) => {
      const qh = heads(project(q, 4 * d, cols, x1), d).map((v) => rope(v, 7));
      const kh = heads(project(k, 2 * d, cols, x2), d).map((v) => rope(v, 3));
      return qh.map((v, h) => dot(v, kh[Math.floor(h / 2)]!));
    };
    const reference = scores(wq, wk, hf);
    const permuted = scores(permuteRope(wq, [4 * d, cols], 4), permuteRope(wk, [2 * d, cols], 2), interleaved);
    permuted.forEach((s, h) => expect(s).toBeCloseTo(reference[h]!, 10));
    // The negative control: unpermuted weights under llama.cpp's RoPE give other scores.
    const unpermuted = scores(wq, wk, interleaved);
    expect(Math.max(...unpermuted.map((s, h) => Math.abs(s - reference[h]!)))).toBeGreaterThan(1e-3);
  });
});

describe('byteEncode', () => {
  it("is GPT-2's byte-to-unicode alphabet", () => {
    expect(byteEncode(' ')).toBe('Ġ');
    expect(byteEncode('\n')).toBe('Ċ');
    expect(byteEncode('a+b=c')).toBe('a+b=c');
    expect(byteEncode('é')).toBe('Ã©');
  });
});

describe('convertToGguf refuses what it cannot convert, saying why', () => {
  const bundled = path.join(repoRoot, 'models/tiny-threadweaver');
  const folder = (name: string, edit: (files: Record<string, Record<string, unknown>>) => void) => {
    const dir = path.join(tmp, name);
    mkdirSync(dir, { recursive: true });
    const files: Record<string, Record<string, unknown>> = {};
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      files[f] = JSON.parse(readFileSync(path.join(bundled, f), 'utf8')) as Record<string, unknown>;
    edit(files);
    for (const [f, json] of Object.entries(files)) writeFileSync(path.join(dir, f), JSON.stringify(json));
    return dir;
  };

  it('a folder without model.safetensors (the bundled one ships ONNX only)', async () => {
    await expect(convertToGguf({ model: bundled, out: path.join(tmp, 'x.gguf') })).rejects.toThrow(
      /has no model\.safetensors: the converter reads the Hugging Face weights/,
    );
  });

  it('another architecture, RoPE scaling, a tokenizer with merges: one message per bad field', async () => {
    const stub = async (dir: string) => {
      // A header-only safetensors file: the config and tokenizer are checked before any weight is read.
      const header = Buffer.from('{}');
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(header.length));
      writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([len, header]));
      return convertToGguf({ model: dir, out: path.join(dir, 'out.gguf') });
    };
    const qwen = folder('qwen', (f) => {
      f['config.json']!.model_type = 'qwen2';
      f['config.json']!.rope_scaling = { type: 'linear', factor: 2 };
    });
    await expect(stub(qwen)).rejects.toThrow(/config\.json: model_type: must be "llama".*; rope_scaling: RoPE scaling/);
    const merged = folder('merges', (f) => {
      (f['tokenizer.json']!.model as Record<string, unknown>).merges = ['a b'];
    });
    await expect(stub(merged)).rejects.toThrow(/tokenizer\.json: model\.merges: merges do not convert/);
    const noTensors = folder('empty', () => undefined);
    await expect(stub(noTensors)).rejects.toThrow(/no tensor model\.embed_tokens\.weight/);
    expect(existsSync(path.join(noTensors, 'out.gguf'))).toBe(false);
  });

  it('a safetensors file that is not one', async () => {
    const dir = folder('garbage', () => undefined);
    copyFileSync(path.join(bundled, 'config.json'), path.join(dir, 'model.safetensors'));
    await expect(convertToGguf({ model: dir, out: path.join(dir, 'o.gguf') })).rejects.toThrow(
      /not a safetensors file/,
    );
  });
});
