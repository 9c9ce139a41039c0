/**
 * node-llama-cpp, loaded on first use: it is an optional peer dependency (its native builds are
 * large), so nothing else in the package needs it installed. One llama.cpp runtime per process
 * and GPU choice, from a prebuilt binary only: never compiled from source at run time.
 */
import type * as NodeLlamaCppModule from 'node-llama-cpp';
import type { Llama, LlamaContext } from 'node-llama-cpp';
import { LlamaCppUnavailableError, type LlamaGpu } from './errors.js';

/** The release the engine is built and tested against. */
export const NODE_LLAMA_CPP_VERSION = '3.21.1';

type NodeLlamaCpp = typeof NodeLlamaCppModule;

let module: Promise<NodeLlamaCpp> | undefined;

/** The node-llama-cpp module, or a one-line error saying what to install. */
export function nodeLlamaCpp(): Promise<NodeLlamaCpp> {
  module ??= import('node-llama-cpp').catch((err: unknown) => {
    module = undefined;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new LlamaCppUnavailableError(
        `the llama-cpp engine needs node-llama-cpp: npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`,
        { cause: err },
      );
    }
    throw new LlamaCppUnavailableError(`node-llama-cpp failed to load: ${(err as Error).message}`, { cause: err });
  });
  return module;
}

const runtimes = new Map<string, Promise<Llama>>();

/** The llama.cpp runtime for a GPU choice, loaded once per process. */
export function llamaRuntime(gpu: LlamaGpu = 'auto'): Promise<Llama> {
  const key = String(gpu);
  let runtime = runtimes.get(key);
  if (!runtime) {
    runtime = nodeLlamaCpp().then(async ({ getLlama, LlamaLogLevel }) => {
      try {
        // `build: 'never'`: a missing prebuilt binary is an error here, not a download and a compile.
        return await getLlama({ gpu, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
      } catch (err) {
        throw new LlamaCppUnavailableError(
          `node-llama-cpp has no prebuilt llama.cpp for this machine (${process.platform}-${process.arch}` +
            `${gpu ? `, gpu ${gpu}` : ''}): ${(err as Error).message.split('\n')[0]} (docs/llama-cpp.md: building from source)`,
          { cause: err },
        );
      }
    });
    runtimes.set(key, runtime);
    runtime.catch(() => runtimes.delete(key));
  }
  return runtime;
}

/**
 * Make a context sample one row at a time. node-llama-cpp samples each sequence's token on a
 * worker thread, and llama.cpp puts a batch's outputs back in order lazily, on the first read of
 * the logits: two rows of one batch read at once race on that reordering, and a row can take
 * another row's logits (seen as tokens of near-zero probability in lockstep siblings). After one
 * read the outputs are in order, so a chain per context is enough; the sampling itself is a small
 * part of a step. Applies to node-llama-cpp 3.21.1's internals; a context without them gets a
 * warning, not a silent race.
 */
export function serializeSampling(context: LlamaContext): void {
  const native = (context as unknown as { _ctx?: { sampleToken?: (...args: unknown[]) => Promise<unknown> } })._ctx;
  const sample = native?.sampleToken;
  if (!native || typeof sample !== 'function') {
    process.emitWarning(
      "this node-llama-cpp's contexts have no sampleToken to serialize, so rows decoded together may take " +
        `each other's tokens (docs/llama-cpp.md: lockstep); the engine is tested with node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`,
      { code: 'THREADWEAVER_LLAMA_SAMPLING' },
    );
    return;
  }
  let chain: Promise<unknown> = Promise.resolve();
  // Defined on the object itself: the addon's method is a read-only property of its prototype.
  Object.defineProperty(native, 'sampleToken', {
    configurable: true,
    value: (...args: unknown[]) => {
      const next = chain.then(() => sample.apply(native, args));
      chain = next.catch(() => undefined);
      return next;
    },
  });
}
