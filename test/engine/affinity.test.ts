import { afterEach, describe, expect, it } from 'vitest';
import { resultKey } from '../../eval/results.js';
import { sampleAffinityKey } from '../../src/batch/affinity.js';
import { engineFlagSchema, engineFromFlags } from '../../src/cli/engine-flags.js';
import { UsageError } from '../../src/cli/command.js';
import { affinityFields, affinityPolicy, DEFAULT_AFFINITY_POLICY } from '../../src/engine/remote/affinity.js';
import { OpenAIEngine, type OpenAIEngineOptions } from '../../src/engine/remote/openai.js';
import { RoutedEngine } from '../../src/engine/remote/router.js';
import { prefillLedger } from '../../src/orchestrator/ledger.js';
import { solve } from '../../src/solve/solve.js';
import { rules } from '../support/scripted-engine.js';
import { startScriptedServer, TWO_THREADS, type ScriptedServer } from '../support/scripted-http.js';
import type { StubRequest } from '../support/openai-stub-server.js';

// Affinity keys on the wire and the prefill ledger, against loopback servers that run a scripted
// model: one fork of two threads, then the continuation after the join.
const model = rules(...TWO_THREADS);

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function server(o: { cache?: boolean } = {}): Promise<ScriptedServer> {
  const s = await startScriptedServer(model, o);
  servers.push(s);
  return s;
}
function engineOn(s: ScriptedServer, o: Partial<OpenAIEngineOptions> = {}): Promise<OpenAIEngine> {
  return OpenAIEngine.connect({ baseUrl: s.url, tokenizer: s.engine.tokenizer, promptFormat: 'text', ...o });
}
const completions = (s: ScriptedServer): StubRequest[] => s.requests.filter((r) => r.path === '/v1/completions');
const isThread = (r: StubRequest) => /<Thread>\n\d+:$/.test(String(r.body.prompt));

describe('affinity keys on the wire', () => {
  it('every call of a problem carries its key: X-Session-ID, X-SMG-Routing-Key and user, threads and the continuation too', async () => {
    const s = await server();
    const r = await solve('Q', { engine: await engineOn(s), affinityKey: 'tw-problem-1' });
    expect(r.answer).toBe('23');
    const sent = completions(s);
    expect(sent.map((q) => (isThread(q) ? 'thread' : 'sequential'))).toEqual([
      'sequential',
      'thread',
      'thread',
      'sequential',
    ]);
    for (const q of sent) {
      expect(q.headers['x-session-id']).toBe('tw-problem-1');
      expect(q.headers['x-smg-routing-key']).toBe('tw-problem-1');
      expect(q.body.user).toBe('tw-problem-1');
      // No lineage header unless its router's session header is asked for.
      expect(q.headers['x-dynamo-parent-session-id']).toBeUndefined();
    }
  });

  it('without a key each solve makes its own: one per problem, different between problems', async () => {
    const s = await server();
    const engine = await engineOn(s);
    await solve('Q', { engine });
    await solve('Q', { engine });
    const keys = completions(s).map((q) => q.headers['x-session-id']);
    expect(keys).toHaveLength(8);
    expect(new Set(keys.slice(0, 4)).size).toBe(1);
    expect(new Set(keys.slice(4)).size).toBe(1);
    expect(keys[0]).not.toBe(keys[4]);
    expect(keys[0]).toMatch(/^tw-[0-9a-f]{32}$/);
  });

  it('--affinity-header adds headers; Dynamo gets its parent header on thread calls (the block forked from)', async () => {
    const s = await server();
    const policy = affinityPolicy({ headers: ['x-dynamo-session-id', 'X-Session-ID'] });
    await solve('Q', { engine: await engineOn(s, { affinity: policy }), affinityKey: 'k' });
    for (const q of completions(s)) {
      expect(q.headers['x-dynamo-session-id']).toBe('k');
      expect(q.headers['x-session-id']).toBe('k');
      expect(q.headers['x-dynamo-parent-session-id']).toBe(isThread(q) ? 'k.b0' : undefined);
    }
  });

  it('--affinity none sends no header and no user field', async () => {
    const s = await server();
    await solve('Q', { engine: await engineOn(s, { affinity: 'none' }), affinityKey: 'k' });
    for (const q of completions(s)) {
      expect(q.headers['x-session-id']).toBeUndefined();
      expect(q.headers['x-smg-routing-key']).toBeUndefined();
      expect(q.body).not.toHaveProperty('user');
    }
  });

  it('a RoutedEngine keeps a problem on one server and sends the key to it', async () => {
    const [a, b] = [await server(), await server()];
    const router = await RoutedEngine.connect({
      baseUrls: [a.url, b.url],
      tokenizer: a.engine.tokenizer,
      promptFormat: 'text',
    });
    await solve('Q', { engine: router, affinityKey: 'one' });
    await solve('Q', { engine: router, affinityKey: 'two' });
    for (const key of ['one', 'two']) {
      const on = [a, b].map((s) => completions(s).filter((q) => q.headers['x-session-id'] === key).length);
      expect(on.sort()).toEqual([0, 4]);
    }
    await router.close();
  });

  it('affinityFields: the headers and body of one call', () => {
    expect(affinityFields(DEFAULT_AFFINITY_POLICY, undefined)).toEqual({ headers: {}, body: {} });
    expect(affinityFields(affinityPolicy({ headers: ['x-session-id'] }), { key: 'k', block: 2 })).toEqual({
      headers: { 'X-Session-ID': 'k', 'X-SMG-Routing-Key': 'k' },
      body: { user: 'k' },
    });
  });
});

