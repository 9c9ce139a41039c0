import { z } from 'zod';
import { speedupBetween } from '../../../eval/metrics.js';
import type { Engine } from '../../engine/types.js';
import { EXTRACT_POLICIES } from '../../math/extract.js';
import { DEFAULT_MAX_TRANSITIONS } from '../../orchestrator/controller.js';
import { parallelWidth } from '../../orchestrator/metrics.js';
import { DECOMPOSE_POLICIES } from '../../decompose/run.js';
import { solve } from '../../solve/solve.js';
import { type SolveResult } from '../../solve/types.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { withSigint } from '../interrupt.js';
import {
  engineFlagOptions,
  engineFlagSchema,
  engineFlagUsage,
  samplingFlagOptions,
  samplingFlagSchema,
  samplingFlagUsage,
} from '../engine-flags.js';
import {
  engineFromPreset,
  presetFlagOptions,
  presetFlagSchema,
  presetFlagUsage,
  presetRun,
  presetSolveOptions,
  type PresetRun,
} from '../preset-flags.js';
import { bold, dim, formatMetrics, green, renderBlock, seconds, times, type ThreadView } from '../render.js';

const schema = engineFlagSchema
  .extend(samplingFlagSchema.shape)
  .extend(presetFlagSchema.shape)
  .extend({
    json: z.boolean().optional(),
    mode: z.enum(['parallel', 'sequential']).optional(),
    compare: z.boolean().optional(),
    quiet: z.boolean().optional(),
    extract: z.enum(EXTRACT_POLICIES).optional(),
    decompose: z.boolean().optional(),
    extractor: z.enum(DECOMPOSE_POLICIES).optional(),
  });
type Flags = z.infer<typeof schema>;
type Mode = 'parallel' | 'sequential';

const usage = `Usage: threadweaver solve [options] "problem"

Solve one problem: the model reasons, forking into threads at each parallel block.
Exit status: 0 with an answer; 1 when the run gave none (the reason is printed on stderr: the
context or the response budget ran out, the transition cap was reached, the engine failed, or the
model ended without a final answer); 2 for bad options; 130 when interrupted.

Options:
  --mode parallel|sequential   fork at </Outlines> (default) or never fork
  --compare                    run both modes and print the speedup against the sequential run:
                               tokens (sequential T ÷ parallel L) and wall clock (after one
                               untimed warm-up call, so neither mode pays the first call's costs)
  --json                       print one JSON object (answer, text, metrics, ...); with --compare
                               { parallel, sequential, speedup: { tokens, wallClock } }
  --quiet                      print only the answer and the metrics line
  --extract boxed|lenient      how the final answer is read (default boxed: the last \\boxed{}
                               after </think>; lenient also reads "The final answer is X", ...)
  --decompose                  prompt-level forks for models never trained to fork: answer each
                               input of the prompt (a list, "each of: a; b; c") on its own, at once
  --extractor rules|model|auto how --decompose finds the inputs: explicit lists only, the model's
                               JSON schema, or the lists then the model (default auto)
${presetFlagUsage}
${samplingFlagUsage}
${engineFlagUsage}`;

const count = (n: number): string => n.toLocaleString('en-US');

/**
 * Why a run produced no answer, in words that name the limit and its numbers; undefined when it
 * has an answer.
 */
export function noAnswerReason(
  r: SolveResult,
  limits: { contextLength: number; maxTokens: number | undefined },
): string | undefined {
  if (r.answer !== null) return undefined;
  const m = r.metrics;
  switch (r.finishReason) {
    case 'context':
      return m.promptTokens >= limits.contextLength
        ? `the prompt is ${count(m.promptTokens)} tokens and the model's context is ${count(limits.contextLength)}: nothing could be generated`
        : `the model's context of ${count(limits.contextLength)} tokens filled up (prompt ${count(m.promptTokens)} + ${count(m.totalTokens)} generated) before a final answer`;
    case 'budget':
      return `the response budget of ${count(limits.maxTokens ?? limits.contextLength)} tokens ran out before a final answer (raise --max-tokens)`;
    case 'transitions':
      return `the run reached the cap of ${DEFAULT_MAX_TRANSITIONS} transitions before a final answer`;
    case 'thread-eos':
      return 'a thread ended with end-of-sequence, which ends the run, before a final answer';
    case 'abort':
      return 'the run was interrupted';
    default:
      return 'the model finished without a final answer (no \\boxed{} after </think>; --extract lenient also reads answer lines)';
  }
}

function jsonOf(problem: string, mode: Mode, preset: string, r: SolveResult) {
  return {
    problem,
    mode,
    preset,
    answer: r.answer,
    text: r.text,
    finishReason: r.finishReason,
    formatValid: r.formatValid,
    violations: r.violations,
    ...(r.decomposition ? { decomposition: r.decomposition } : {}),
    warnings: r.warnings,
    metrics: { ...r.metrics, parallelWidth: parallelWidth(r.metrics) },
  };
}

/**
 * One untimed call before the compared runs: the first call in a process pays for allocations and
 * connections, which would otherwise be charged to whichever mode runs first. Its text shares no
 * prefix with the problem's prompt, so it leaves nothing in a cache that would favour either mode.
 */
async function warmUp(engine: Engine): Promise<void> {
  const cacheScope = 'compare-warm-up';
  await engine.complete({ prompt: 'Compute 2*3.', maxTokens: 8, temperature: 0, cacheScope });
  engine.releaseCache?.(cacheScope);
}

