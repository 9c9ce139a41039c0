/**
 * The bundled decoder's full rewrite, from the exported `model_quantized.onnx` to the graphs the
 * engine runs: `model_append_quantized.onnx` (grouped-query attention without repeated KV,
 * `rewrite-gqa.ts`; per-token activation quantization, `rewrite-token-quant.ts`; a cache kept
 * outside the graph and only appended to, `rewrite-append-kv.ts`; its shape arithmetic folded
 * into constants, `rewrite-static-shapes.ts`) and, from it before the folding,
 * `model_cascade_quantized.onnx` for sibling batches (`rewrite-cascade.ts`, then folded alike).
 *
 * Usage: node dist/scripts/onnx/rewrite-decoder.js <in.onnx> <out.onnx> [--cascade <out.onnx>] [--config config.json]
 *        (default config: ../config.json beside the input's onnx/ folder)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rewriteArgs, rewriteGqa, type AttentionShape } from './rewrite-gqa.js';
import { rewriteAppendKv } from './rewrite-append-kv.js';
import { rewriteCascade } from './rewrite-cascade.js';
import { rewriteStaticShapes } from './rewrite-static-shapes.js';
import { rewriteTokenQuant } from './rewrite-token-quant.js';

/**
 * The graph after the first two steps: the decoder-with-past contract (whole cache in and out),
 * computing exactly what the final graph computes. Kept for tests and for runtimes that need
 * that contract.
 */
export function rewriteDecoderWithPast(model: Uint8Array, shape: AttentionShape): Uint8Array {
  return rewriteTokenQuant(rewriteGqa(model, shape).model).model;
}

/** The appending graph before its shapes are folded: what `rewrite-cascade.ts` rewrites. */
export function rewriteAppendingDecoder(model: Uint8Array, shape: AttentionShape): Uint8Array {
  return rewriteAppendKv(rewriteDecoderWithPast(model, shape), shape).model;
}

export async function rewriteDecoder(model: Uint8Array, shape: AttentionShape): Promise<Uint8Array> {
  return (await rewriteStaticShapes(rewriteAppendingDecoder(model, shape))).model;
}

/** The sibling graph: the appending graph with cascade attention over a shared prefix, its shapes folded. */
export async function rewriteCascadeDecoder(model: Uint8Array, shape: AttentionShape): Promise<Uint8Array> {
  return (await rewriteStaticShapes(rewriteCascade(rewriteAppendingDecoder(model, shape), shape).model)).model;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf('--cascade');
  const cascadeOut = at >= 0 ? process.argv.splice(at, 2)[1] : undefined;
  const { input, output, shape } = rewriteArgs('rewrite-decoder');
  const model = await rewriteDecoder(readFileSync(input), shape);
  writeFileSync(output, model);
  console.log(`${output}: ${model.length} bytes`);
  if (cascadeOut) {
    const cascade = await rewriteCascadeDecoder(readFileSync(input), shape);
    writeFileSync(cascadeOut, cascade);
    console.log(`${cascadeOut}: ${cascade.length} bytes`);
  }
}
