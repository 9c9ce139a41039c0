import { z } from 'zod';
import { DECOMPOSE_POLICIES } from '../../decompose/run.js';
import { solve, type SolveResult } from '../../solve.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { withSigint } from '../interrupt.js';
import { engineFlagOptions, engineFlagSchema, engineFlagUsage, samplingFlagOptions, samplingFlagSchema, samplingFlagUsage } from '../engine-flags.js';
import { engineFromPreset, presetFlagOptions, presetFlagSchema, presetFlagUsage, presetRun, presetSolveOptions } from '../preset-flags.js';
import { bold, dim, formatMetrics, green, renderBlock, type ThreadView } from '../render.js';

const schema = engineFlagSchema.extend(samplingFlagSchema.shape).extend(presetFlagSchema.shape).extend({
  json: z.boolean().optional(),
  mode: z.enum(['parallel', 'sequential']).optional(),
  quiet: z.boolean().optional(),
  decompose: z.boolean().optional(),
  extractor: z.enum(DECOMPOSE_POLICIES).optional(),
});

const usage = `Usage: threadweaver solve [options] "problem"

Solve one problem: the model reasons, forking into threads at each parallel block.

Options:
  --mode parallel|sequential   fork at </Outlines> (default) or never fork
  --json                       print one JSON object (answer, text, metrics, ...)
  --quiet                      print only the answer and the metrics line
  --decompose                  prompt-level forks for models never trained to fork: answer each
                               input of the prompt (a list, "each of: a; b; c") on its own, at once
  --extractor rules|model|auto how --decompose finds the inputs: explicit lists only, the model's
                               JSON schema, or the lists then the model (default auto)
${presetFlagUsage}
${samplingFlagUsage}
${engineFlagUsage}`;

const command: Command = {
  name: 'solve',
  summary: 'solve one problem with fork/join reasoning',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...engineFlagOptions,
        ...samplingFlagOptions,
        ...presetFlagOptions,
        json: { type: 'boolean' },
        mode: { type: 'string' },
        quiet: { type: 'boolean' },
        decompose: { type: 'boolean' },
        extractor: { type: 'string' },
      },
      schema,
    );
    const problem = positionals.join(' ').trim();
    if (!problem) throw new UsageError('give the problem as an argument');
    const run = presetRun(values, 'solve');
    const engine = await engineFromPreset(values, run);
    const live = !values.json && !values.quiet;
    const out = process.stdout;
    const threads = new Map<number, ThreadView[]>();

    const result: SolveResult = await withSigint((signal) =>
      solve(problem, {
        engine,
        mode: values.mode ?? 'parallel',
        ...presetSolveOptions(run),
        ...(values.seed !== undefined ? { seed: values.seed } : {}),
        ...(values.decompose || values.extractor ? { decompose: values.extractor ?? 'auto' } : {}),
        signal,
        on: live
          ? {
              delta: ({ text }) => out.write(text),
              'thread:end': (e) => {
                const list = threads.get(e.block) ?? [];
                list.push({ thread: e.thread, text: e.text, tokens: e.tokens, ms: e.ms, finishReason: e.finishReason });
                threads.set(e.block, list);
              },
              join: ({ block }) => out.write('\n' + renderBlock(block, threads.get(block) ?? []) + '\n'),
            }
          : {},
      }),
    );

    if (values.json) {
      out.write(
        JSON.stringify({
          problem,
          mode: values.mode ?? 'parallel',
          preset: run.resolved.name,
          answer: result.answer,
          text: result.text,
          finishReason: result.finishReason,
          formatValid: result.formatValid,
          violations: result.violations,
          ...(result.decomposition ? { decomposition: result.decomposition } : {}),
          warnings: result.warnings,
          metrics: { ...result.metrics, speedup: result.metrics.totalTokens / Math.max(1, result.metrics.criticalPathTokens) },
        }) + '\n',
      );
      return 0;
    }
    if (live) out.write('\n\n');
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    if (result.finishReason !== 'done') out.write(dim(`(run ended: ${result.finishReason})\n`));
    out.write(`${bold('Answer:')} ${result.answer === null ? dim('(none)') : green(result.answer)}\n`);
    out.write(dim(formatMetrics(result.metrics)) + '\n');
    return 0;
  },
};

export default command;
