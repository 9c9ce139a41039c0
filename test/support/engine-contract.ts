import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArithProblem, renderArith } from '../../eval/arith.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import { RoutedEngine } from '../../src/engine/remote/router.js';
import { cutResult, shareBudget } from '../../src/engine/siblings.js';
import type { CompletionRequest, CompletionResult, Engine } from '../../src/engine/types.js';
import { deriveSeed } from '../../src/internal/random.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { startServer, type RunningServer } from '../../src/server/serve/server.js';
import { EOS, ScriptedEngine } from './scripted-engine.js';
import { until } from './server-http.js';

// The Engine contract (src/engine/types.ts), one suite run against every engine, as hono runs
// one suite against every router. Each clause states a property the interface promises, on
// prompts of the bundled model's trained format (so that its tags, stops and EOS really occur);
// no clause pins what one engine writes: an engine is compared with itself (a batch with its
// single calls, a budget with the uncut call, a seed with the same seed).

/** An engine as the contract runs it. */
export interface ContractEngine {
  engine: Engine;
  /** Whether the seed changes what it samples (a scripted engine writes its script whatever the seed). */
  samples: boolean;
  /** The engine behind the server, when the engine under test is a client of one: to see a cancel reach it. */
  backend?: TappedEngine | undefined;
  close?: (() => Promise<void>) | undefined;
}

/** One line per engine: a name and how to make it. */
export interface EngineFactory {
  name: string;
  make: () => Promise<ContractEngine>;
}

/** Products: the model plans one thread per product. */
const PARALLEL_PROBLEM = 'Compute 37*24 + 18*53 - 29*11.';
/** Singles: no fork; the model ends its answer with EOS. */
const SINGLE_PROBLEMS = ['Compute 37*24.', 'Compute 86*53.'];
/** A long sequential chain (what an abort interrupts). */
const LONG_PROBLEM = 'Let f(x) = 3x^2 + 2x + 5. Compute f(4) + f(7) + f(9).';

/**
 * The engine behind a server, passed through, with a hook on every token it generates and the
 * results of its calls: a client's abort must reach it (its call ends by `abort`, early).
 */
export class TappedEngine implements Engine {
  onToken: (() => void) | undefined;
  readonly finished: CompletionResult[] = [];
  constructor(readonly inner: Engine) {}
  get name(): string {
    return this.inner.name;
  }
  get tokenizer(): Engine['tokenizer'] {
    return this.inner.tokenizer;
  }
  get contextLength(): number {
    return this.inner.contextLength;
  }
  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const r = await this.inner.complete({
      ...request,
      onDelta: (d) => {
        request.onDelta?.(d);
        this.onToken?.();
      },
    });
    this.finished.push(r);
    return r;
  }
  async completeSiblings(...[prefix, suffixes, request]: Parameters<Engine['completeSiblings']>) {
    const results = await this.inner.completeSiblings(prefix, suffixes, {
      ...request,
      onDelta: (i, d) => {
        request.onDelta?.(i, d);
        this.onToken?.();
      },
    });
    this.finished.push(...results);
    return results;
  }
  releaseCache(scope: string): void {
    this.inner.releaseCache?.(scope);
  }
}

/**
 * What the bundled model is trained to write, as a script: the reference trajectory of the
 * problem in the prompt (eval/arith.ts renders it), continued from wherever the context stands
 * in it; a thread prompt `<Thread>\nN:` continues from thread N. A context that is no arith
 * prompt gets an endless run of `x`.
 */
export function referenceScript(context: string): string {
  const problem = /<\|im_start\|>user\n([\s\S]*?)<\|im_end\|>/.exec(context)?.[1];
  const task = problem === undefined ? null : parseArithProblem(problem);
  const at = context.lastIndexOf('<|im_start|>assistant\n');
  if (!task || at < 0) return 'x'.repeat(5000);
  const sequential = context.slice(0, at).includes('Reason sequentially');
  const reference = `<think>\n${renderArith(task, sequential ? 'sequential' : 'parallel')}${EOS}`;
  const written = context.slice(at + '<|im_start|>assistant\n'.length);
  if (reference.startsWith(written)) return reference.slice(written.length);
  const thread = /<Thread>\n\d+:$/.exec(written)?.[0];
  const from = thread === undefined ? -1 : reference.indexOf(thread);
  return from < 0 ? 'x'.repeat(5000) : reference.slice(from + thread!.length);
}

