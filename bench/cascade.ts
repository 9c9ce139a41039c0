/**
 * Before/after of cascade attention for sibling batches, side by side in one process. "Before":
 * every sibling row decodes on its own copy of the prefix with the appending graph (the engine
 * with `cascade: false`); "after": the rows read one stored copy through
 * `model_cascade_quantized.onnx`. Single completions run the same graph in both. Measured,
 * interleaved:
 *
 *   1. per-step cost of 1–4 sibling rows sharing a prefix of 10, 150, 200, 300, 400 and 800 tokens
 *      (each row with a 5-token header), relative to one row of a plain completion at that context;
 *   2. forming 4 rows from a 300-token prefix, and dropping one of 4 rows 100 steps later; and
 *      whole blocks of 2, 3 and 4 threads (form the rows, decode until the last one ends at 90
 *      tokens, dropping each as it ends) on prefixes of 150–800 tokens;
 *   3. single-stream decoding (400 tokens; the same path in all engines, as a control);
 *   4. B (the parallel trajectory in one pass) and C (orchestrated) on the benchmark problems, C
 *      three ways: rows on copies, the default engine (cascade from DEFAULT_CASCADE_MIN_PREFIX tokens of prefix) and the
 *      cascade for every sibling call; C's texts compared token for token.
 *
 *   node --expose-gc dist/bench/cascade.js [--limit 100] [--rounds 7]   → bench/results/cascade.json
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CASCADE_MIN_PREFIX, TransformersEngine } from '../src/engine/embedded/transformers.js';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { packageRoot } from '../src/internal/package-root.js';
import { solve } from '../src/solve/solve.js';
import { CASCADE_RESULT, CONFIGS, type CascadeResult, type Config } from './cascade-report.js';
import { median, round3, sameIds, machineDuring, singleStreamSideBySide, WHICH, type Which } from './side-by-side.js';
import { decoders, prefill, siblingRows } from './sibling-rows.js';

const root = packageRoot();
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** ms per step of 1–4 sibling rows at each context, interleaved; ratios to one row before (a plain completion's step). */
async function stepCost(engines: Record<Which, TransformersEngine>, contexts: number[], steps: number, rounds: number) {
  const out: Record<string, { plainMs: number } & Record<Which, Record<string, number>>> = {};
  for (const ctx of contexts) {
    const prefix = await prefill(engines.before, ctx);
    const samples: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      const order = WHICH.flatMap((w) => [1, 2, 3, 4].map((b) => [w, b] as const));
      for (const [w, batch] of r % 2 ? order : [...order].reverse()) {
        const rows = await siblingRows(engines[w], w, prefix, batch);
        await rows.step();
        const t0 = performance.now();
        for (let s = 0; s < steps; s++) await rows.step();
        (samples[`${w}${batch}`] ??= []).push((performance.now() - t0) / steps);
      }
    }
    // One row before is one row of a plain completion: the appending graph on the prefix's positions.
    const plainMs = median(samples.before1!);
    out[ctx] = {
      plainMs: round3(plainMs),
      ...(Object.fromEntries(
        WHICH.map((w) => {
          const ms = [1, 2, 3, 4].map((b) => median(samples[`${w}${b}`]!));
          return [
            w,
            {
              ...Object.fromEntries(ms.map((m, i) => [`batch${i + 1}`, round3(m / plainMs)])),
              msBatch1: round3(ms[0]!),
              msBatch4: round3(ms[3]!),
            },
          ];
        }),
      ) as unknown as Record<Which, Record<string, number>>),
    };
  }
  return out;
}

/** Forming 4 rows on a 300-token prefix (copies or not, plus the header prefill), and dropping one of them 100 steps later. */
async function forkAndDrop(engines: Record<Which, TransformersEngine>, rounds: number) {
  const prefix = await prefill(engines.before, 300);
  const fork: Record<Which, number[]> = { before: [], after: [] };
  const drop: Record<Which, number[]> = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const w of r % 2 ? WHICH : ([...WHICH].reverse() as Which[])) {
      gc();
      let t0 = performance.now();
      const rows = await siblingRows(engines[w], w, prefix, 4);
      fork[w].push(performance.now() - t0);
      for (let s = 0; s < 100; s++) await rows.step();
      t0 = performance.now();
      rows.drop();
      drop[w].push(performance.now() - t0);
    }
  }
  const ms = (xs: Record<Which, number[]>) => ({ before: round3(median(xs.before)), after: round3(median(xs.after)) });
  return { prefix: 300, rows: 4, forkMs: ms(fork), dropMs: ms(drop) };
}

