import { createServer as createNetServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { AuthenticationError, BadRequestError } from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateArith } from '../../eval/arith.js';
import solveCommand from '../../src/cli/commands/solve.js';
import { UsageError } from '../../src/cli/command.js';
import { engineFromFlags } from '../../src/cli/engine-flags.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import { RoutedEngine } from '../../src/engine/remote/router.js';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { extractAnswer } from '../../src/math/extract.js';
import { startServer } from '../../src/server/index.js';
import { solve } from '../../src/solve/solve.js';
import { solveStream } from '../../src/solve/stream.js';
import { type SolveResult } from '../../src/solve/types.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { startFaultProxy, type FaultProxyOptions } from '../support/fault-proxy.js';
import { hasSharedFile, readJsonl, sharedDir } from '../support/helpers.js';

// End to end over real loopback HTTP: `threadweaver serve`'s server on the bundled model, and
// solve() through OpenAIEngine against it, compared with solve() on the embedded engine itself.

interface Row {
  id: string;
  problem: string;
  answer: string;
}

const hasShared = hasSharedFile(
  'benchmarks/arith500.jsonl',
  'arith500 in the remote-engine tests (20 generated problems stand in)',
);
const generated: Row[] = generateArith(20, 2026).map((t, i) => ({
  id: `generated-${i}`,
  problem: t.problem,
  answer: String(t.answer),
}));
const rows: Row[] = hasShared
  ? readJsonl<Row>(path.join(sharedDir, 'benchmarks/arith500.jsonl')).slice(0, 20)
  : generated;

let embedded: TransformersEngine;
let server: Awaited<ReturnType<typeof startServer>>;
let remote: OpenAIEngine;
const reference = new Map<string, SolveResult>();
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  embedded = await embeddedEngine();
  server = await startServer({ engine: embedded, port: 0 });
  remote = await OpenAIEngine.connect({ baseUrl: server.url, timeoutMs: 60_000 });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await server?.close();
});

/** The embedded engine's greedy result for a problem (computed once). */
async function expected(problem: string): Promise<SolveResult> {
  let r = reference.get(problem);
  if (!r) {
    r = await solve(problem, { engine: embedded });
    reference.set(problem, r);
  }
  return r;
}

/** Same trajectory, byte for byte and id for id, as on the embedded engine. */
function expectSameTrajectory(remoteResult: SolveResult, local: SolveResult, label: string) {
  expect(remoteResult.answer, label).toBe(local.answer);
  expect(remoteResult.text, label).toBe(local.text);
  expect(remoteResult.trajectory.ids, label).toEqual(local.trajectory.ids);
  expect(
    remoteResult.trajectory.pieces.map((p) => [p.source, p.text]),
    label,
  ).toEqual(local.trajectory.pieces.map((p) => [p.source, p.text]));
  expect(
    remoteResult.trajectory.calls.map((c) => [c.role, c.finishReason, c.matchedStop, c.prefixLength]),
    label,
  ).toEqual(local.trajectory.calls.map((c) => [c.role, c.finishReason, c.matchedStop, c.prefixLength]));
  expect(remoteResult.finishReason, label).toBe(local.finishReason);
}

