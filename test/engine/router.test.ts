import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { RetriesExhaustedError } from '../../src/engine/remote/retry.js';
import { RoutedEngine, type RoutedEngineOptions } from '../../src/engine/remote/router.js';
import { bindSession } from '../../src/engine/session.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from '../support/fault-proxy.js';
import { completionBody, startStubServer, type StubServer } from '../support/openai-stub-server.js';

// The router over loopback stub servers (each answers with its own name), some behind the fault proxy.
let tok: HFTokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(resolveModelSource());
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function named(name: string, delayMs = 0): Promise<StubServer> {
  const s = await startStubServer(() => ({ delayMs, json: completionBody({ text: name, finish_reason: 'length' }) }));
  cleanups.push(() => s.close());
  return s;
}

async function proxied(target: StubServer, options: Omit<FaultProxyOptions, 'target'> = {}): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: target.url, ...options });
  cleanups.push(() => p.close());
  return p;
}

async function route(baseUrls: string[], options: Partial<RoutedEngineOptions> = {}): Promise<RoutedEngine> {
  const r = await RoutedEngine.connect({
    baseUrls,
    tokenizer: tok,
    retry: { baseDelayMs: 10, maxDelayMs: 40 },
    probe: { firstDelayMs: 20, maxDelayMs: 80 },
    ...options,
  });
  cleanups.push(() => r.close());
  return r;
}

