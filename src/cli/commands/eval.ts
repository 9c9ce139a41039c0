import path from 'node:path';
import { z } from 'zod';
import { loadDataset, type Dataset } from '../../../eval/dataset.js';
import { compareRunFolders } from '../../../eval/compare.js';
import { summaryTable, uncertaintyNote } from '../../../eval/report.js';
import { DEFAULT_RESAMPLES } from '../../../eval/uncertainty.js';
import { describeEngine } from '../../engine/provenance.js';
import { runEval } from '../../../eval/runner.js';
import { engineSolver } from '../../batch/solver.js';
import type { Engine } from '../../engine/types.js';
import { EXTRACT_POLICIES } from '../../math/extract.js';
import { gradeAnswer } from '../../math/grade.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { withSigint } from '../interrupt.js';
import {
  engineFlagOptions,
  engineFlagSchema,
  engineFlagUsage,
  samplingFlagOptions,
  samplingFlagSchema,
} from '../engine-flags.js';
import { engineFromPreset, presetFlagOptions, presetFlagSchema, presetFlagUsage, presetRun } from '../preset-flags.js';

const schema = engineFlagSchema
  .extend(samplingFlagSchema.shape)
  .extend(presetFlagSchema.shape)
  .extend({
    dataset: z.array(z.string().min(1)).optional(),
    data: z.array(z.string().min(1)).optional(),
    dataDir: z.string().optional(),
    limit: intFlag().min(1).optional(),
    k: intFlag().min(1).default(1),
    mode: z.enum(['both', 'parallel', 'sequential']).default('both'),
    out: z.string().min(1).optional(),
    concurrency: intFlag().min(1).default(1),
    extract: z.enum(EXTRACT_POLICIES).default('boxed'),
    bootstrap: intFlag().min(1).max(1_000_000).default(DEFAULT_RESAMPLES),
  });

const usage = `Usage: threadweaver eval --dataset NAME|--data FILE.jsonl [options]
       threadweaver eval compare RUN_A RUN_B

Run a benchmark in parallel and sequential mode side by side; report accuracy and speedup.
Results are appended to OUT/results.jsonl as each sample finishes: rerun the same command to resume.

Options:
  --dataset NAME     aime24 aime25 amc23 math500 minerva olympiadbench gsm8k arith500 (get them with
                     \`threadweaver data fetch NAME\`), or arith (generated, works anywhere); repeatable
  --data FILE        any JSONL file of {id, problem, answer}; repeatable
  --data-dir DIR     where benchmark files live (default: $THREADWEAVER_DATA_DIR, else the data fetch
                     cache, then ../shared/benchmarks beside a checkout)
  --limit N          first N problems of each dataset
  --k K              samples per problem and mode (default 1)
  --mode both|parallel|sequential   (default both)
  --out DIR          run folder (default runs/<dataset>). Rerunning resumes; a rerun with other
                     settings (sampling, model weights, budget, prompt style, ...) is refused, exit 2
  --concurrency C    samples in flight (default 1: honest wall-clock timings on one engine)
  --max-tokens N, --temperature T, --top-p P   override the preset's (tiny: greedy for k=1, else 0.6 and 0.95)
  --seed N           base seed (default 0)
  --bootstrap N      resamples of the problems for the 95% intervals (default 1000; seeded)
  --extract boxed|lenient   answer extraction (default boxed: the last \\boxed{} after </think>;
                     lenient also reads "The final answer is X", "The answer is X", "Answer: X"
                     and the last $...$ of the final sentence when there is no box)
${presetFlagUsage}
                     (a run folder keeps its preset: resuming with another one is refused)
${engineFlagUsage}`;

const command: Command = {
  name: 'eval',
  summary: 'benchmark accuracy and speedup against the sequential baseline',
  usage,
  async run(args) {
    if (args[0] === 'compare') {
      const [a, b, ...rest] = args.slice(1);
      if (!a || !b || rest.length) throw new UsageError('compare takes two run folders');
      const { table, warnings } = await compareRunFolders(a, b);
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(table + '\n');
      return 0;
    }
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...engineFlagOptions,
        ...samplingFlagOptions,
        ...presetFlagOptions,
        dataset: { type: 'string', multiple: true },
        data: { type: 'string', multiple: true },
        'data-dir': { type: 'string' },
        limit: { type: 'string' },
        k: { type: 'string' },
        mode: { type: 'string' },
        out: { type: 'string' },
        concurrency: { type: 'string' },
        extract: { type: 'string' },
        bootstrap: { type: 'string' },
      },
      schema,
    );
    if (positionals.length) throw new UsageError(`unexpected argument: ${positionals[0]}`);
    const specs = [
      ...(values.dataset ?? []).map((name) => ({ name })),
      ...(values.data ?? []).map((file) => ({ file })),
    ];
    if (specs.length === 0) throw new UsageError('give --dataset NAME or --data FILE');
    const datasets: Dataset[] = [];
    for (const spec of specs) {
      datasets.push(await loadDataset({ ...spec, dataDir: values.dataDir, limit: values.limit }));
    }
    const run = presetRun(values, 'eval', { samplesPerProblem: values.k });
    const { temperature, topP, maxTokens, prompt, format } = run.resolved.settings;
    if (values.k > 1 && temperature === 0)
      process.stderr.write('note: k > 1 at temperature 0 repeats the same greedy sample\n');
    const out = values.out ?? path.join('runs', datasets.map((d) => d.name).join('+'));
    const engine: Engine = await engineFromPreset(values, run);
    const described = await describeEngine(engine);

    const result = await withSigint(
      (signal) =>
        runEval({
          datasets,
          k: values.k,
          modes: values.mode === 'both' ? ['parallel', 'sequential'] : [values.mode],
          concurrency: values.concurrency,
          temperature,
          topP,
          seedBase: values.seed ?? 0,
          preset: run.resolved,
          extract: values.extract,
          engine: described,
          maxTokens: maxTokens ?? undefined,
          promptStyle: prompt.style,
          prompt,
          format,
          bootstrap: { resamples: values.bootstrap },
          out,
          solve: engineSolver(engine),
          grade: (pred, gold) => gradeAnswer(pred, gold),
          signal,
        }),
      () => process.stderr.write('\ninterrupted: finished samples are kept; rerun to resume\n'),
    );
    process.stderr.write(
      `\n${result.ran} samples run, ${result.resumed} resumed${result.aborted ? ' (interrupted)' : ''}\n`,
    );
    process.stdout.write(
      `\n${summaryTable(result.summary)}\n\n${uncertaintyNote(result.summary)}\n\n${result.files.report}\n${result.files.summary}\n`,
    );
    return result.aborted ? 130 : 0;
  },
};

export default command;
