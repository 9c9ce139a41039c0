/**
 * Prompt-level forks on the bundled model: latency of a decomposed prompt (its inputs answered as
 * one sibling batch) against the same inputs answered one after another, side by side, and the
 * whole prompt put to the model as one task. Prompts "Compute each of: a; b; c." with 2–4
 * products (the example prompt first), split by the rule-based extractor. Configurations run
 * in turn per prompt and round, the first one rotating; medians and ratios are reported.
 * Writes bench/results/decompose.json and re-renders bench/RESULTS.md.
 *
 *   npx tsc -p . && node dist/bench/decompose.js [--rounds N]
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { extractByRules } from '../src/decompose/rules.js';
import { partPrompts } from '../src/decompose/schema.js';
import type { Engine } from '../src/engine/types.js';
import { extractAnswer } from '../src/math/extract.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { solve } from '../src/solve/solve.js';
import { embeddedEngine } from '../src/engine/load.js';
import { DECOMPOSE_RESULT as RESULT, type DecomposeResult, type DecomposeRow as Row } from './decompose-report.js';
import { machineDuring, median } from './side-by-side.js';

const root = path.resolve(
  import.meta.dirname,
  '..',
  existsSync(path.resolve(import.meta.dirname, '..', 'package.json')) ? '' : '..',
);

interface Prompt {
  text: string;
  products: [number, number][];
}

/** The example prompt, then prompts of 2, 3 and 4 products (a fixed generator: same prompts every run). */
function prompts(): Prompt[] {
  const out: Prompt[] = [
    {
      text: 'Compute each of: 37*24; 18*53; 29*11.',
      products: [
        [37, 24],
        [18, 53],
        [29, 11],
      ],
    },
  ];
  let x = 12345;
  const next = (lo: number, hi: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), lo + (x % (hi - lo + 1)));
  for (const k of [2, 2, 2, 3, 3, 3, 4, 4, 4]) {
    const products = Array.from({ length: k }, () => [next(11, 99), next(2, 99)] as [number, number]);
    out.push({ text: `Compute each of: ${products.map(([a, b]) => `${a}*${b}`).join('; ')}.`, products });
  }
  return out;
}

/** The parts one after another: the same prompts and completions as the batch, in turn. */
async function serial(engine: Engine, tasks: string[], scope: string): Promise<string[]> {
  const texts: string[] = [];
  for (const task of tasks) {
    const prompt = engine.tokenizer.encode(buildPrompt(engine.tokenizer, task, 'sequential'));
    texts.push((await engine.complete({ prompt, maxTokens: 1024, cacheScope: scope })).text);
  }
  engine.releaseCache?.(scope);
  return texts;
}

async function measure(engine: Engine, p: Prompt, rounds: number): Promise<Row> {
  const schema = extractByRules(p.text)!;
  const tasks = partPrompts(schema);
  const gold = p.products.map(([a, b]) => String(a * b));
  const times = { S: [] as number[], D: [] as number[], W: [] as number[] };
  let serialTexts: string[] = [];
  let decomposed: Awaited<ReturnType<typeof solve>> | undefined;
  let whole: Awaited<ReturnType<typeof solve>> | undefined;
  const run = {
    S: async () => void (serialTexts = await serial(engine, tasks, `bench-serial-${Math.random()}`)),
    D: async () => void (decomposed = await solve(p.text, { engine, decompose: 'rules' })),
    W: async () => void (whole = await solve(p.text, { engine })),
  };
  const order = ['S', 'D', 'W'] as const;
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < order.length; k++) {
      const c = order[(k + r) % order.length]!;
      const t0 = performance.now();
      await run[c]();
      times[c].push(performance.now() - t0);
    }
  }
  const parts = decomposed!.decomposition!.parts;
  return {
    prompt: p.text,
    parts: tasks.length,
    serialMs: median(times.S),
    decomposedMs: median(times.D),
    wholeMs: median(times.W),
    speedup: median(times.S) / median(times.D),
    tokens: {
      parts: parts.map((x) => x.tokens),
      criticalPath: decomposed!.metrics.criticalPathTokens,
      whole: whole!.metrics.totalTokens,
    },
    correct: {
      decomposed: parts.every((x, i) => x.answer === gold[i]),
      whole: gold.every((g) => whole!.text.includes(g)) && extractAnswer(whole!.text) !== null,
    },
    identical: parts.every((x, i) => x.text === serialTexts[i]),
  };
}

export async function runDecomposeBench(rounds: number): Promise<DecomposeResult> {
  const engine = await embeddedEngine();
  const list = prompts();
  // Warm-up: first calls pay session initialisation.
  await solve(list[0]!.text, { engine, decompose: 'rules' });
  await serial(engine, ['Compute 12*34.'], 'warm');
  const load = os.loadavg();
  const rows: Row[] = [];
  for (const p of list) {
    process.stderr.write(`  ${p.text}\n`);
    rows.push(await measure(engine, p, rounds));
  }
  const byParts = [2, 3, 4].map((k) => {
    const g = rows.filter((r) => r.parts === k);
    const s = g.reduce((a, r) => a + r.serialMs, 0);
    const d = g.reduce((a, r) => a + r.decomposedMs, 0);
    return {
      parts: k,
      prompts: g.length,
      serialMs: s,
      decomposedMs: d,
      speedup: s / d,
      criticalPathRatio:
        g.reduce((a, r) => a + r.tokens.parts.reduce((x, y) => x + y, 0), 0) /
        g.reduce((a, r) => a + r.tokens.criticalPath, 0),
    };
  });
  const result: DecomposeResult = {
    benchmark: 'decompose',
    date: new Date().toISOString(),
    machine: machineDuring(load),
    config: { model: 'tiny-threadweaver', dtype: 'q8', greedy: true, rounds, extractor: 'rules' },
    example: rows[0]!,
    byParts,
    identical: rows.filter((r) => r.identical).length,
    correct: {
      decomposed: rows.filter((r) => r.correct.decomposed).length,
      whole: rows.filter((r) => r.correct.whole).length,
      of: rows.length,
    },
    rows,
  };
  await mkdir(path.dirname(RESULT), { recursive: true });
  await writeFile(RESULT, JSON.stringify(result, null, 2) + '\n');
  return result;
}

const isMain =
  process.argv[1] && path.resolve(process.argv[1]).replace(/\.ts$/, '.js').endsWith(path.join('bench', 'decompose.js'));
if (isMain) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' } } });
  process.stderr.write('bench/decompose: prompt-level forks on the bundled model\n');
  const r = await runDecomposeBench(Math.max(1, Number(values.rounds) || 7));
  process.stderr.write(
    `  example ${r.example.speedup.toFixed(2)}× (serial ${r.example.serialMs.toFixed(0)} ms, decomposed ${r.example.decomposedMs.toFixed(0)} ms)\n`,
  );
  const { renderResults } = await import('./decoding.js');
  await renderResults(
    JSON.parse(readFileSync(path.join(root, 'bench/results/decoding.json'), 'utf8')) as Parameters<
      typeof renderResults
    >[0],
  );
  process.exit(0);
}