/** The scripted engine writing the reference trajectories, with the bundled model's context length. */
export function scriptedReference(): ScriptedEngine {
  // The long chain is decoded at a token per millisecond, so that a cancel can catch it mid-call.
  return new ScriptedEngine(referenceScript, {
    contextLength: 1024,
    tokenDelayMs: (context) => (context.includes('f(x)') ? 1 : 0),
  });
}

/** `threadweaver serve` over `backend` on 127.0.0.1, `count` times. */
async function serve(backend: Engine, count: number): Promise<RunningServer[]> {
  return Promise.all(Array.from({ length: count }, () => startServer({ engine: backend, port: 0 })));
}

/** OpenAIEngine against `threadweaver serve` over the engine `backend()` makes. */
export function openaiOverServe(name: string, backend: () => Promise<Engine>, samples: boolean): EngineFactory {
  return {
    name: `openai → serve(${name})`,
    make: async () => {
      const tapped = new TappedEngine(await backend());
      const [server] = await serve(tapped, 1);
      const engine = await OpenAIEngine.connect({ baseUrl: server!.url, tokenizer: tapped.tokenizer });
      return { engine, samples, backend: tapped, close: () => server!.close() };
    },
  };
}

/** RoutedEngine over two `threadweaver serve` servers over the engine `backend()` makes. */
export function routedOverServe(name: string, backend: () => Promise<Engine>, samples: boolean): EngineFactory {
  return {
    name: `routed → 2 × serve(${name})`,
    make: async () => {
      const tapped = new TappedEngine(await backend());
      const servers = await serve(tapped, 2);
      const engine = await RoutedEngine.connect({ baseUrls: servers.map((s) => s.url), tokenizer: tapped.tokenizer });
      return {
        engine,
        samples,
        backend: tapped,
        close: async () => {
          await engine.close();
          await Promise.all(servers.map((s) => s.close()));
        },
      };
    },
  };
}

const view = (r: CompletionResult) => ({
  text: r.text,
  ids: r.ids,
  finishReason: r.finishReason,
  matchedStop: r.matchedStop ?? null,
});

/** The engine contract, run against each engine. */
export function engineContract(factories: readonly EngineFactory[]): void {
  for (const factory of factories) describe(`engine contract: ${factory.name}`, () => contractFor(factory));
}

