/**
 * Token identity of the decoding benchmark's texts across a change: records, for each problem,
 * the greedy ids of A (sequential mode), B (the parallel trajectory in one pass) and C (the
 * orchestrated trajectory), as `npm run bench` decodes them; then compares two recordings token
 * for token. Record before a change (e.g. on an older checkout) and after it, then compare.
 *
 *   node dist/bench/token-identity.js record --out before.jsonl [--limit 100] [--model DIR] [--problems arith500.jsonl] [--cascade-min-prefix N]
 *   node dist/bench/token-identity.js compare before.jsonl after.jsonl [--json bench/results/token-identity.json]
 */
import { existsSync, readFileSync } from 'node:fs';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import { machineInfo } from './machine.js';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TransformersEngine } from '../src/engine/embedded/transformers.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { packageRoot } from '../src/internal/package-root.js';
import { solve } from '../src/solve/solve.js';

interface Recorded {
  id: string;
  problem: string;
  A: number[];
  B: number[];
  C: number[];
  /** The engine's graph file, so a comparison says what it compared. */
  graph: string;
}

const CONFIGS = ['A', 'B', 'C'] as const;

function problems(
  limit: number,
  file = path.resolve(packageRoot(), '../shared/benchmarks/arith500.jsonl'),
): { id: string; problem: string }[] {
  if (!existsSync(file)) throw new Error(`token-identity: ${file} not found (the benchmark's problems)`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, limit)
    .map((l) => JSON.parse(l) as { id: string; problem: string });
}

async function record(
  out: string,
  limit: number,
  model?: string,
  problemsFile?: string,
  cascadeMinPrefix?: number,
): Promise<void> {
  const engine = await TransformersEngine.load({
    ...(model ? { model } : {}),
    ...(cascadeMinPrefix !== undefined ? { cascadeMinPrefix } : {}),
  });
  const rows: string[] = [];
  const minPrefix = (engine as unknown as { cascadeMinPrefix: number }).cascadeMinPrefix;
  const graphs =
    engine.graphFile +
    (engine.cascadeFile ? `; sibling calls from ${minPrefix} tokens of prefix: ${engine.cascadeFile}` : '');
  for (const [i, p] of problems(limit, problemsFile).entries()) {
    // The benchmark's calls (greedy, max 1024 tokens), each on an empty cache as the benchmark runs them.
    engine.clearCache();
    const a = await solve(p.problem, { engine, mode: 'sequential', maxTokens: 1024 });
    engine.clearCache();
    const b = await engine.complete({ prompt: buildPrompt(engine.tokenizer, p.problem, 'parallel'), maxTokens: 1024 });
    engine.clearCache();
    const c = await solve(p.problem, { engine, mode: 'parallel', maxTokens: 1024 });
    const row: Recorded = {
      id: p.id,
      problem: p.problem,
      A: a.trajectory.ids,
      B: b.ids,
      C: c.trajectory.ids,
      graph: graphs,
    };
    rows.push(JSON.stringify(row));
    if ((i + 1) % 10 === 0) process.stderr.write(`  ${i + 1} problems\n`);
  }
  await writeFileAtomic(out, rows.join('\n') + '\n');
  console.log(`recorded ${rows.length} problems (${graphs}) to ${out}`);
}

function read(file: string): Map<string, Recorded> {
  return new Map(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Recorded)
      .map((r) => [r.id, r]),
  );
}

export function compareRecordings(before: Map<string, Recorded>, after: Map<string, Recorded>) {
  const counts = Object.fromEntries(CONFIGS.map((k) => [k, { same: 0, tokens: 0 }])) as Record<
    (typeof CONFIGS)[number],
    { same: number; tokens: number }
  >;
  const differ: { id: string; config: string; firstDifference: number }[] = [];
  let problemsCompared = 0;
  for (const [id, b] of before) {
    const a = after.get(id);
    if (!a) continue;
    problemsCompared++;
    for (const k of CONFIGS) {
      counts[k].tokens += b[k].length;
      const n = Math.max(a[k].length, b[k].length);
      let i = 0;
      while (i < n && a[k][i] === b[k][i]) i++;
      if (i === n) counts[k].same++;
      else differ.push({ id, config: k, firstDifference: i });
    }
  }
  const graphs = { before: [...before.values()][0]?.graph, after: [...after.values()][0]?.graph };
  return { problems: problemsCompared, graphs, identical: counts, differ };
}

async function main(command: string | undefined, rest: string[]): Promise<void> {
  if (command === 'record') {
    const { values } = parseArgs({
      args: rest,
      options: {
        out: { type: 'string' },
        limit: { type: 'string', default: '100' },
        model: { type: 'string' },
        problems: { type: 'string' },
        'cascade-min-prefix': { type: 'string' },
      },
    });
    if (!values.out) throw new Error('token-identity record: --out FILE is required');
    const minPrefix = values['cascade-min-prefix'];
    return record(
      values.out,
      Number(values.limit),
      values.model,
      values.problems,
      minPrefix === undefined ? undefined : Number(minPrefix),
    );
  }
  if (command === 'compare') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { json: { type: 'string' } },
    });
    const [beforeFile, afterFile] = positionals;
    if (!beforeFile || !afterFile) throw new Error('token-identity compare: two recordings are needed');
    const result = compareRecordings(read(beforeFile), read(afterFile));
    if (values.json)
      await writeFileAtomic(
        values.json,
        // Greedy tokens follow the CPU's arithmetic too: identity holds on the machine it was checked on.
        jsonText({
          date: new Date().toISOString(),
          machine: machineInfo(),
          before: beforeFile,
          after: afterFile,
          ...result,
        }),
      );
    for (const k of CONFIGS)
      console.log(
        `${k}: ${result.identical[k].same}/${result.problems} identical (${result.identical[k].tokens} tokens before)`,
      );
    if (result.differ.length > 0) {
      console.log('differences:', result.differ.slice(0, 20));
      process.exitCode = 1;
    }
    return;
  }
  console.error(
    'usage: token-identity record --out FILE [--limit N] [--model DIR] [--problems FILE] [--cascade-min-prefix N] | compare BEFORE AFTER [--json FILE]',
  );
  process.exitCode = 2;
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('bench', 'token-identity.js'))) {
  const [command, ...rest] = process.argv.slice(2);
  await main(command, rest);
}
