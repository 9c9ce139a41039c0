import { describe, expect, it, vi } from 'vitest';
import type { LlamaContext } from 'node-llama-cpp';
import { serializeSampling } from '../../src/engine/llama-cpp/native.js';

// serializeSampling on stand-ins for node-llama-cpp's native context (the real one is exercised by
// llama-cpp.real.test.ts): calls run one at a time and in order, results and errors pass through.
describe('serializeSampling', () => {
  const nativeContext = () => {
    let running = 0;
    let most = 0;
    const order: number[] = [];
    class Addon {
      sampleToken(index: number): Promise<number> {
        running++;
        most = Math.max(most, running);
        return new Promise((resolve, reject) =>
          setTimeout(
            () => {
              running--;
              order.push(index);
              if (index < 0) reject(new Error(`bad index ${index}`));
              else resolve(index * 10);
            },
            5 + 5 * Math.max(0, index),
          ),
        );
      }
    }
    // The addon's method is a read-only property of its prototype, as node-llama-cpp's is.
    Object.defineProperty(Addon.prototype, 'sampleToken', { writable: false });
    const native = new Addon();
    return { context: { _ctx: native } as unknown as LlamaContext, native, stats: () => ({ most, order }) };
  };

  it('runs one sample at a time, in call order, passing results and errors through', async () => {
    const { context, native, stats } = nativeContext();
    serializeSampling(context);
    const calls = [native.sampleToken(3), native.sampleToken(-1), native.sampleToken(1), native.sampleToken(0)];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      30,
      'bad index -1',
      10,
      0,
    ]);
    expect(stats()).toEqual({ most: 1, order: [3, -1, 1, 0] });
  });

  it('unserialized, the same calls overlap and finish out of order (the stand-in can tell)', async () => {
    const { native, stats } = nativeContext();
    await Promise.allSettled([native.sampleToken(3), native.sampleToken(1), native.sampleToken(0)]);
    expect(stats().most).toBe(3);
    expect(stats().order).toEqual([0, 1, 3]);
  });

  it('warns, naming the tested release, when the context has no sampleToken to wrap', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      serializeSampling({} as LlamaContext);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/may take each other's tokens .* node-llama-cpp@3\.21\.1/);
      expect(warn.mock.calls[0]![1]).toEqual({ code: 'THREADWEAVER_LLAMA_SAMPLING' });
    } finally {
      warn.mockRestore();
    }
  });
});
