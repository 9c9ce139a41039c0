import { z } from 'zod';
import { pendingFile, runRollouts } from '../../../rl/rollout.js';
import { formatRolloutSummary } from '../../../rl/summary.js';
import { intFlag, numberFlag, parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { datasetFlagOptions, datasetFlagSchema, datasetFlagUsage, datasetFromFlags } from '../dataset-flags.js';
import { withSigint } from '../interrupt.js';
import {
  engineFlagOptions,
  engineFlagSchema,
  engineFlagUsage,
  samplingFlagOptions,
  samplingFlagSchema,
  samplingFlagUsage,
} from '../engine-flags.js';
import { engineFromPreset, presetFlagOptions, presetFlagSchema, presetFlagUsage, presetRun } from '../preset-flags.js';

const schema = engineFlagSchema
  .extend(samplingFlagSchema.shape)
  .extend(datasetFlagSchema.shape)
  .extend(presetFlagSchema.shape)
  .extend({
    group: intFlag().min(1, 'must be at least 1').optional(),
    mode: z.enum(['parallel', 'sequential']).optional(),
    concurrency: intFlag().min(1).optional(),
    advantage: z.enum(['mean', 'std']).optional(),
    formatPenalty: numberFlag().min(0).optional(),
    keepContextIds: z.boolean().optional(),
    out: z.string({ error: 'is required' }).min(1),
  });

const usage = `Usage: threadweaver rollout (--dataset NAME | --data FILE.jsonl) --group G --out FILE.jsonl [options]

Sample G trajectories per problem, grade them, and write one row per trajectory with its calls,
reward and group-relative advantage. Rerun the same command to resume an interrupted run.

Options:
  --group G                trajectories per problem: the advantage group (required)
  --mode parallel|sequential   fork at </Outlines> (default) or never fork
  --concurrency C          trajectories decoded at once (default 1)
  --advantage mean|std     P-GRPO r − mean (default), or GRPO (r − mean) / std
  --format-penalty X       subtracted from the reward of malformed trajectories (default 0)
  --keep-context-ids       store each call's full context ids (large; export rebuilds them anyway)
  --out FILE.jsonl         rows of complete groups; FILE.pending.jsonl holds trajectories until their
                           group is complete (removed at the end)
${datasetFlagUsage}
${samplingFlagUsage}
  (rollouts sample with the preset's rollout settings, temperature 1 and top-p 1 in the shipped presets;
   --seed is the base of the per-trajectory seeds, default 0. A group learns only from a spread of
   rewards: the bundled model is near-deterministic below about 1.5, so use --temperature 1.5 with
   it; groups without spread are reported)
${presetFlagUsage}
${engineFlagUsage}`;

const command: Command = {
  name: 'rollout',
  summary: 'sample G graded trajectories per problem with rewards and advantages (RL rollouts)',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...engineFlagOptions,
        ...samplingFlagOptions,
        ...datasetFlagOptions,
        ...presetFlagOptions,
        group: { type: 'string' },
        mode: { type: 'string' },
        concurrency: { type: 'string' },
        advantage: { type: 'string' },
        'format-penalty': { type: 'string' },
        'keep-context-ids': { type: 'boolean' },
        out: { type: 'string' },
      },
      schema,
    );
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (values.group === undefined) throw new UsageError('--group is required');
    const group = values.group;
    const dataset = await datasetFromFlags(values);
    const run = presetRun(values, 'rollout');
    const { temperature, topP, maxTokens, prompt, format } = run.resolved.settings;
    const engine = await engineFromPreset(values, run);

    const result = await withSigint((signal) =>
      runRollouts({
        dataset,
        group,
        engine,
        out: values.out,
        mode: values.mode,
        temperature,
        topP,
        prompt,
        format,
        preset: run.resolved.name,
        seedBase: values.seed,
        concurrency: values.concurrency,
        maxTokens: maxTokens ?? undefined,
        advantage: values.advantage,
        ...(values.formatPenalty !== undefined ? { rewardConfig: { formatPenalty: values.formatPenalty } } : {}),
        keepContextIds: values.keepContextIds,
        signal,
        progress: process.stderr,
      }),
    );
    const resumed = result.resumed ? ` (${result.resumed} resumed)` : '';
    process.stdout.write(`rollout: ${formatRolloutSummary(result.summary)}${resumed} → ${result.file}\n`);
    for (const w of result.warnings) process.stderr.write(`rollout: warning: ${w}\n`);
    if (!result.complete) {
      process.stderr.write(
        `rollout: ${result.aborted ? 'interrupted' : 'incomplete'}; trajectories of unfinished groups are in ` +
          `${pendingFile(result.file)}. Rerun the same command to resume.\n`,
      );
      return result.aborted ? 130 : 1;
    }
    return 0;
  },
};

export default command;