/** A loopback URL nothing listens on. */
async function closedPortUrl(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

const completions = (s: StubServer) => s.requests.filter((q) => q.path === '/v1/completions').length;
const ask = (e: { complete: RoutedEngine['complete'] }) => e.complete({ prompt: [5, 6], maxTokens: 3 });

/** Every call ended once; every attempt ended as one success or one failure; no call succeeded twice. */
function expectAccounted(router: RoutedEngine) {
  const c = router.counters;
  const servers = router.serverCounters();
  expect(c.calls).toBe(c.succeeded + c.failed + c.aborted);
  expect(servers.reduce((s, x) => s + x.successes, 0)).toBe(c.succeeded);
  expect(servers.reduce((s, x) => s + x.attempts, 0)).toBe(c.attempts);
  for (const s of servers) expect(s.attempts).toBe(s.successes + s.failures);
  for (const s of servers) expect(s.outstanding).toBe(0);
}

async function until(cond: () => boolean, ms = 3_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('RoutedEngine', () => {
  it('keeps a session on one server and spreads new sessions', async () => {
    const [a, b] = [await named('A'), await named('B')];
    const router = await route([a.url, b.url]);
    const x = router.session('problem x');
    const first = (await ask(x)).text;
    for (let i = 0; i < 3; i++) expect((await ask(x)).text).toBe(first);
    const y = router.session('problem y');
    expect((await ask(y)).text).not.toBe(first);
    expect((await ask(router.session('problem x'))).text).toBe(first); // same key, same binding
    expect(typeof bindSession(router, 'problem y').complete).toBe('function');
    // A problem's threads go to its server.
    const threads = await x.completeSiblings([5], [[6], [7], [8]], { maxTokens: 3 });
    expect(threads.map((t) => t.text)).toEqual([first, first, first]);
    expectAccounted(router);
    expect(router.counters).toMatchObject({ calls: 9, succeeded: 9, attempts: 9, retries: 0 });
  });

  it('binds a new problem to the server with the fewest outstanding requests', async () => {
    const [a, b] = [await named('A', 150), await named('B', 150)];
    const router = await route([a.url, b.url]);
    const x = router.session('x');
    const busy = [ask(x), ask(x), ask(x)];
    await until(() => router.serverCounters().some((s) => s.outstanding === 3));
    const onX = router.serverCounters().findIndex((s) => s.outstanding === 3);
    const [y, z] = [router.session('y'), router.session('z')];
    const results = await Promise.all([...busy, ask(y), ask(z)]);
    const other = onX === 0 ? 'B' : 'A';
    expect(results.slice(3).map((r) => r.text)).toEqual([other, other]);
    expectAccounted(router);
  });

  it('routes around a dead server (closed port) from the start and keeps probing it', async () => {
    const live = await named('live');
    const dead = await closedPortUrl();
    const router = await route([dead, live.url]);
    for (let i = 0; i < 6; i++) expect((await ask(router.session(`p${i}`))).text).toBe('live');
    await until(() => router.serverCounters()[0]!.probes >= 2);
    const [d, l] = router.serverCounters();
    expect(d).toMatchObject({ healthy: false, attempts: 0, restores: 0 });
    expect(l).toMatchObject({ healthy: true, attempts: 6, successes: 6 });
    expectAccounted(router);
  });

  it('fails a call over when its server dies, brings the server back after a probe, and loses no call', async () => {
    const [a, b] = [await named('A'), await named('B')];
    const [pa, pb] = [await proxied(a), await proxied(b)];
    const router = await route([pa.url, pb.url]);
    const x = router.session('x');
    expect((await ask(x)).text).toBe('A');
    pa.setDown(true);
    expect((await ask(x)).text).toBe('B'); // retried at once on the healthy server
    expect(router.counters).toMatchObject({
      calls: 2,
      succeeded: 2,
      attempts: 3,
      retries: 1,
      failovers: 1,
      rebinds: 1,
    });
    expect(router.serverCounters()[0]).toMatchObject({ healthy: false, ejections: 1, failures: 1 });
    await until(() => router.serverCounters()[0]!.probes >= 1);
    expect(router.serverCounters()[0]!.healthy).toBe(false);
    pa.setDown(false);
    await until(() => router.serverCounters()[0]!.healthy);
    expect(router.serverCounters()[0]!.restores).toBe(1);
    expect((await ask(x)).text).toBe('B'); // the session stays where it moved
    expect(completions(a)).toBe(1);
    expectAccounted(router);
  });

  it('injected 500s, drops and 429s: every call succeeds once, retries stay bounded', async () => {
    const [a, b] = [await named('A'), await named('B')];
    const pa = await proxied(a, { probabilities: { error: 0.2, drop: 0.1, 'rate-limit': 0.1 }, seed: 7 });
    const pb = await proxied(b, { probabilities: { error: 0.2 }, seed: 8 });
    const router = await route([pa.url, pb.url], { maxRetries: 8 });
    const n = 40;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => ask(router.session(`p${i % 8}`))));
    expect(results.every((r) => r.text === 'A' || r.text === 'B')).toBe(true);
    const c = router.counters;
    expect(c).toMatchObject({ calls: n, succeeded: n, failed: 0 });
    const injected =
      pa.counts.byFault.error + pa.counts.byFault.drop + pa.counts.byFault['rate-limit'] + pb.counts.byFault.error;
    expect(injected).toBeGreaterThan(0);
    // Each injected fault cost exactly one retry; the upstreams saw exactly the successful calls.
    expect(c.retries).toBe(injected);
    expect(c.attempts).toBe(n + injected);
    expect(completions(a) + completions(b)).toBe(n);
    expectAccounted(router);
  });

  it('a 5xx is retried on the same server; three in a row take it out and the call moves', async () => {
    const [a, b] = [await named('A'), await named('B')];
    const pa = await proxied(a, { schedule: ['pass', 'error', 'pass', 'error', 'error', 'error'] });
    const router = await route([pa.url, b.url]);
    const x = router.session('x');
    expect((await ask(x)).text).toBe('A');
    expect((await ask(x)).text).toBe('A'); // one 500, then A again
    expect(router.serverCounters()[0]).toMatchObject({ healthy: true, ejections: 0 });
    expect((await ask(x)).text).toBe('B'); // three 500s: A is out, the call fails over
    expect(router.serverCounters()[0]).toMatchObject({ ejections: 1, failures: 4, successes: 2 });
    expect(router.counters).toMatchObject({ calls: 3, succeeded: 3, attempts: 7, retries: 4, failovers: 1, waits: 3 });
    expectAccounted(router);
  });

  it('a 429 waits for Retry-After on the same server instead of taking it out', async () => {
    const [a, b] = [await named('A'), await named('B')];
    const pa = await proxied(a, { schedule: ['pass', 'rate-limit'], retryAfterSeconds: 0.2 });
    const router = await route([pa.url, b.url]);
    const x = router.session('x');
    expect((await ask(x)).text).toBe('A');
    const t0 = Date.now();
    expect((await ask(x)).text).toBe('A');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(router.serverCounters()[0]).toMatchObject({ healthy: true, ejections: 0, failures: 1 });
    expect(router.counters).toMatchObject({ retries: 1, failovers: 0 });
  });

  it('with every server down: waits for one to come back within the retry budget, else fails loudly', async () => {
    const a = await named('A');
    const pa = await proxied(a);
    const router = await route([pa.url], { maxRetries: 8, retry: { baseDelayMs: 40, maxDelayMs: 100 } });
    pa.setDown(true);
    setTimeout(() => pa.setDown(false), 150);
    expect((await ask(router)).text).toBe('A');
    expect(router.serverCounters()[0]!.restores).toBe(1);

    pa.setDown(true);
    const before = router.counters.attempts;
    const err = await ask(router).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as Error).message).toMatch(/completion over 1 server\(s\) failed after \d+ attempts?: /);
    expect(router.counters.failed).toBe(1);
    expect(router.counters.attempts - before).toBeLessThanOrEqual(1 + 8);
    expect(router.counters.waits).toBeGreaterThan(0);
    expectAccounted(router);
  });

  it('an abort while waiting for a server ends the call as abort', async () => {
    const dead = await closedPortUrl();
    const a = await named('A');
    const pa = await proxied(a);
    const router = await route([pa.url, dead], { retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    pa.setDown(true);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const r = await router.complete({ prompt: [5], maxTokens: 3, signal: ac.signal });
    expect(r.finishReason).toBe('abort');
    expect(Date.now() - t0).toBeLessThan(30_000); // did not sit out the minute's backoff
    expect(router.counters).toMatchObject({ calls: 1, aborted: 1 });
  });

  it('connect fails clearly when no server answers, and needs a model name when servers disagree', async () => {
    const dead = await closedPortUrl();
    await expect(route([dead])).rejects.toThrow(/no server answered GET \/models/);
    const m1 = await startStubServer(() => ({ text: '', finish_reason: 'length' }), { models: [{ id: 'one' }] });
    const m2 = await startStubServer(() => ({ text: '', finish_reason: 'length' }), { models: [{ id: 'two' }] });
    cleanups.push(
      () => m1.close(),
      () => m2.close(),
    );
    await expect(route([m1.url, m2.url])).rejects.toThrow(/different models \(one, two\)/);
    const ok = await route([m1.url, m2.url], { model: 'one' });
    expect(ok.name).toBe('routed:one[2]');
  });
});
