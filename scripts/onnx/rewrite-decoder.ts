/**
 * The bundled decoder's full rewrite, from the exported `model_quantized.onnx` to the graph the
 * engine runs: grouped-query attention without repeated KV (`rewrite-gqa.ts`), then per-token
 * activation quantization (`rewrite-token-quant.ts`).
 *
 * Usage: node dist/scripts/onnx/rewrite-decoder.js <in.onnx> <out.onnx> [--config config.json]
 *        (default config: ../config.json beside the input's onnx/ folder)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rewriteArgs, rewriteGqa, type AttentionShape } from './rewrite-gqa.js';
import { rewriteTokenQuant } from './rewrite-token-quant.js';

export function rewriteDecoder(model: Uint8Array, shape: AttentionShape): Uint8Array {
  return rewriteTokenQuant(rewriteGqa(model, shape).model).model;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { input, output, shape } = rewriteArgs('rewrite-decoder');
  const model = rewriteDecoder(readFileSync(input), shape);
  writeFileSync(output, model);
  console.log(`${output}: ${model.length} bytes`);
}
