/**
 * Before/after of the appending KV cache, side by side in one process. "Before" is the bundled
 * decoder up to its per-token quantization step (`rewriteDecoderWithPast`: the decoder-with-past
 * contract, whole cache in and out every step); "after" is the shipped graph
 * (`model_append_quantized.onnx`), which computes the same logits bit for bit. Both run through
 * the embedded engine, so JavaScript-side costs count. Measured, interleaved:
 *
 *   1. per-step cost of 1–4 rows at 10, 200 and 400 tokens of context (each engine's own decoder);
 *   2. single-stream decoding (400 tokens);
 *   3. B (the parallel trajectory in one pass) and C (orchestrated) on the benchmark problems,
 *      with the texts of both graphs compared token for token.
 *
 *   node --expose-gc dist/bench/kv-append.js [--limit 100] [--rounds 7]   → bench/results/kv-append.json
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rewriteDecoderWithPast } from '../scripts/onnx/rewrite-decoder.js';
import { bundledModelDir } from '../src/engine/model-source.js';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import { packageRoot } from '../src/internal/package-root.js';
import { measureBeforeAfter, modelFolderWith, printStepCost } from './before-after.js';
import { singleStreamSideBySide } from './side-by-side.js';

const root = packageRoot();

/** A model folder whose only graph is the decoder-with-past stage of the bundled rewrite. */
function beforeModel(): { dir: string; cleanup: () => void } {
  const src = bundledModelDir();
  const config = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, number>;
  const shape = { heads: config.num_attention_heads!, kvHeads: config.num_key_value_heads!, headDim: config.head_dim! };
  return modelFolderWith({
    'onnx/model_quantized.onnx': rewriteDecoderWithPast(
      readFileSync(path.join(src, 'onnx/model_quantized.onnx')),
      shape,
    ),
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { limit: { type: 'string', default: '100' }, rounds: { type: 'string', default: '7' } },
  });
  const result = await measureBeforeAfter({
    benchmark: 'kv-append',
    before: beforeModel(),
    beforeIs: 'rewriteDecoderWithPast',
    limit: Number(values.limit),
    rounds: Number(values.rounds),
    stream: (engines) => singleStreamSideBySide(engines, 5),
  });
  await writeFileAtomic(path.join(root, 'bench/results/kv-append.json'), jsonText(result));
  printStepCost(result.stepCostRelativeToOne);
  const { singleStream: stream, problems } = result;
  console.log(
    `single stream: ${stream.tokensPerSecond.before} → ${stream.tokensPerSecond.after} tokens/s (${stream.ratio}×)`,
  );
  console.log(
    `≥3 threads: B/C ${problems.threePlusThreads.wallBC.before} → ${problems.threePlusThreads.wallBC.after}; identical texts B ${problems.identicalTexts.B}/${problems.identicalTexts.of}, C ${problems.identicalTexts.C}/${problems.identicalTexts.of}`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('bench', 'kv-append.js'))) await main();