describe('affinity keys: options and flags', () => {
  it('solve() refuses a key that cannot travel in a header, naming the option', async () => {
    const s = await server();
    const engine = await engineOn(s);
    await expect(solve('Q', { engine, affinityKey: 'two words' })).rejects.toThrow(/option 'affinityKey' must be/);
    await expect(solve('Q', { engine, affinityKey: '' })).rejects.toThrow(/affinityKey/);
    await expect(solve('Q', { engine, affinityKey: 'x'.repeat(201) })).rejects.toThrow(/affinityKey/);
  });

  it('--affinity none with --affinity-header is a usage error; a header name must be a token', async () => {
    await expect(
      engineFromFlags({ baseUrl: ['http://127.0.0.1:9/v1'], affinity: 'none', affinityHeader: ['X-A'] }),
    ).rejects.toThrow(UsageError);
    expect(engineFlagSchema.safeParse({ affinityHeader: ['bad header'] }).success).toBe(false);
    expect(engineFlagSchema.safeParse({ affinityHeader: ['x-dynamo-session-id'] }).success).toBe(true);
    await expect(engineFromFlags({ affinity: 'none' })).rejects.toThrow(/--affinity only apply with --base-url/);
  });

  it("a batch sample's key: the same when resumed, different for another sample, mode, problem, sweep point or run", () => {
    const s = { dataset: 'arith', problemId: 'p1', sample: 0, mode: 'parallel' as const };
    const key = sampleAffinityKey('/runs/a', resultKey(s));
    expect(sampleAffinityKey('/runs/a', resultKey({ ...s }))).toBe(key);
    expect(key).toMatch(/^tw-[0-9a-f]{32}$/);
    const others = [
      sampleAffinityKey('/runs/a', resultKey({ ...s, sample: 1 })),
      sampleAffinityKey('/runs/a', resultKey({ ...s, mode: 'sequential' })),
      sampleAffinityKey('/runs/a', resultKey({ ...s, problemId: 'p2' })),
      sampleAffinityKey('/runs/a', resultKey({ ...s, budget: 512 })),
      sampleAffinityKey('/runs/b', resultKey(s)),
    ];
    expect(new Set([key, ...others]).size).toBe(6);
  });
});