/** Rows ending after these many tokens: a block of 2, 3 and 4 threads. */
const BLOCKS: Record<string, number[]> = { '2': [70, 90], '3': [60, 75, 90], '4': [60, 70, 80, 90] };

/** Whole blocks, ms: rows formed, decoded, and dropped as they end, on copies (before) or the cascade (after). */
async function blocks(engines: Record<Which, TransformersEngine>, contexts: number[], rounds: number) {
  const out: Record<string, Record<string, { before: number; after: number; speedup: number }>> = {};
  for (const ctx of contexts) {
    const prefix = await prefill(engines.before, ctx);
    const samples: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      for (const w of r % 2 ? WHICH : ([...WHICH].reverse() as Which[])) {
        for (const [threads, ends] of Object.entries(BLOCKS)) {
          gc();
          const t0 = performance.now();
          const rows = await siblingRows(engines[w], w, prefix, ends.length);
          let live = ends.length;
          for (let s = 1; s <= ends[ends.length - 1]!; s++) {
            await rows.step();
            while (live > 1 && s === ends[ends.length - live]) {
              rows.drop();
              live--;
            }
          }
          (samples[`${threads}${w}`] ??= []).push(performance.now() - t0);
        }
      }
    }
    out[ctx] = Object.fromEntries(
      Object.keys(BLOCKS).map((t) => {
        const [before, after] = [median(samples[`${t}before`]!), median(samples[`${t}after`]!)];
        return [t, { before: round3(before), after: round3(after), speedup: round3(before / after) }];
      }),
    );
  }
  return out;
}

async function problemsRun(engines: Record<Config, TransformersEngine>, limit: number) {
  const file = path.resolve(root, '../shared/benchmarks/arith500.jsonl');
  if (!existsSync(file)) throw new Error(`cascade bench: ${file} not found`);
  const problems = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, limit)
    .map((l) => JSON.parse(l) as { id: string; problem: string });
  const rows: {
    id: string;
    threads: number;
    ms: Record<string, number>;
    sameAsCopies: Record<Exclude<Config, 'copies'>, boolean>;
  }[] = [];
  for (const [i, p] of problems.entries()) {
    const ms: Record<string, number> = {};
    const ids: Partial<Record<Config, number[]>> = {};
    let threads = 0;
    // B is the same single completion on every engine: measured once, beside the three Cs.
    const runs = [
      async () => {
        const e = engines.copies;
        e.clearCache();
        const t0 = performance.now();
        await e.complete({ prompt: buildPrompt(e.tokenizer, p.problem, 'parallel'), maxTokens: 1024 });
        ms.B = performance.now() - t0;
      },
      ...CONFIGS.map((config) => async () => {
        const e = engines[config];
        e.clearCache();
        const c = await solve(p.problem, { engine: e, mode: 'parallel', maxTokens: 1024 });
        ms[`C_${config}`] = c.metrics.wallMs;
        ids[config] = c.trajectory.ids;
        threads = c.metrics.threads;
      }),
    ];
    for (let k = 0; k < runs.length; k++) await runs[(i + k) % runs.length]!();
    rows.push({
      id: p.id,
      threads,
      ms,
      sameAsCopies: { default: sameIds(ids.default!, ids.copies!), always: sameIds(ids.always!, ids.copies!) },
    });
    if ((i + 1) % 10 === 0) process.stderr.write(`  ${i + 1}/${problems.length} problems\n`);
  }
  const sum = (rs: typeof rows, k: string) => rs.reduce((s, r) => s + r.ms[k]!, 0);
  const summary = (rs: typeof rows) => ({
    problems: rs.length,
    wallMs: Object.fromEntries(['B', ...CONFIGS.map((c) => `C_${c}`)].map((k) => [k, Math.round(sum(rs, k))])),
    wallBC: Object.fromEntries(CONFIGS.map((c) => [c, round3(sum(rs, 'B') / sum(rs, `C_${c}`))])) as Record<
      Config,
      number
    >,
  });
  return {
    all: summary(rows),
    threePlusThreads: summary(rows.filter((r) => r.threads >= 3)),
    identicalToCopies: {
      default: rows.filter((r) => r.sameAsCopies.default).length,
      always: rows.filter((r) => r.sameAsCopies.always).length,
      of: rows.length,
    },
    rows,
  };
}

