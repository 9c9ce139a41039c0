/**
 * SFT stage 1: rewrite sequential traces into parallel trajectories with an LLM.
 *   1. step extraction (LLM)        → items/<id>/1-steps.json
 *   2. splice (deterministic)       → 2-splice.json, 2-spliced.txt
 *   3. dependency removal (LLM)     → 3-dependencies.json
 *   4. outlines (LLM)               → 4-outlines.json, trajectory.txt
 *   5. filter and statistics        → 5-result.json; sft.jsonl, sft-trie.jsonl, items.jsonl, stats.json, report.md
 * Every request goes through the answer cache, so rerunning a run (after a crash, or with other
 * thresholds) sends only the requests never answered before.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Tokenizer } from '../engine/types.js';
import { assessTrajectory, passesFilter, type Assessment } from './assess.js';
import { ContextTooSmallError, promptFit } from './context-fit.js';
import { writeOptions, writeSftDataset, type SftExample, type SftFiles } from './dataset.js';
import type { PromptFormat } from '../orchestrator/prompt.js';
import { removeDependencies, type RewriteAction } from './dependencies.js';
import { isBlock, renderBody, renderTrajectory } from './draft.js';
import { jsonlText, writeFileAtomic } from '../internal/files.js';
import { ItemFiles } from './item-files.js';
import { createLimiter } from './limiter.js';
import type { ChatCounters, ChatModel } from './llm.js';
import { writeOutlines } from './outlines.js';
import { progressBar } from '../batch/progress.js';
import { renderReport, writeStats } from './report.js';
import { splice, DEFAULT_MIN_PARALLEL_CHARS, type SkippedBlock, type SkipReason } from './splice.js';
import { datasetStats, type DatasetStats } from './stats.js';
import { blockCandidates, extractSteps } from './steps.js';
import type { Trace } from './traces.js';

/**
 * Options of runStage1: the traces, run folder, LLM and tokenizer, thresholds and attempts, how
 * rows are written, and the check of the LLM's context.
 */
export interface Stage1Options {
  traces: readonly Trace[];
  /** The run folder (created if missing). */
  out: string;
  model: ChatModel;
  /** Counts tokens for the statistics and lays out the trie rows. */
  tokenizer: Tokenizer;
  /** Splice threshold: characters outside the longest thread. Default 200. */
  minParallelChars?: number | undefined;
  /** Requests per answer that must be well formed (steps 1 and 4). Default 3. */
  attempts?: number | undefined;
  /** Items in progress at once (the LLM has its own limit). Default 8. */
  concurrency?: number | undefined;
  /** Appended to the problem in the user turn of the written rows. */
  instruction?: string | undefined;
  /** The prompt format the rows train (a preset's: suffix, template variables); see SftWriteOptions. */
  prompt?: Partial<PromptFormat> | undefined;
  /**
   * The LLM's context length in tokens; default: what the endpoint reports (`ChatModel.contextLength`).
   * When known, the run refuses to start if the longest request would not fit (ContextTooSmallError).
   */
  llmContextLength?: number | undefined;
  /** Room kept for an answer in that check (the LLM's answer limit, if set). Default 1024. */
  llmAnswerTokens?: number | undefined;
  /** Where the progress bar, and a line per failed or rejected item, go; default process.stderr, false for none. */
  progress?: (NodeJS.WritableStream & { isTTY?: boolean }) | false | undefined;
  signal?: AbortSignal | undefined;
}

/** How a stage-1 item ended: kept in the dataset, rejected by the filter, or failed (no trajectory). */
export type ItemStatus = 'kept' | 'rejected' | 'failed';

/** One line of `items.jsonl`. */
export interface ItemSummary {
  id: string;
  status: ItemStatus;
  /** Why the item was rejected or failed. */
  reason?: string;
  blocks: number;
  threadsPerBlock: number[];
  skippedBlocks: SkippedBlock[];
  droppedLines: number[];
  rewrites: Partial<Record<RewriteAction, number>>;
  rewritesRetried: number;
  outlineFailures: number;
  formatValid?: boolean;
  correct?: boolean;
  answer?: string | null;
  acceleration?: number;
}

/** Stage 1's `stats.json`: the dataset statistics, the counts of each step, and the LLM's counters. */
export interface Stage1Stats extends DatasetStats {
  stage: 1;
  model: string;
  minParallelChars: number;
  /** Input traces. */
  items: number;
  /** Items that produced no trajectory (no usable step plan, endpoint errors). */
  failed: number;
  failures: Record<string, number>;
  rejected: Record<string, number>;
  acceptedBlocks: number;
  skippedBlocks: Partial<Record<SkipReason, number>>;
  droppedLines: number;
  rewrites: Partial<Record<RewriteAction, number>>;
  rewritesRetried: number;
  /** Blocks turned back into text because their outlines never came out right. */
  outlineFailures: number;
  llm: ChatCounters;
  /** Null when the trie file could not be written (see trieError). */
  trieFile: string | null;
  trieError?: string;
}