describe('the prefill ledger', () => {
  it("records each call's prompt and cached tokens by phase, and what the join cost", async () => {
    const s = await server({ cache: true });
    const r = await solve('Q', { engine: await engineOn(s), affinityKey: 'k' });
    const calls = r.trajectory.calls;
    const ledger = r.metrics.prefill;
    expect(ledger.calls.map((c) => c.phase)).toEqual(['sequential', 'threadStarts', 'threadStarts', 'afterJoin']);
    // Each call keeps the server's counts as it reported them.
    ledger.calls.forEach((c, i) => {
      expect(c.promptTokens).toBe(calls[i]!.usage.promptTokens);
      expect(c.cachedPromptTokens).toBe(calls[i]!.usage.cachedPromptTokens);
    });
    expect(calls[0]!.usage.cachedPromptTokens).toBe(0);
    // The threads reuse the context before the block; the continuation reuses the first thread.
    const context = calls[1]!.prefixLength;
    for (const c of calls.slice(1, 3)) expect(c.usage.cachedPromptTokens).toBeGreaterThanOrEqual(context);
    expect(calls[3]!.usage.cachedPromptTokens).toBeGreaterThan(context);
    expect(ledger.phases.threadStarts).toEqual({
      calls: 2,
      promptTokens: calls[1]!.usage.promptTokens + calls[2]!.usage.promptTokens,
      cachedPromptTokens: calls[1]!.usage.cachedPromptTokens! + calls[2]!.usage.cachedPromptTokens!,
    });
    expect(ledger.joins).toEqual([
      { block: 0, promptTokens: calls[3]!.usage.promptTokens, cachedPromptTokens: calls[3]!.usage.cachedPromptTokens },
    ]);
  });

  it('a server that does not report cached tokens: null, never a guess', async () => {
    const s = await server();
    const r = await solve('Q', { engine: await engineOn(s) });
    for (const c of r.trajectory.calls) expect(c.usage.cachedPromptTokens).toBeNull();
    expect(r.metrics.prefill.phases.sequential.cachedPromptTokens).toBeNull();
    expect(r.metrics.prefill.phases.threadStarts.promptTokens).toBeGreaterThan(0);
    expect(r.metrics.prefill.joins[0]!.cachedPromptTokens).toBeNull();
  });

  it('phases from call order: a thread goes on after its nested block, the sequential call after the top block', () => {
    const usage = (p: number) => ({
      promptTokens: p,
      completionTokens: 1,
      cachedPromptTokens: p - 1,
      source: 'server' as const,
    });
    const call = (index: number, role: Parameters<typeof prefillLedger>[0]['calls'][number]['role'], p: number) => ({
      index,
      role,
      prefixLength: 0,
      suffixIds: [],
      completionIds: [],
      text: '',
      finishReason: 'stop' as const,
      usage: usage(p),
      startMs: 0,
      endMs: 0,
    });
    const ledger = prefillLedger({
      calls: [
        call(0, { kind: 'sequential' }, 10),
        call(1, { kind: 'thread', block: 0, thread: '1' }, 20),
        call(2, { kind: 'thread', block: 0, thread: '2' }, 20),
        call(3, { kind: 'thread', block: 1, thread: '1' }, 30),
        call(4, { kind: 'thread', block: 0, thread: '1' }, 40),
        call(5, { kind: 'sequential' }, 50),
        call(6, { kind: 'sequential' }, 60),
      ],
    });
    expect(ledger.calls.map((c) => c.phase)).toEqual([
      'sequential',
      'threadStarts',
      'threadStarts',
      'threadStarts',
      'afterJoin',
      'afterJoin',
      'sequential',
    ]);
    expect(ledger.joins).toEqual([{ block: 0, promptTokens: 50, cachedPromptTokens: 49 }]);
    expect(ledger.phases.afterJoin).toEqual({ calls: 2, promptTokens: 90, cachedPromptTokens: 88 });
    expect(ledger.phases.sequential).toEqual({ calls: 2, promptTokens: 70, cachedPromptTokens: 68 });
  });
});
