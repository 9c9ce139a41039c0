/**
 * Before/after of folding the decoder graphs' shape arithmetic into constants
 * (scripts/onnx/rewrite-static-shapes.ts), side by side in one process. "Before" is a model
 * folder with the appending and cascade graphs as the tools made them without the folding;
 * "after" is the bundled folder. Both run through the embedded engine and compute the same bits.
 * Measured, interleaved:
 *
 *   1. per-step cost of 1–4 rows at 10, 200 and 400 tokens of context;
 *   2. single-stream decoding (400 tokens), interleaved, then transformers.js `generate()` on the
 *      exported graph in the same process (the lead over it, before and after);
 *   3. B (one pass) and C (orchestrated) on the benchmark problems, texts compared token for token.
 *
 *   node --expose-gc dist/bench/static-shapes.js [--limit 100] [--rounds 7]   → bench/results/static-shapes.json
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rewriteAppendingDecoder } from '../scripts/onnx/rewrite-decoder.js';
import { rewriteCascade } from '../scripts/onnx/rewrite-cascade.js';
import { type TransformersEngine } from '../src/engine/embedded/transformers.js';
import { bundledModelDir } from '../src/engine/model-source.js';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import { measureBeforeAfter, modelFolderWith, printStepCost } from './before-after.js';
import { singleStream } from './decoding.js';
import { STATIC_SHAPES_RESULT } from './static-shapes-report.js';
import { round3, singleStreamSideBySide, type Which } from './side-by-side.js';

/** The bundled folder with the graphs as they were before the folding. */
function beforeModel(): { dir: string; cleanup: () => void } {
  const src = bundledModelDir();
  const config = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, number>;
  const shape = { heads: config.num_attention_heads!, kvHeads: config.num_key_value_heads!, headDim: config.head_dim! };
  const appending = rewriteAppendingDecoder(readFileSync(path.join(src, 'onnx/model_quantized.onnx')), shape);
  return modelFolderWith({
    'onnx/model_quantized.onnx': readFileSync(path.join(src, 'onnx/model_quantized.onnx')),
    'onnx/model_append_quantized.onnx': appending,
    'onnx/model_cascade_quantized.onnx': rewriteCascade(appending, shape).model,
  });
}

/**
 * Single-stream tokens/s of both engines (interleaved, bench/side-by-side.ts), then transformers.js
 * `generate()` on the exported graph in the same process (decoding.ts's comparison, beside the
 * engine after): the lead over it before and after. generate() loads its own model each round, so
 * it is measured apart from the interleaved pair, whose timings it would disturb.
 */
async function lead(engines: Record<Which, TransformersEngine>, rounds: number) {
  const ours = await singleStreamSideBySide(engines, rounds);
  const beside = await singleStream(engines.after, 'q8', rounds);
  const g = beside.tokensPerSecond.generate;
  return {
    tokensPerSecond: { ...ours.tokensPerSecond, generate: round3(g) },
    overGenerate: { before: round3(ours.tokensPerSecond.before / g), after: round3(ours.tokensPerSecond.after / g) },
    afterOverBefore: ours.ratio,
    /** Our loop beside generate() (after), for comparison with the interleaved pair. */
    afterBesideGenerate: round3(beside.tokensPerSecond.ours),
    rounds,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { limit: { type: 'string', default: '100' }, rounds: { type: 'string', default: '7' } },
  });
  const result = await measureBeforeAfter({
    benchmark: 'static-shapes',
    before: beforeModel(),
    beforeIs: 'rewrite-decoder without rewrite-static-shapes',
    limit: Number(values.limit),
    rounds: Number(values.rounds),
    stream: (engines) => lead(engines, 5),
  });
  await writeFileAtomic(STATIC_SHAPES_RESULT, jsonText(result));
  printStepCost(result.stepCostRelativeToOne);
  const { singleStream: stream, problems } = result;
  const t = stream.tokensPerSecond;
  console.log(
    `single stream: ${t.before} → ${t.after} tokens/s (${stream.afterOverBefore}×); generate() ${t.generate}: lead ${stream.overGenerate.before}× → ${stream.overGenerate.after}×`,
  );
  console.log(
    `identical texts B ${problems.identicalTexts.B}/${problems.identicalTexts.of}, C ${problems.identicalTexts.C}/${problems.identicalTexts.of}; ` +
      `B ${problems.all.speedupAfterOverBefore.B}×, C ${problems.all.speedupAfterOverBefore.C}× faster; load average ${result.machine.loadAverageBefore[0]} → ${result.machine.loadAverageAfter[0]}`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('bench', 'static-shapes.js'))) await main();
