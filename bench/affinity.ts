/**
 * Affinity against round robin, side by side in one run: the same eval through HAProxy in front
 * of three `threadweaver serve` (the bundled model, embedded prefix cache), once with HAProxy
 * hashing on the sample's X-Session-ID and once round robin, each on fresh servers. The eval
 * grows a few problems at a time (a resumed run only solves the new ones), the configurations in
 * turn, the first alternating, so both see the same load. From the rows: the share of prompt
 * tokens the servers served from cache and what they prefilled per sample (the prefill ledger);
 * from the servers' request logs: whether each sample stayed on one server; wall clock.
 * Writes bench/results/affinity.json and re-renders bench/RESULTS.md. Needs haproxy.
 *
 *   npx tsc -p . && node dist/bench/affinity.js [--problems N] [--chunk M]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ResultRow } from '../eval/results.js';
import { PREFILL_PHASES } from '../src/orchestrator/ledger.js';
import { AFFINITY_RESULT, type AffinityFigures, type AffinityResult } from './affinity-report.js';
import { findHaproxy, requestLog, startFleet, type Balance, type Fleet } from './fleet.js';
import { benchRoot, machineDuring } from './side-by-side.js';

const CLI = path.join(benchRoot, 'dist/src/cli/main.js');
const BALANCES: readonly Balance[] = ['affinity', 'roundrobin'];
const SERVERS = 3;
const CONCURRENCY = 3;
const MAX_TOKENS = 512;
const PER_SERVER = 2;
const serveArgs = ['--max-concurrent', String(PER_SERVER)];

/** One configuration's fleet and what its eval runs add up to. */
interface Run {
  balance: Balance;
  fleet: Fleet;
  out: string;
  wallMs: number;
}

/** `threadweaver eval` on the first `limit` problems (a resume: only the new ones run); its wall time, ms. */
function evalOn(run: Run, limit: number): Promise<number> {
  const args = ['eval', '--dataset', 'arith', '--limit', String(limit), '--base-url', run.fleet.proxy.baseURL];
  args.push('--out', run.out, '--concurrency', String(CONCURRENCY), '--max-tokens', String(MAX_TOKENS));
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('exit', (code) =>
      code === 0
        ? resolve(performance.now() - t0)
        : reject(new Error(`eval (${run.balance}) exited ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}

function rowsOf(out: string): ResultRow[] {
  return readFileSync(path.join(out, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ResultRow);
}

function figures(rows: readonly ResultRow[], fleet: Fleet): AffinityFigures {
  const servedBy = new Map<string, Set<string>>();
  for (const s of fleet.servers)
    for (const r of requestLog(s.log))
      if (r.method === 'POST' && r.session) servedBy.set(r.session, (servedBy.get(r.session) ?? new Set()).add(s.name));
  let prompt = 0;
  let cached = 0;
  const byPhase = { sequential: 0, threadStarts: 0, afterJoin: 0 };
  for (const r of rows) {
    for (const phase of PREFILL_PHASES) {
      const p = r.prefill!.phases[phase];
      if (p.cachedPromptTokens === null) throw new Error(`${r.problemId}: the server did not report cached_tokens`);
      prompt += p.promptTokens;
      cached += p.cachedPromptTokens;
      byPhase[phase] += p.promptTokens - p.cachedPromptTokens;
    }
  }
  const n = rows.length;
  return {
    samples: n,
    promptTokens: prompt,
    cachedPromptTokens: cached,
    cachedShare: cached / prompt,
    prefilledPerSample: (prompt - cached) / n,
    prefilledPerSampleByPhase: {
      sequential: byPhase.sequential / n,
      threadStarts: byPhase.threadStarts / n,
      afterJoin: byPhase.afterJoin / n,
    },
    wallMsPerSample: rows.reduce((s, r) => s + r.wallMs, 0) / n,
    oneServer: rows.filter((r) => servedBy.get(r.affinityKey!)?.size === 1).length / n,
  };
}

const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();

export async function runAffinityBench(problems: number, chunk: number): Promise<AffinityResult> {
  const haproxy = findHaproxy();
  if (!haproxy) throw new Error('bench/affinity needs haproxy (apt-get install haproxy, or set HAPROXY_PATH)');
  const haproxyVersion = execFileSync(haproxy, ['-v'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  const uptimeBefore = uptime();
  const loadBefore = os.loadavg();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tw-bench-affinity-'));
  const fleets: Run[] = [];
  try {
    for (const balance of BALANCES) {
      const fleet = await startFleet({ cli: CLI, haproxy, dir, balance, servers: SERVERS, serveArgs });
      fleets.push({ balance, fleet, out: path.join(dir, balance), wallMs: 0 });
    }
    for (let step = 0, limit = 0; limit < problems; step++) {
      limit = Math.min(problems, limit + chunk);
      for (const f of step % 2 ? [...fleets].reverse() : fleets) {
        f.wallMs += await evalOn(f, limit);
        process.stderr.write(`  ${f.balance}: ${limit}/${problems} problems, ${(f.wallMs / 1000).toFixed(1)} s\n`);
      }
    }
    const rows = Object.fromEntries(fleets.map((f) => [f.balance, rowsOf(f.out)])) as Record<Balance, ResultRow[]>;
    const fleetOf = (b: Balance) => fleets.find((f) => f.balance === b)!;
    const mode = (m: 'parallel' | 'sequential') =>
      Object.fromEntries(
        BALANCES.map((b) => [
          b,
          figures(
            rows[b].filter((r) => r.mode === m),
            fleetOf(b).fleet,
          ),
        ]),
      ) as Record<Balance, AffinityFigures>;
    const textOf = new Map(rows.roundrobin.map((r) => [`${r.problemId}/${r.sample}/${r.mode}`, r.text]));
    const result: AffinityResult = {
      benchmark: 'affinity',
      date: new Date().toISOString(),
      machine: { ...machineDuring(loadBefore), haproxy: haproxyVersion, uptimeBefore, uptimeAfter: uptime() },
      config: {
        servers: SERVERS,
        dataset: 'arith (generated)',
        problems,
        chunk,
        concurrency: CONCURRENCY,
        maxTokens: MAX_TOKENS,
        maxConcurrentPerServer: PER_SERVER,
      },
      wallSeconds: { affinity: fleetOf('affinity').wallMs / 1000, roundrobin: fleetOf('roundrobin').wallMs / 1000 },
      modes: { parallel: mode('parallel'), sequential: mode('sequential') },
      identicalTexts: {
        same: rows.affinity.filter((r) => textOf.get(`${r.problemId}/${r.sample}/${r.mode}`) === r.text).length,
        of: rows.affinity.length,
      },
    };
    await mkdir(path.dirname(AFFINITY_RESULT), { recursive: true });
    await writeFile(AFFINITY_RESULT, JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    for (const f of fleets) await f.fleet.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const isMain =
  process.argv[1] && path.resolve(process.argv[1]).replace(/\.ts$/, '.js').endsWith(path.join('bench', 'affinity.js'));
if (isMain) {
  const { values } = parseArgs({
    options: { problems: { type: 'string', default: '30' }, chunk: { type: 'string', default: '5' } },
  });
  process.stderr.write('bench/affinity: HAProxy with affinity against round robin, three threadweaver serve\n');
  const r = await runAffinityBench(Math.max(1, Number(values.problems) || 30), Math.max(1, Number(values.chunk) || 5));
  const { affinityTable } = await import('./affinity-report.js');
  process.stderr.write(affinityTable(r) + '\n');
  const { renderStoredResults } = await import('./decoding.js');
  await renderStoredResults();
  process.exit(0);
}
