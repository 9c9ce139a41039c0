import { sameBits } from './chunk-invariance.js';
import { kvInput, selectRows } from './kv-cache.js';
import { range, type OnnxDecoder } from './onnx-decoder.js';

/**
 * Why a cascade graph (scripts/onnx/rewrite-cascade.ts: sibling rows attend to one stored copy of
 * their shared prefix) cannot be used beside `plain`, or undefined when it can. Two properties
 * the engine relies on, checked on a fixed pseudo-random sequence:
 *
 * - a row's logits and cache are the same bits alone and beside another row, after its header
 *   and after one more step (so rows leaving or joining a batch change nothing for the others);
 * - it computes what `plain` computes (same weights): a row's logits within 0.25 of one plain
 *   forward over prefix and row. They differ in low bits (the softmax is summed in two parts);
 *   a graph built from other weights is off by whole units.
 */
export async function cascadeFault(plain: OnnxDecoder, cascade: OnnxDecoder): Promise<string | undefined> {
  let s = 0x3c6ef372;
  const ids = Array.from({ length: 20 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % plain.shape.vocab;
  });
  const [prefix, a, b] = [ids.slice(0, 12), ids.slice(12, 16), ids.slice(16, 20)];
  const shared = (await plain.forward({ ids: [prefix], positions: [range(0, 12)], mask: [ones(12)] }, plain.empty(1)))
    .present;
  const rows = async (suffixes: number[][]) => {
    const header = await cascade.forward(
      { ids: suffixes, positions: suffixes.map(() => range(12, 16)), mask: suffixes.map(() => ones(4)) },
      cascade.empty(suffixes.length),
      shared,
    );
    const logits = [header.lastLogits];
    const step = await cascade.forward(
      { ids: suffixes.map((x) => [x[0]!]), positions: suffixes.map(() => [16]), mask: suffixes.map(() => ones(5)) },
      header.present,
      shared,
    );
    logits.push(step.lastLogits);
    return { logits, own: step.present };
  };
  const alone = await rows([a]);
  const pair = await rows([a, b]);
  const vocab = plain.shape.vocab;
  const first = selectRows(pair.own, [0]);
  const independent =
    alone.logits.every((l, i) => sameBits(l, pair.logits[i]!.subarray(0, vocab))) &&
    alone.own.data.every((_, i) => sameBits(kvInput(alone.own, i).data, kvInput(first, i).data));
  if (!independent) return 'a row gives different results beside another row';
  const reference = await plain.forward(
    { ids: [[...prefix, ...a]], positions: [range(0, 16)], mask: [ones(16)] },
    plain.empty(1),
  );
  const gap = Math.max(...alone.logits[0]!.map((x, i) => Math.abs(x - reference.lastLogits[i]!)));
  if (!(gap < 0.25)) return `its logits differ from the decoder's by ${gap.toFixed(3)} (another model's graph?)`;
  return undefined;
}

function ones(n: number): number[] {
  return new Array<number>(n).fill(1);
}