export async function runCascadeBench(limit: number, rounds: number): Promise<CascadeResult> {
  const engines: Record<Which, TransformersEngine> = {
    before: await TransformersEngine.load({ cascade: false }),
    after: await TransformersEngine.load(),
  };
  if (!decoders(engines.after).cascade)
    throw new Error('cascade bench: the bundled model has no cascade graph (onnx/model_cascade_quantized.onnx)');
  const configs: Record<Config, TransformersEngine> = {
    copies: engines.before,
    default: engines.after,
    always: await TransformersEngine.load({ cascadeMinPrefix: 1 }),
  };
  // Warm-up: first calls pay session initialisation.
  for (const c of CONFIGS) await solve('Compute 37*24 + 18*53 - 29*11.', { engine: configs[c] });
  const loadBefore = os.loadavg();
  const started = Date.now();
  process.stderr.write('cascade bench: step cost\n');
  const step = await stepCost(engines, [10, 150, 200, 300, 400, 800], 40, rounds);
  process.stderr.write('  fork and drop, blocks\n');
  const rowsCost = await forkAndDrop(engines, rounds);
  const blockMs = await blocks(engines, [150, 200, 256, 300, 400, 512, 640, 800], rounds);
  process.stderr.write('  single stream\n');
  const stream = await singleStreamSideBySide(engines, 5);
  process.stderr.write('  problems\n');
  const problems = await problemsRun(configs, limit);
  const result: CascadeResult = {
    benchmark: 'cascade',
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    graphs: {
      before: engines.before.graphFile + ' (every row on a copy of the prefix)',
      after: `${engines.after.cascadeFile} for sibling calls`,
    },
    defaultCascadeMinPrefix: DEFAULT_CASCADE_MIN_PREFIX,
    machine: machineDuring(loadBefore),
    stepCostRelativeToOne: step,
    forkAndDrop: rowsCost,
    blocks: blockMs,
    singleStream: stream,
    problems: {
      all: problems.all,
      threePlusThreads: problems.threePlusThreads,
      identicalToCopies: problems.identicalToCopies,
    },
    problemsDetail: problems.rows,
  };
  await writeFileAtomic(CASCADE_RESULT, jsonText(result));
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { limit: { type: 'string', default: '100' }, rounds: { type: 'string', default: '7' } },
  });
  const r = await runCascadeBench(Number(values.limit), Number(values.rounds));
  for (const [ctx, s] of Object.entries(r.stepCostRelativeToOne)) {
    for (const w of WHICH)
      console.log(
        `context ${ctx} ${w.padEnd(6)}: one plain row ${s.plainMs} ms; 1–4 rows ×${s[w].batch1} ×${s[w].batch2} ×${s[w].batch3} ×${s[w].batch4}`,
      );
  }
  console.log(
    `fork 4 rows at 300: ${r.forkAndDrop.forkMs.before} → ${r.forkAndDrop.forkMs.after} ms; drop one: ${r.forkAndDrop.dropMs.before} → ${r.forkAndDrop.dropMs.after} ms`,
  );
  for (const [ctx, b] of Object.entries(r.blocks))
    console.log(
      `blocks at ${ctx}: ` +
        Object.entries(b)
          .map(([t, v]) => `${t} threads ${v.before} → ${v.after} ms (${v.speedup}×)`)
          .join('; '),
    );
  console.log(
    `single stream: ${r.singleStream.tokensPerSecond.before} → ${r.singleStream.tokensPerSecond.after} tokens/s`,
  );
  const p = r.problems;
  for (const [name, g] of [
    ['≥3 threads', p.threePlusThreads],
    ['all', p.all],
  ] as const)
    console.log(`${name}: B/C copies ${g.wallBC.copies}, default ${g.wallBC.default}, always ${g.wallBC.always}`);
  console.log(
    `C texts identical to copies: default ${p.identicalToCopies.default}/${p.identicalToCopies.of}, always ${p.identicalToCopies.always}/${p.identicalToCopies.of}`,
  );
  console.log(`load average ${r.machine.loadAverageBefore[0]} → ${r.machine.loadAverageAfter[0]}`);
  const { renderResults } = await import('./decoding.js');
  await renderResults(
    JSON.parse(readFileSync(path.join(root, 'bench/results/decoding.json'), 'utf8')) as Parameters<
      typeof renderResults
    >[0],
  );
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('bench', 'cascade.js'))) await main();
