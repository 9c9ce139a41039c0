import type { KVCache } from './kv-cache.js';
import { range, type OnnxDecoder } from './onnx-decoder.js';

/**
 * Whether a decoder computes a sequence to the same bits in one call as in pieces: the condition
 * for a prefix cache to change speed and never tokens. The bundled graph quantizes activations
 * per token, so it holds there; an export that quantizes a whole call's activations with one
 * scale (onnxruntime's default dynamic int8) fails it, and the engine then keeps no cache.
 *
 * Checked on a fixed pseudo-random sequence: prefilled at once, in two uneven chunks, and with its
 * last token alone (how a cached prompt is resumed); logits and cache must match bit for bit.
 */
export async function isChunkInvariant(decoder: OnnxDecoder, length = 24): Promise<boolean> {
  let s = 0x2545f491;
  const ids = Array.from({ length }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % decoder.shape.vocab;
  });
  const run = async (from: number, to: number, past: KVCache) =>
    decoder.forward(
      { ids: [ids.slice(from, to)], positions: [range(from, to)], mask: [new Array<number>(to).fill(1)] },
      past,
    );

  const whole = await run(0, length, decoder.empty(1));
  const cut = Math.ceil((length * 2) / 3);
  const first = await run(0, cut, decoder.empty(1));
  const chunked = await run(cut, length, first.present);
  const head = await run(0, length - 1, decoder.empty(1));
  const last = await run(length - 1, length, head.present);
  return (
    sameBits(whole.lastLogits, chunked.lastLogits) &&
    sameBits(whole.lastLogits, last.lastLogits) &&
    whole.present.data.every((d, i) => sameBits(d, chunked.present.data[i]!) && sameBits(d, last.present.data[i]!))
  );
}

/** Same values to the bit (NaN payloads and signed zeros included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