/** Run one mode, streaming the text and each joined block when `live`. */
function runMode(
  problem: string,
  mode: Mode,
  engine: Engine,
  run: PresetRun,
  values: Flags,
  live: boolean,
): Promise<SolveResult> {
  const out = process.stdout;
  const threads = new Map<number, ThreadView[]>();
  return withSigint((signal) =>
    solve(problem, {
      engine,
      mode,
      ...presetSolveOptions(run),
      seed: values.seed,
      extract: values.extract,
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
}

/** The answer, format violations and metrics line of one run. */
function printResult(r: SolveResult, live: boolean): void {
  const out = process.stdout;
  if (live) out.write('\n\n');
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  if (r.finishReason !== 'done') out.write(dim(`(run ended: ${r.finishReason})\n`));
  out.write(`${bold('Answer:')} ${r.answer === null ? dim('(none)') : green(r.answer)}\n`);
  if (r.violations.length) {
    out.write(
      `Format: ${r.violations.length} violation${r.violations.length === 1 ? '' : 's'} of the trajectory format\n`,
    );
    for (const v of r.violations) out.write(dim(`  - ${v.code} at offset ${v.offset}: ${v.message}\n`));
  }
  out.write(dim(formatMetrics(r.metrics)) + '\n');
}

/** The comparison of a parallel run with a sequential one (the same figures eval reports). */
function comparison(par: SolveResult, seq: SolveResult) {
  const decode = (r: SolveResult): number | null =>
    r.metrics.prefillMs === null ? null : r.metrics.wallMs - r.metrics.prefillMs;
  const parDecode = decode(par);
  const seqDecode = decode(seq);
  const s = speedupBetween({ sequential: seq.metrics, parallel: par.metrics });
  const decodeOnly =
    parDecode !== null && seqDecode !== null
      ? speedupBetween({
          sequential: { ...seq.metrics, wallMs: seqDecode },
          parallel: { ...par.metrics, wallMs: parDecode },
        }).wallClock
      : null;
  return { tokens: s.tokens, wallClock: s.wallClock, decodeWallClock: decodeOnly };
}

function printComparison(par: SolveResult, seq: SolveResult, c: ReturnType<typeof comparison>): void {
  const p = par.metrics;
  const s = seq.metrics;
  const lines = [
    bold('Speedup vs sequential'),
    `  tokens      ${times(c.tokens)}  (sequential T ${count(s.totalTokens)} ÷ parallel L ${count(p.criticalPathTokens)})`,
    `  wall clock  ${times(c.wallClock)}  (${seconds(s.wallMs)} ÷ ${seconds(p.wallMs)})`,
  ];
  if (c.decodeWallClock !== null)
    lines.push(`  decode only ${times(c.decodeWallClock)}  (wall time after the prompt's prefill)`);
  if (p.promptTokens !== s.promptTokens) {
    lines.push(
      dim(
        `  the prompts differ: parallel ${count(p.promptTokens)} tokens, sequential ${count(s.promptTokens)} (the sequential mode has its own system prompt)`,
      ),
    );
  }
  if (par.answer !== seq.answer)
    lines.push(dim(`  the answers differ: parallel ${par.answer ?? '(none)'}, sequential ${seq.answer ?? '(none)'}`));
  process.stdout.write(lines.join('\n') + '\n');
}

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
        compare: { type: 'boolean' },
        quiet: { type: 'boolean' },
        extract: { type: 'string' },
        decompose: { type: 'boolean' },
        extractor: { type: 'string' },
      },
      schema,
    );
    const problem = positionals.join(' ').trim();
    if (!problem) throw new UsageError('give the problem as an argument');
    if (values.compare && values.mode) throw new UsageError('--compare runs both modes: leave out --mode');
    const run = presetRun(values, 'solve');
    const engine = await engineFromPreset(values, run);
    const live = !values.json && !values.quiet;
    const modes: Mode[] = values.compare ? ['parallel', 'sequential'] : [values.mode ?? 'parallel'];
    const results = new Map<Mode, SolveResult>();
    if (values.compare) await warmUp(engine);
    for (const mode of modes) {
      if (values.compare && !values.json) process.stdout.write(bold(`── ${mode} ──`) + '\n');
      const r = await runMode(problem, mode, engine, run, values, live);
      results.set(mode, r);
      if (r.finishReason === 'abort') break;
      if (!values.json) printResult(r, live);
    }

    const par = results.get('parallel');
    const seq = results.get('sequential');
    const compared = par && seq ? comparison(par, seq) : undefined;
    if (values.json) {
      const single = results.get(modes[0]!)!;
      const preset = run.resolved.name;
      const json = compared
        ? {
            parallel: jsonOf(problem, 'parallel', preset, par!),
            sequential: jsonOf(problem, 'sequential', preset, seq!),
            speedup: compared,
          }
        : jsonOf(problem, modes[0]!, preset, single);
      process.stdout.write(JSON.stringify(json) + '\n');
    } else if (compared) {
      printComparison(par!, seq!, compared);
    }

    if ([...results.values()].some((r) => r.finishReason === 'abort')) return 130;
    let failed = false;
    for (const [mode, r] of results) {
      const why = noAnswerReason(r, {
        contextLength: engine.contextLength,
        maxTokens: run.resolved.settings.maxTokens ?? undefined,
      });
      if (!why) continue;
      process.stderr.write(`threadweaver solve: no answer${values.compare ? ` (${mode})` : ''}: ${why}\n`);
      failed = true;
    }
    return failed ? 1 : 0;
  },
};

export default command;