/** What runStage1 returns: the statistics, one summary per item, the files written, and whether it was aborted. */
export interface Stage1Result {
  stats: Stage1Stats;
  items: ItemSummary[];
  files: SftFiles & { items: string; stats: string; report: string };
  aborted: boolean;
}

interface ItemOutcome {
  summary: ItemSummary;
  assessment?: Assessment;
  example?: SftExample;
}

const bump = <K extends string>(counts: Partial<Record<K, number>>, key: K, by = 1): void => {
  counts[key] = (counts[key] ?? 0) + by;
};

async function runItem(trace: Trace, o: Stage1Options, root: string): Promise<ItemOutcome> {
  const files = await ItemFiles.open(root, trace.id);
  const summary: ItemSummary = {
    id: trace.id,
    status: 'failed',
    blocks: 0,
    threadsPerBlock: [],
    skippedBlocks: [],
    droppedLines: [],
    rewrites: {},
    rewritesRetried: 0,
    outlineFailures: 0,
  };
  const fail = async (reason: string): Promise<ItemOutcome> => {
    summary.reason = reason;
    await files.trace('failed', { reason });
    await files.write('5-result.json', summary);
    return { summary };
  };
  try {
    await files.write('input.json', trace);
    const lines = trace.reasoning.split('\n');

    // 1. step extraction
    const plan = await extractSteps(o.model, trace.problem, lines, o.attempts ?? 3, o.signal);
    for (const e of plan.exchanges) await files.trace('steps', e);
    if (!plan.ok) {
      await files.write('1-steps.json', { error: plan.error });
      return await fail(`steps: ${plan.error}`);
    }
    await files.write('1-steps.json', plan.value);

    // 2. splice
    const spliced = splice(lines, blockCandidates(plan.value), {
      minParallelChars: o.minParallelChars ?? DEFAULT_MIN_PARALLEL_CHARS,
    });
    summary.skippedBlocks = spliced.skipped;
    summary.droppedLines = spliced.droppedLines;
    await files.trace('splice', {
      accepted: spliced.accepted,
      skipped: spliced.skipped,
      droppedLines: spliced.droppedLines,
    });
    await files.write('2-splice.json', spliced);
    await files.write('2-spliced.txt', renderBody(spliced.draft, { pendingOutlines: true }) + '\n');

    // 3. dependency removal
    const deps = await removeDependencies(o.model, trace.problem, spliced.draft, o.signal);
    for (const r of deps.rewrites) {
      bump(summary.rewrites, r.action);
      if (r.retried) summary.rewritesRetried++;
      await files.trace('dependencies', {
        block: r.block,
        thread: r.thread,
        action: r.action,
        retried: r.retried,
        unmatched: r.unmatched,
        exchanges: r.exchanges,
      });
    }
    await files.write(
      '3-dependencies.json',
      deps.rewrites.map(({ exchanges: _, ...r }) => r),
    );

    // 4. outlines
    const outlined = await writeOutlines(o.model, trace.problem, deps.draft, o.attempts ?? 3, o.signal);
    for (const r of outlined.results) {
      if (!r.ok) summary.outlineFailures++;
      await files.trace('outlines', { block: r.block, ok: r.ok, error: r.error, exchanges: r.exchanges });
    }
    await files.write(
      '4-outlines.json',
      outlined.results.map(({ exchanges: _, ...r }) => r),
    );
    const trajectory = renderTrajectory(outlined.draft, trace.response);
    await files.write('trajectory.txt', trajectory);

    // 5. filter
    const assessment = assessTrajectory(trajectory, trace.answer, o.tokenizer);
    const blocks = outlined.draft.pieces.filter(isBlock);
    Object.assign(summary, {
      blocks: blocks.length,
      threadsPerBlock: blocks.map((b) => b.threads.length),
      formatValid: assessment.formatValid,
      correct: assessment.correct,
      answer: assessment.answer,
      acceleration: assessment.stats.acceleration,
    });
    if (!assessment.formatValid) {
      summary.status = 'rejected';
      summary.reason = `format: ${[...new Set(assessment.violations.map((v) => v.code))].join(', ')}`;
    } else if (!assessment.correct) {
      summary.status = 'rejected';
      summary.reason = `answer: ${assessment.gradeReason}`;
    } else summary.status = 'kept';
    await files.trace('filter', {
      status: summary.status,
      reason: summary.reason,
      violations: assessment.violations,
      answer: assessment.answer,
      gradeReason: assessment.gradeReason,
    });
    await files.write('5-result.json', { ...summary, stats: assessment.stats });
    return {
      summary,
      assessment,
      ...(passesFilter(assessment) ? { example: { id: trace.id, problem: trace.problem, trajectory } } : {}),
    };
  } catch (err) {
    if (o.signal?.aborted) throw err;
    return fail(`error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Run SFT stage 1, rewriting every trace with the LLM (steps 1 to 4) and writing the trajectories
 * that pass the filter as the SFT dataset, with the items, statistics and report. Refuses to start
 * (ContextTooSmallError) when the longest request cannot fit the LLM's context.
 */
export async function runStage1(o: Stage1Options): Promise<Stage1Result> {
  const contextLength = o.llmContextLength ?? (await o.model.contextLength?.());
  if (contextLength !== undefined) {
    const fit = promptFit(o.traces, contextLength, o.llmAnswerTokens);
    if (fit && !fit.fits) throw new ContextTooSmallError(fit, o.model.model);
  }
  await mkdir(o.out, { recursive: true });
  const root = path.join(o.out, 'items');
  const bar = progressBar('stage 1', o.traces.length, o.progress ?? process.stderr);
  const outcomes = new Array<ItemOutcome | undefined>(o.traces.length);
  const limit = createLimiter(o.concurrency ?? 8);
  const tally = { done: 0, kept: 0, rejected: 0, failed: 0 };
  const report = () =>
    bar.update(tally.done, [
      `kept ${tally.kept}`,
      `rejected ${tally.rejected}`,
      `failed ${tally.failed}`,
      `llm sent ${o.model.counters.sent}, cached ${o.model.counters.cacheHits}`,
    ]);
  report();
  try {
    await Promise.all(
      o.traces.map((trace, i) =>
        limit(async () => {
          if (o.signal?.aborted) return;
          try {
            outcomes[i] = await runItem(trace, o, root);
          } catch (err) {
            if (o.signal?.aborted) return;
            throw err;
          }
          const { status, reason } = outcomes[i].summary;
          tally.done++;
          tally[status]++;
          if (status !== 'kept') bar.say(`stage 1: ${trace.id} ${status}: ${reason}`);
          report();
        }),
      ),
    );
  } finally {
    bar.finish();
  }

  const done = outcomes.filter((x): x is ItemOutcome => x !== undefined);
  const assessed = done.flatMap((x) => (x.assessment ? [x.assessment] : []));
  const kept = done.filter((x) => x.example);
  const examples = kept.map((x) => x.example!);
  const sftFiles = await writeSftDataset(o.out, examples, o.tokenizer, writeOptions(o));
  const itemsFile = path.join(o.out, 'items.jsonl');
  await writeFileAtomic(itemsFile, jsonlText(done.map((x) => x.summary)));

  const stats: Stage1Stats = {
    stage: 1,
    model: o.model.model,
    minParallelChars: o.minParallelChars ?? DEFAULT_MIN_PARALLEL_CHARS,
    items: o.traces.length,
    failed: 0,
    failures: {},
    rejected: {},
    ...datasetStats(
      assessed,
      kept.map((x) => x.assessment!),
    ),
    acceptedBlocks: 0,
    skippedBlocks: {},
    droppedLines: 0,
    rewrites: {},
    rewritesRetried: 0,
    outlineFailures: 0,
    llm: { ...o.model.counters },
    trieFile: sftFiles.trie,
    ...(sftFiles.trieError ? { trieError: sftFiles.trieError } : {}),
  };
  for (const { summary: s } of done) {
    if (s.status === 'failed') {
      stats.failed++;
      bump(stats.failures, s.reason!.split(':')[0]!);
    }
    if (s.status === 'rejected') bump(stats.rejected, s.reason!.split(':')[0]!);
    for (const k of s.skippedBlocks) bump(stats.skippedBlocks, k.reason);
    stats.acceptedBlocks += s.blocks + s.outlineFailures;
    stats.droppedLines += s.droppedLines.length;
    for (const [k, n] of Object.entries(s.rewrites)) bump(stats.rewrites, k as RewriteAction, n);
    stats.rewritesRetried += s.rewritesRetried;
    stats.outlineFailures += s.outlineFailures;
  }
  const written = await writeStats(o.out, stats, stage1Report(stats));
  return {
    stats,
    items: done.map((x) => x.summary),
    files: { ...sftFiles, items: itemsFile, ...written },
    aborted: o.signal?.aborted === true,
  };
}

function stage1Report(s: Stage1Stats): string {
  const entries = (r: Partial<Record<string, number>>) => Object.entries(r).map(([k, n]) => [k, n ?? 0] as const);
  return renderReport(`SFT stage 1: ${s.items} traces → ${s.kept} kept`, s, [
    {
      heading: 'Pipeline',
      rows: [
        ['LLM', s.model],
        ['items', s.items],
        ['failed (no trajectory)', s.failed],
        ['blocks spliced (step 2)', s.acceptedBlocks],
        ['lines dropped inside blocks', s.droppedLines],
        ['threads retried for cutting too much (step 3)', s.rewritesRetried],
        ['blocks reverted for lack of outlines (step 4)', s.outlineFailures],
        ['splice threshold (characters outside the longest thread)', s.minParallelChars],
        ['LLM requests sent / answered from cache', `${s.llm.sent} / ${s.llm.cacheHits}`],
        ['trie file', s.trieFile ? path.basename(s.trieFile) : `not written: ${s.trieError}`],
      ],
    },
    { heading: 'Failures', rows: entries(s.failures) },
    { heading: 'Rejections (step 5)', rows: entries(s.rejected) },
    { heading: 'Skipped groups (step 2)', rows: entries(s.skippedBlocks) },
    { heading: 'Dependency rewrites (step 3)', rows: entries(s.rewrites) },
  ]);
}
