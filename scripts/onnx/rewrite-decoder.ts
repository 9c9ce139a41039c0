/**
 * The bundled decoder's full rewrite, from the exported `model_quantized.onnx` to the graph the
 * engine runs (`model_append_quantized.onnx`): grouped-query attention without repeated KV
 * (`rewrite-gqa.ts`), per-token activation quantization (`rewrite-token-quant.ts`), then a cache
 * kept outside the graph and only appended to (`rewrite-append-kv.ts`).
 *
 * Usage: node dist/scripts/onnx/rewrite-decoder.js <in.onnx> <out.onnx> [--config config.json]
 *        (default config: ../config.json beside the input's onnx/ folder)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rewriteArgs, rewriteGqa, type AttentionShape } from './rewrite-gqa.js';
import { rewriteAppendKv } from './rewrite-append-kv.js';
import { rewriteTokenQuant } from './rewrite-token-quant.js';

/**
 * The graph after the first two steps: the decoder-with-past contract (whole cache in and out),
 * computing exactly what the final graph computes. Kept for tests and for runtimes that need
 * that contract.
 */
export function rewriteDecoderWithPast(model: Uint8Array, shape: AttentionShape): Uint8Array {
  return rewriteTokenQuant(rewriteGqa(model, shape).model).model;
}

export function rewriteDecoder(model: Uint8Array, shape: AttentionShape): Uint8Array {
  return rewriteAppendKv(rewriteDecoderWithPast(model, shape), shape).model;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { input, output, shape } = rewriteArgs('rewrite-decoder');
  const model = rewriteDecoder(readFileSync(input), shape);
  writeFileSync(output, model);
  console.log(`${output}: ${model.length} bytes`);
}
