import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestLog, startFleet, type Fleet, type ServeProcess } from '../../bench/fleet.js';
import { cliPath, completeLines, jsonlRows, runCli } from '../support/cli-process.js';
import { haproxyPath } from '../support/haproxy.js';

// docs/scale-out.md's recipe, run: HAProxy hashing on X-Session-ID (consistent hashing, health
// checks, retries) in front of three `threadweaver serve` on 127.0.0.1, and an eval through it.
// What each server's request log says is checked against the rows: one server per sample, all
// three used, and a server killed mid-run costs no row.

const PROBLEMS = 16;
const SAMPLES = PROBLEMS * 2; // both modes

describe.skipIf(!haproxyPath)('an eval through HAProxy in front of three threadweaver serve', () => {
  let dir: string;
  let fleet: Fleet | undefined;
  let servers: ServeProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tw-fleet-'));
    const o = { cli: cliPath, haproxy: haproxyPath!, dir, balance: 'affinity' as const, servers: 3 };
    fleet = await startFleet({ ...o, serveArgs: ['--max-concurrent', '2'] });
    servers = fleet.servers;
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps each sample on one server, spreads samples over all three, and loses no row when one is killed', async () => {
    const out = path.join(dir, 'run');
    const results = path.join(out, 'results.jsonl');
    const args = ['eval', '--dataset', 'arith', '--limit', String(PROBLEMS), '--base-url', fleet!.proxy.baseURL];
    args.push('--out', out, '--concurrency', '4', '--max-tokens', '256');

    /** The samples (keys) each server completed a call of so far. */
    const keysOn = (s: ServeProcess) =>
      new Set(
        requestLog(s.log)
          .filter((r) => r.method === 'POST' && r.status === '200' && r.session)
          .map((r) => r.session!),
      );
    // Once a third of the rows are stored and every server has served a sample, kill (SIGKILL,
    // a crash) the server that has served the most: its samples in flight must go elsewhere.
    let victim: ServeProcess | undefined;
    let killedAt = 0;
    const watch = setInterval(() => {
      if (victim || completeLines(results) < SAMPLES / 3) return;
      const counts = servers.map((s) => keysOn(s).size);
      if (counts.some((n) => n === 0) && completeLines(results) < (SAMPLES * 2) / 3) return;
      victim = servers[counts.indexOf(Math.max(...counts))]!;
      killedAt = Date.now();
      void victim.stop('SIGKILL');
    }, 50);
    const run = await runCli(args, { timeoutMs: 280_000 }).finally(() => clearInterval(watch));
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(victim, 'the run ended before a third of its rows were stored').toBeDefined();

    const rows = jsonlRows(results) as Array<{
      affinityKey: string;
      mode: string;
      prefill: { phases: Record<string, { calls: number; promptTokens: number; cachedPromptTokens: number | null }> };
    }>;
    expect(rows).toHaveLength(SAMPLES);
    expect(new Set(rows.map((r) => r.affinityKey)).size).toBe(SAMPLES);

    // Where each sample's calls went, from the servers' own logs.
    const logs = servers.map((s) => ({
      s,
      requests: requestLog(s.log).filter((r) => r.method === 'POST' && r.status === '200'),
    }));
    let split = 0;
    const first = new Set<string>();
    for (const row of rows) {
      const on = logs.map(({ s, requests }) => ({ s, calls: requests.filter((r) => r.session === row.affinityKey) }));
      const used = on.filter((x) => x.calls.length > 0);
      const calls = Object.values(row.prefill.phases).reduce((n, p) => n + p.calls, 0);
      expect(used.length, `${row.affinityKey}: no server logged its calls`).toBeGreaterThan(0);
      if (used.length === 1) {
        // One server: every call of the sample, exactly once.
        expect(used[0]!.calls.length, row.affinityKey).toBe(calls);
      } else {
        // In flight when the server died: what it had done, then the rest on one other server.
        split++;
        expect(used.map((x) => x.s)).toContain(victim);
        expect(used).toHaveLength(2);
        for (const c of on.find((x) => x.s === victim)!.calls) expect(c.ms).toBeLessThanOrEqual(killedAt);
      }
      first.add(used.sort((a, b) => a.calls[0]!.ms - b.calls[0]!.ms)[0]!.s.name);
      // The servers reported their prefix cache's hits (serve reports cached_tokens), never above the prompt.
      for (const p of Object.values(row.prefill.phases)) {
        expect(p.cachedPromptTokens).not.toBeNull();
        expect(p.cachedPromptTokens!).toBeLessThanOrEqual(p.promptTokens);
      }
    }
    expect(first, 'samples reached every server').toEqual(new Set(['s1', 's2', 's3']));
    // At most the samples in flight (--concurrency 4) straddle the kill.
    expect(split).toBeLessThanOrEqual(4);
    // After the kill, nothing reached the dead server; the survivors served the rest.
    const afterKill = logs
      .filter(({ s }) => s !== victim)
      .flatMap(({ requests }) => requests.filter((r) => r.ms > killedAt));
    expect(afterKill.length).toBeGreaterThan(0);
    // Thread starts reuse the block's context on the sample's server.
    const par = rows.filter((r) => r.mode === 'parallel');
    expect(par.reduce((n, r) => n + r.prefill.phases.threadStarts!.cachedPromptTokens!, 0)).toBeGreaterThan(0);

    // A rerun resumes: nothing solved again, no row twice.
    const rerun = await runCli(args, { timeoutMs: 120_000 });
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    expect(rerun.stdout + rerun.stderr).toContain(`0 samples run, ${SAMPLES} resumed`);
    const again = jsonlRows(results) as Array<{ affinityKey: string }>;
    expect(again).toHaveLength(SAMPLES);
    expect(new Set(again.map((r) => r.affinityKey)).size).toBe(SAMPLES);
  });
});