/** A fault proxy in front of the server, and an engine through it with quick retries. */
async function behindFaultProxy(faults: Omit<FaultProxyOptions, 'target'>, maxRetries: number) {
  const proxy = await startFaultProxy({ target: server.url, ...faults });
  cleanups.push(() => proxy.close());
  const faulty = await OpenAIEngine.connect({
    baseUrl: proxy.url,
    timeoutMs: 60_000,
    maxRetries,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  return { proxy, faulty };
}

async function closedPortUrl(): Promise<string> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

describe('OpenAIEngine against threadweaver serve on the bundled model', () => {
  it('20 arith problems: the same answers and the same trajectory bytes as the embedded engine (greedy)', async () => {
    let correct = 0;
    let forked = 0;
    let remoteMs = 0;
    let localMs = 0;
    for (const row of rows) {
      let t0 = Date.now();
      const local = await expected(row.problem);
      localMs += Date.now() - t0;
      t0 = Date.now();
      const r = await solve(row.problem, { engine: remote });
      remoteMs += Date.now() - t0;
      expectSameTrajectory(r, local, row.id);
      // Ids came from the server (what the model sampled), not from re-tokenizing.
      expect(
        r.trajectory.calls.every((c) => c.usage.source === 'server'),
        row.id,
      ).toBe(true);
      if (r.answer === row.answer) correct++;
      if (r.metrics.parallelBlocks > 0) forked++;
    }
    console.log(
      `[openai.e2e] ${correct}/${rows.length} correct, ${forked} forked; embedded ${localMs} ms, over HTTP ${remoteMs} ms`,
    );
    expect(correct).toBeGreaterThanOrEqual(rows.length - 2);
    expect(forked).toBeGreaterThan(0);
  });

  it('a budget or context limit that cuts a block: the same cut on every engine, nothing left unused, labelled by its cause', async () => {
    const router = await RoutedEngine.connect({ baseUrls: [server.url], timeoutMs: 60_000 });
    cleanups.push(() => router.close());
    const tok = embedded.tokenizer;
    let checked = 0;
    // The generated problems need nothing from ../shared, so every checkout cuts the same blocks.
    for (const row of generated.slice(0, 8)) {
      const free = await expected(row.problem);
      const t = free.trajectory;
      const threads = t.calls.filter((c) => c.role.kind === 'thread' && c.role.block === 0);
      if (threads.length < 2) continue;
      const before = t.calls.slice(0, t.calls.indexOf(threads[0]!)).reduce((s, c) => s + c.completionIds.length, 0);
      const threadTokens = threads.reduce((s, c) => s + c.completionIds.length, 0);
      const headers = threads.reduce(
        (s, c, i) =>
          s +
          tok.count(
            i === 0
              ? `\n<Thread>\n${(c.role as { thread: string }).thread}:`
              : `<Thread>\n${(c.role as { thread: string }).thread}:`,
          ),
        0,
      );
      const closing = threads.length * tok.count('\n</Thread>') + tok.count('\n</Parallel>');
      const limits = [
        { maxTokens: before + Math.floor(threadTokens * 0.7) },
        { contextLimit: threads[0]!.prefixLength + headers + closing + Math.floor(threadTokens * 0.6) },
      ];
      for (const limit of limits) {
        const label = `${row.id} ${JSON.stringify(limit)}`;
        const local = await solve(row.problem, { engine: embedded, ...limit });
        const generated = local.trajectory.calls.reduce((s, c) => s + c.completionIds.length, 0);
        if ('maxTokens' in limit) {
          expect(local.finishReason, label).toBe('budget');
          expect(generated, label).toBe(limit.maxTokens); // no budget left unused
        } else {
          expect(local.finishReason, label).toBe('context');
          // The room assumed every thread would need an inserted `\n</Thread>`; a thread that closed
          // itself leaves that reservation, and only that, unused.
          const used = local.trajectory.promptIds.length + local.trajectory.ids.length;
          const selfClosed = local.trajectory.calls.filter(
            (c) => c.role.kind === 'thread' && c.finishReason === 'stop',
          ).length;
          expect(used, label).toBeLessThanOrEqual(limit.contextLimit);
          expect(used, label).toBeGreaterThanOrEqual(limit.contextLimit - selfClosed * tok.count('\n</Thread>'));
        }
        expect(local.text.endsWith('\n</Thread>\n</Parallel>'), label).toBe(true);
        // A thread was cut while another used more than an even split would have given it.
        const cut = local.trajectory.calls.filter((c) => c.role.kind === 'thread');
        expect(
          cut.some((c) => c.finishReason === 'length'),
          label,
        ).toBe(true);
        expectSameTrajectory(await solve(row.problem, { engine: remote, ...limit }), local, `remote ${label}`);
        expectSameTrajectory(await solve(row.problem, { engine: router, ...limit }), local, `routed ${label}`);
      }
      if (++checked === 3) break;
    }
    expect(checked).toBe(3);
  });

  it('through the fault proxy (500s, drops, 429s): the same results, with retries counted and bounded', async () => {
    const { proxy, faulty } = await behindFaultProxy(
      {
        schedule: ['pass', 'error', 'drop', 'pass', 'rate-limit'],
        probabilities: { error: 0.1, drop: 0.05, 'rate-limit': 0.05 },
        seed: 3,
        retryAfterSeconds: 0,
      },
      6,
    );
    for (const row of rows.slice(0, 5)) {
      expectSameTrajectory(await solve(row.problem, { engine: faulty }), await expected(row.problem), row.id);
    }
    const injected = proxy.counts.matched - proxy.counts.byFault.pass;
    console.log(
      `[openai.e2e] fault proxy: ${proxy.counts.matched} requests, ${injected} faults injected (${JSON.stringify(proxy.counts.byFault)}), ${faulty.stats.retries} retries`,
    );
    expect(injected).toBeGreaterThanOrEqual(3);
    // Every injected fault cost exactly one retry; each successful request reached the server once.
    expect(faulty.stats.retries).toBe(injected);
    expect(faulty.stats.requests).toBe(faulty.stats.successes + injected);
    expect(proxy.counts.forwarded).toBe(faulty.stats.successes + 1); // + the model listing at connect
  });

  it('streamed and whole completions give the same trajectories; streams cut mid-way are retried from scratch, their text passed on once', async () => {
    const whole = await OpenAIEngine.connect({ baseUrl: server.url, timeoutMs: 60_000, stream: false });
    const streamedChunks = remote.stats.chunks;
    const streamedRequests = remote.stats.requests;
    for (const row of rows.slice(0, 4)) {
      const a = await solve(row.problem, { engine: remote });
      const b = await solve(row.problem, { engine: whole });
      expectSameTrajectory(a, b, row.id);
      expect(a.trajectory.calls.map((c) => c.completionIds)).toEqual(b.trajectory.calls.map((c) => c.completionIds));
    }
    const chunks = remote.stats.chunks - streamedChunks;
    const requests = remote.stats.requests - streamedRequests;
    console.log(
      `[openai.e2e] streamed: ${chunks} chunks over ${requests} requests (${(chunks / requests).toFixed(1)} per call); whole: ${whole.stats.chunks} over ${whole.stats.requests}`,
    );
    expect(chunks).toBeGreaterThan(5 * requests);
    expect(whole.stats.chunks).toBe(whole.stats.requests);

    // Every other completion is cut after a few of its chunks.
    const { proxy, faulty } = await behindFaultProxy({ probabilities: { cut: 0.5 }, seed: 5, cutAfterEvents: 4 }, 10);
    for (const row of rows.slice(0, 3)) {
      const sequential: string[] = [];
      const threads = new Map<string, string>();
      let result: SolveResult | undefined;
      for await (const e of solveStream(row.problem, { engine: faulty })) {
        if (e.type === 'phase' && e.phase === 'sequential') sequential.push('');
        else if (e.type === 'delta') sequential[sequential.length - 1] += e.text;
        else if (e.type === 'thread:delta') {
          const key = `${e.block}/${e.thread}`;
          threads.set(key, (threads.get(key) ?? '') + e.text);
        } else if (e.type === 'result') result = e.result;
      }
      expectSameTrajectory(result!, await expected(row.problem), row.id);
      // Each call's deltas join to exactly its text: nothing a cut stream sent was passed on twice.
      const calls = result!.trajectory.calls;
      expect(sequential, row.id).toEqual(calls.filter((c) => c.role.kind === 'sequential').map((c) => c.text));
      const byThread = new Map<string, string>();
      for (const c of calls)
        if (c.role.kind === 'thread') {
          const key = `${c.role.block}/${c.role.thread}`;
          byThread.set(key, (byThread.get(key) ?? '') + c.text);
        }
      expect(threads, row.id).toEqual(byThread);
    }
    console.log(
      `[openai.e2e] cut streams: ${proxy.counts.byFault.cut} of ${proxy.counts.matched} requests cut mid-stream, ${faulty.stats.retries} retries, ${faulty.stats.resumes} resumed`,
    );
    expect(proxy.counts.byFault.cut).toBeGreaterThanOrEqual(3);
    expect(faulty.stats.retries).toBe(proxy.counts.byFault.cut);
    // Greedy: every retry regenerated the shown text, so none had to continue from it.
    expect(faulty.stats.resumes).toBe(0);
  });

  it('a request held past the timeout is cut and retried once', async () => {
    const proxy = await startFaultProxy({ target: server.url, schedule: ['delay'], delayMs: 60_000 });
    cleanups.push(() => proxy.close());
    const engine = await OpenAIEngine.connect({
      baseUrl: proxy.url,
      timeoutMs: 1_000,
      retry: { baseDelayMs: 20, maxDelayMs: 200 },
    });
    const t0 = Date.now();
    const r = await engine.complete({ prompt: 'Compute 2*3.', maxTokens: 4 });
    expect(r.ids).toHaveLength(4);
    expect(Date.now() - t0).toBeLessThan(30_000); // did not wait for the held request (a minute)
    expect(engine.stats).toMatchObject({ requests: 2, successes: 1, retries: 1 });
    expect(engine.stats.failures.timeout).toBe(1);
    expect(proxy.counts.forwarded).toBe(2); // the listing and the retry; the held request never reached the server
  });

  it('a router over a dead server (closed port) and a flaky one: routed around, every call accounted for', async () => {
    const proxy = await startFaultProxy({ target: server.url, probabilities: { error: 0.1, drop: 0.1 }, seed: 11 });
    cleanups.push(() => proxy.close());
    const router = await RoutedEngine.connect({
      baseUrls: [await closedPortUrl(), proxy.url],
      timeoutMs: 60_000,
      maxRetries: 8,
      retry: { baseDelayMs: 20, maxDelayMs: 200 },
      probe: { firstDelayMs: 20, maxDelayMs: 200 },
    });
    cleanups.push(() => router.close());
    const sample = rows.slice(5, 9);
    const results = await Promise.all(sample.map((row) => solve(row.problem, { engine: router })));
    for (const [i, row] of sample.entries()) expectSameTrajectory(results[i]!, await expected(row.problem), row.id);
    const c = router.counters;
    const [dead, live] = router.serverCounters();
    const calls = results.reduce((s, r) => s + r.trajectory.calls.length, 0);
    console.log(
      `[openai.e2e] router: ${JSON.stringify(c)}; dead ${JSON.stringify(dead)}; live ${JSON.stringify(live)}`,
    );
    expect(c.calls).toBe(calls);
    expect(c.succeeded).toBe(calls);
    expect(c.failed + c.aborted).toBe(0);
    expect(dead).toMatchObject({ healthy: false, attempts: 0, successes: 0 });
    expect(dead!.probes).toBeGreaterThan(0);
    expect(live!.successes).toBe(calls);
    expect(live!.attempts).toBe(live!.successes + live!.failures);
    expect(c.attempts).toBe(calls + c.retries);
    expect(c.retries).toBe(proxy.counts.byFault.error + proxy.counts.byFault.drop);
  });

  it("the server's own errors surface as the openai client's classes: a too-long prompt (400), a wrong key (401)", async () => {
    const tooLong = new Array<number>(remote.contextLength + 10).fill(remote.tokenizer.encode('a')[0]!);
    const err = await remote.complete({ prompt: tooLong, maxTokens: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as Error).message).toMatch(/context|length|tokens/i);
    console.log(`[openai.e2e] too-long prompt: ${(err as Error).message}`);

    const locked = await startServer({ engine: embedded, port: 0, apiKey: 'right-key' });
    cleanups.push(() => locked.close());
    const denied = await OpenAIEngine.connect({ baseUrl: locked.url, apiKey: 'wrong-key' }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AuthenticationError);
    const allowed = await OpenAIEngine.connect({ baseUrl: locked.url, apiKey: 'right-key' });
    expect((await allowed.complete({ prompt: 'Compute 2*3.', maxTokens: 3 })).ids).toHaveLength(3);
  });

  it('instructed prompt style on a model never taught it: well-formed results, no crash, same prompt as embedded', async () => {
    const problem = rows[0]!.problem;
    for (const mode of ['parallel', 'sequential'] as const) {
      const r = await solve(problem, { engine: remote, mode, promptStyle: 'instructed' });
      const local = await solve(problem, { engine: embedded, mode, promptStyle: 'instructed' });
      // Same prompt bytes and ids. The text itself is not compared: on a prompt it was never trained
      // on the model's greedy choices are near ties, and the server's shared prefix cache (reused
      // across requests, as vLLM's is) shifts logits by float rounding enough to flip them.
      expect(r.trajectory.prompt).toBe(local.trajectory.prompt);
      expect(r.trajectory.promptIds).toEqual(local.trajectory.promptIds);
      expect(r.trajectory.prompt).toContain(
        mode === 'parallel' ? '<Outline>1: Compute 12*3.</Outline>' : 'Reason in one chain',
      );
      expect(['done', 'budget', 'context', 'thread-eos', 'transitions']).toContain(r.finishReason);
      expect(r.text).toBe(r.trajectory.pieces.map((p) => p.text).join(''));
      expect(r.answer).toBe(extractAnswer(r.text));
      expect(r.formatValid).toBe(r.violations.length === 0);
      // T counts every token of the trajectory once, and its EOS.
      expect(r.trajectory.ids.length).toBeGreaterThan(0);
      expect(r.metrics.totalTokens).toBe(r.trajectory.ids.length + (r.trajectory.eos ? 1 : 0));
      console.log(
        `[openai.e2e] instructed ${mode}: ${r.finishReason}, ${r.trajectory.calls.length} call(s), answer ${r.answer}, ${r.violations.length} violation(s)`,
      );
    }
  });

  it('threadweaver solve --base-url works end to end; engine flags of the wrong kind are refused', async () => {
    const row = rows[1]!;
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      expect(await solveCommand.run(['--base-url', server.url, '--json', row.problem])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const json = JSON.parse(out.join('')) as { answer: string; text: string };
    const local = await expected(row.problem);
    expect(json.answer).toBe(local.answer);
    expect(json.text).toBe(local.text);

    await expect(engineFromFlags({ baseUrl: [server.url], model: 'x' })).rejects.toThrow(UsageError);
    await expect(engineFromFlags({ servedModel: 'x' })).rejects.toThrow(/only apply with --base-url/);
    const routed = await engineFromFlags({ baseUrl: [server.url, server.url] });
    expect(routed).toBeInstanceOf(RoutedEngine);
    await routed.close?.();
  });
});