function contractFor(factory: EngineFactory): void {
  let c: ContractEngine;
  let engine: Engine;
  /** Prompts as ids. */
  let parallel: number[];
  let singles: number[][];
  let long: number[];
  /** The uncut greedy calls on them, to compare the cut ones with. */
  let free: { parallel: CompletionResult; single: CompletionResult; long: CompletionResult };
  const encode = (text: string) => engine.tokenizer.encode(text);
  /** `n` tokens of one id: a prompt of a known length on any tokenizer. */
  const filler = (n: number) => new Array<number>(n).fill(encode('x')[0]!);

  beforeAll(async () => {
    c = await factory.make();
    engine = c.engine;
    const prompt = (problem: string, mode: 'parallel' | 'sequential') =>
      encode(buildPrompt(engine.tokenizer, problem, mode));
    parallel = prompt(PARALLEL_PROBLEM, 'parallel');
    singles = SINGLE_PROBLEMS.map((p) => prompt(p, 'parallel'));
    long = prompt(LONG_PROBLEM, 'sequential');
    const [p, s, l] = await Promise.all([parallel, singles[0]!, long].map((x) => greedy(x, 900)));
    free = { parallel: p!, single: s!, long: l! };
  });
  afterAll(async () => c?.close?.());

  const greedy = (prompt: string | readonly number[], maxTokens: number, extra: Partial<CompletionRequest> = {}) =>
    engine.complete({ prompt, maxTokens, ...extra });

  /** The text of the uncut call up to and with the first `stop`. */
  const upTo = (r: CompletionResult, stop: string) => r.text.slice(0, r.text.indexOf(stop) + stop.length);

  describe('complete()', () => {
    it('the uncut calls end with EOS: no EOS id in the ids, no EOS text in the text, no matched stop', () => {
      for (const r of [free.parallel, free.single, free.long]) {
        expect(r.finishReason).toBe('eos');
        expect(r.matchedStop).toBeUndefined();
        expect(r.ids.some((id) => engine.tokenizer.eosIds.includes(id))).toBe(false);
        for (const id of engine.tokenizer.eosIds) expect(r.text).not.toContain(engine.tokenizer.decode([id]));
        expect(engine.tokenizer.decode(r.ids)).toBe(r.text);
        expect(r.usage.completionTokens).toBe(r.ids.length);
      }
      expect(free.parallel.usage.promptTokens).toBe(parallel.length);
    });

    it('a one-token stop (a tag) ends the call where the uncut call writes it, kept at the end of text and ids', async () => {
      const r = await greedy(parallel, 900, { stop: ['</Outlines>'] });
      expect(r.finishReason).toBe('stop');
      expect(r.matchedStop).toBe('</Outlines>');
      expect(r.text).toBe(upTo(free.parallel, '</Outlines>'));
      expect(r.ids).toEqual(free.parallel.ids.slice(0, r.ids.length));
      expect(engine.tokenizer.decode(r.ids)).toBe(r.text);
      const id = engine.tokenizer.singleTokenId('</Outlines>');
      if (id !== undefined) expect(r.ids.at(-1)).toBe(id);
      expect(r.usage.completionTokens).toBe(r.ids.length);
    });

    it('a stop of several tokens ends the call at its first occurrence; of several stops the first written wins', async () => {
      const stop = '<Parallel>\n<Outlines>';
      const r = await greedy(parallel, 900, { stop: [stop] });
      expect(view(r)).toMatchObject({ finishReason: 'stop', matchedStop: stop, text: upTo(free.parallel, stop) });
      const both = await greedy(parallel, 900, { stop: ['</Outlines>', stop] });
      expect(view(both)).toEqual(view(r));
    });

    it('EOS is told apart from a stop: a stop never written leaves the end to EOS', async () => {
      const r = await greedy(singles[0]!, 900, { stop: ['</Outlines>'] });
      expect(view(r)).toEqual(view(free.single));
    });

    it('maxTokens cuts by length: exactly that many ids, the first ones of the uncut call; 0 gives none', async () => {
      const r = await greedy(parallel, 7);
      expect(r.finishReason).toBe('length');
      expect(r.ids).toEqual(free.parallel.ids.slice(0, 7));
      expect(r.text).toBe(engine.tokenizer.decode(r.ids));
      const none = await greedy(parallel, 0);
      expect(view(none)).toEqual({ text: '', ids: [], finishReason: 'length', matchedStop: null });
    });

    it('a text prompt and its ids are the same prompt', async () => {
      const r = await greedy(buildPrompt(engine.tokenizer, SINGLE_PROBLEMS[0]!, 'parallel'), 900);
      expect(view(r)).toEqual(view(free.single));
    });

    it('onDelta hands out the text as it is generated: the pieces join to the text', async () => {
      let streamed = '';
      const r = await greedy(parallel, 60, { onDelta: (d) => (streamed += d) });
      expect(streamed).toBe(r.text);
    });

    it('the context bounds a call: prompt + completion never exceed contextLength; a prompt that fills it is refused', async () => {
      const n = engine.contextLength;
      for (const room of [1, 3]) {
        const r = await greedy(filler(n - room), 50);
        expect(r.ids.length).toBeLessThanOrEqual(room);
        expect(r.usage.promptTokens + r.ids.length).toBeLessThanOrEqual(n);
        // Cut by the context unless the model ended first.
        expect(r.finishReason).toBe(r.ids.length === room ? 'length' : 'eos');
      }
      await expect(greedy(filler(n), 5)).rejects.toThrow(/context/i);
      await expect(greedy(filler(n + 20), 5)).rejects.toThrow(/context/i);
    });

    it('an empty prompt is refused', async () => {
      await expect(greedy([], 5)).rejects.toThrow(/empty/i);
    });
  });

  describe('completeSiblings()', () => {
    /** The parallel prompt through its plan, and the three thread headers. */
    let prefix: number[];
    let threads: number[][];
    beforeAll(async () => {
      const head = await greedy(parallel, 900, { stop: ['</Outlines>'] });
      prefix = [...parallel, ...head.ids];
      threads = ['1', '2', '3'].map((n) => encode(`\n<Thread>\n${n}:`));
    });
    /** The singles' shared prefix and their own suffixes. */
    const split = () => {
      let n = 0;
      while (singles.every((s) => s[n] === singles[0]![n])) n++;
      return { prefix: singles[0]!.slice(0, n), suffixes: singles.map((s) => s.slice(n)) };
    };

    it('sibling i is complete(prefix + suffixes[i]): each stops on its own, in order, its deltas its own', async () => {
      const stop = ['</Thread>'];
      const streamed = threads.map(() => '');
      const batch = await engine.completeSiblings(prefix, threads, {
        maxTokens: 200,
        stop,
        onDelta: (i, d) => (streamed[i] += d),
      });
      expect(batch).toHaveLength(threads.length);
      for (const [i, suffix] of threads.entries()) {
        const alone = await greedy([...prefix, ...suffix], 200, { stop });
        expect(view(batch[i]!), `thread ${i + 1}`).toEqual(view(alone));
        expect(batch[i]!.finishReason).toBe('stop');
        expect(batch[i]!.usage.promptTokens).toBe(prefix.length + suffix.length);
        expect(streamed[i]).toBe(batch[i]!.text);
      }
    });

    it('suffixes of other lengths, and empty ones (the prefix continued)', async () => {
      const { prefix: shared, suffixes } = split();
      const batch = await engine.completeSiblings(shared, suffixes, { maxTokens: 900 });
      for (const [i, s] of singles.entries()) expect(view(batch[i]!)).toEqual(view(await greedy(s, 900)));
      const same = await engine.completeSiblings(singles[0]!, [[], []], { maxTokens: 900 });
      expect(same.map(view)).toEqual([view(free.single), view(free.single)]);
      expect(await engine.completeSiblings(prefix, [], { maxTokens: 10 })).toEqual([]);
    });

    it('maxTotalTokens is one budget spent in lockstep: the uncut siblings cut by shareBudget; EOS costs nothing', async () => {
      const { prefix: shared, suffixes } = split();
      for (const [what, p, s, stop] of [
        ['threads (stops)', prefix, threads, ['</Thread>']],
        ['singles (EOS)', shared, suffixes, []],
      ] as const) {
        const uncut = await engine.completeSiblings(p, s, { maxTokens: 300, stop });
        const lengths = uncut.map((r) => r.ids.length);
        const sum = lengths.reduce((a, b) => a + b, 0);
        for (const total of [0, 1, s.length * Math.min(...lengths) + 1, sum - 1, sum, sum + 5]) {
          const streamed = s.map(() => '');
          const capped = await engine.completeSiblings(p, s, {
            maxTokens: 300,
            maxTotalTokens: total,
            stop,
            onDelta: (i, d) => (streamed[i] += d),
          });
          const expected = shareBudget(lengths, total).map((k, i) =>
            cutResult(uncut[i]!, k, (ids) => engine.tokenizer.decode(ids)),
          );
          expect(capped.map(view), `${what}, total ${total}`).toEqual(expected.map(view));
          expect(capped.reduce((n, r) => n + r.ids.length, 0)).toBeLessThanOrEqual(total);
          expect(streamed, `${what}, total ${total}`).toEqual(capped.map((r) => r.text));
        }
        // At exactly the sum every sibling still ends as it would uncut (by its stop or its EOS).
        const exact = await engine.completeSiblings(p, s, { maxTokens: 300, maxTotalTokens: sum, stop });
        expect(exact.map(view)).toEqual(uncut.map(view));
      }
    });

    it('seeds: sibling i samples with seeds[i], else with deriveSeed(seed, i), as complete() does with that seed', async () => {
      const { prefix: shared, suffixes } = split();
      const sampling = { maxTokens: 60, temperature: 2 };
      const seeds = [11, 2 ** 40];
      const own = await engine.completeSiblings(shared, suffixes, { ...sampling, seeds });
      const derived = await engine.completeSiblings(shared, suffixes, { ...sampling, seed: 5 });
      for (const [i, s] of singles.entries()) {
        expect(view(own[i]!)).toEqual(view(await engine.complete({ prompt: s, ...sampling, seed: seeds[i]! })));
        const seed = deriveSeed(5, i);
        expect(view(derived[i]!)).toEqual(view(await engine.complete({ prompt: s, ...sampling, seed })));
      }
      if (c.samples) {
        // One seed for the call still gives each sibling its own stream: with one stream for all,
        // four siblings would write the same text for certain. (That two samples at temperature 2
        // differ is not certain, and which tokens they take follows the CPU's arithmetic.)
        const rows = await engine.completeSiblings(singles[0]!, [[], [], [], []], { ...sampling, seed: 5 });
        expect(new Set(rows.map((r) => r.text)).size).toBeGreaterThan(1);
      }
    });

    it('a sibling that does not fit the context fails the call', async () => {
      const n = engine.contextLength;
      const x = filler(1);
      await expect(engine.completeSiblings(filler(n - 2), [x, [...x, ...x, ...x]], { maxTokens: 5 })).rejects.toThrow(
        /context/i,
      );
    });
  });

  describe('seeds', () => {
    it('a seed reproduces a sampled call; greedy (temperature 0, or below 1e-5) ignores the seed', async () => {
      // Long enough for the samples to part: the trained format is nearly certain for many tokens.
      const sampled = (seed: number) => engine.complete({ prompt: parallel, maxTokens: 150, temperature: 2, seed });
      expect(view(await sampled(7))).toEqual(view(await sampled(7)));
      const g = view(await greedy(parallel, 80));
      for (const extra of [{ seed: 1 }, { seed: 2, temperature: 0 }, { seed: 3, temperature: 1e-6 }])
        expect(view(await greedy(parallel, 80, extra))).toEqual(g);
      if (c.samples) {
        const texts = await Promise.all([1, 2, 3, 4].map(async (s) => (await sampled(s)).text));
        expect(new Set(texts).size).toBeGreaterThan(1);
        // All of a seed's bits select its stream: seeds that differ only above bit 32 would all
        // write one text if those bits were dropped (not all four alike, as above).
        const high = await Promise.all([0, 2 ** 32, 2 ** 33, 2 ** 34].map(async (s) => (await sampled(s)).text));
        expect(new Set(high).size).toBeGreaterThan(1);
      }
    });
  });

  describe('abort', () => {
    /** Abort at the `n`-th token generated (by the engine, or by the server's engine behind it). */
    const abortAt = (n: number, ac: AbortController) => {
      let seen = 0;
      const onToken = () => ++seen === n && ac.abort();
      if (c.backend) c.backend.onToken = onToken;
      return onToken;
    };
    const untap = () => {
      if (c.backend) c.backend.onToken = undefined;
    };

    it('an aborted signal: the call ends by abort with nothing generated, siblings alike', async () => {
      const signal = AbortSignal.abort();
      const r = await greedy(long, 900, { signal });
      expect(r).toMatchObject({ finishReason: 'abort', ids: [], text: '' });
      const rows = await engine.completeSiblings(long, [[], []], { maxTokens: 900, signal });
      expect(rows.map((x) => [x.finishReason, x.ids.length])).toEqual([
        ['abort', 0],
        ['abort', 0],
      ]);
    });

    it('an abort mid-call ends it by abort at once: at the next token, and on the server behind a client', async () => {
      const ac = new AbortController();
      const onToken = abortAt(5, ac);
      const before = c.backend?.finished.length ?? 0;
      const r = await greedy(long, 900, { signal: ac.signal, ...(c.backend ? {} : { onDelta: onToken }) }).finally(
        untap,
      );
      expect(r.finishReason).toBe('abort');
      expect(free.long.ids.slice(0, r.ids.length)).toEqual(r.ids);
      if (!c.backend) expect(r.ids).toHaveLength(5);
      else {
        // The cancel reached the server: its call ended by abort, long before its end.
        const backend = c.backend;
        await until('the server to end its call', () => backend.finished.length > before);
        const served = backend.finished[before]!;
        expect(served.finishReason).toBe('abort');
        expect(served.ids.length).toBeLessThan(free.long.ids.length / 2);
      }
    });

    it('an abort mid-call ends every sibling still running by abort', async () => {
      const ac = new AbortController();
      const onToken = abortAt(5, ac);
      const rows = await engine
        .completeSiblings(long, [[], []], {
          maxTokens: 900,
          signal: ac.signal,
          ...(c.backend ? {} : { onDelta: onToken }),
        })
        .finally(untap);
      expect(rows.map((x) => x.finishReason)).toEqual(['abort', 'abort']);
      expect(rows.reduce((n, x) => n + x.ids.length, 0)).toBeLessThanOrEqual(5);
    });
  });
}
