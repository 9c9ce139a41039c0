/**
 * SFT stage 2: self-training data. A parallel model solves the problems through the fork/join
 * controller (an eval run, so rollouts are stored as they finish and a rerun resumes);
 * trajectories that pass the strict validator and grade correct are kept once each.
 */
import path from 'node:path';
import { openResults, ResultsError, RESULTS_FILE, runEval, type Dataset, type ResultRow } from '../../eval/index.js';
import { engineSolver } from '../batch/solver.js';
import type { Engine } from '../engine/types.js';
import { gradeAnswer } from '../math/grade.js';
import { assessTrajectory, passesFilter, type Assessment } from './assess.js';
import { writeOptions, writeSftDataset, type SftExample, type SftFiles } from './dataset.js';
import type { PromptFormat } from '../orchestrator/prompt.js';
import type { ResolvedPreset } from '../solve/preset.js';
import { renderReport, writeStats } from './report.js';
import { datasetStats, type DatasetStats } from './stats.js';

export interface Stage2Options {
  dataset: Dataset;
  engine: Engine;
  /** Samples per problem. Default 1. */
  samples?: number | undefined;
  /** The run folder: `rollouts/` (the eval run), sft.jsonl, sft-trie.jsonl, stats.json, report.md. */
  out: string;
  /** Default 0 (greedy). */
  temperature?: number | undefined;
  /** Default 1. */
  topP?: number | undefined;
  /** Base seed of the samples. Default 0. */
  seed?: number | undefined;
  /** Response budget per trajectory (every thread counted). Default: the context length. */
  maxTokens?: number | undefined;
  /** Problems solved at once. Default 1. */
  concurrency?: number | undefined;
  /** Appended to the problem in the user turn of the written rows (not in the prompts solved). */
  instruction?: string | undefined;
  /** How problems are put to the model, in the solves and in the written rows (a preset's). */
  prompt?: Partial<PromptFormat> | undefined;
  /** The preset, recorded in the rollouts' eval run (a rerun with another preset is refused). */
  preset?: ResolvedPreset | undefined;
  /** Where the progress line goes; default process.stderr, false for none. */
  progress?: (NodeJS.WritableStream & { isTTY?: boolean }) | false | undefined;
  signal?: AbortSignal | undefined;
}

export interface Stage2Stats extends DatasetStats {
  stage: 2;
  dataset: string;
  problems: number;
  samples: number;
  temperature: number;
  topP: number;
  /** Passing trajectories dropped as exact repeats of a kept one for the same problem. */
  duplicates: number;
  /** Problems with at least one kept trajectory. */
  problemsKept: number;
  trieFile: string | null;
  trieError?: string;
}

export interface Stage2Result {
  stats: Stage2Stats;
  /** Rollouts solved in this call, and found already stored (a resumed run). */
  ran: number;
  resumed: number;
  files: SftFiles & { rollouts: string; stats: string; report: string };
  aborted: boolean;
}

export const ROLLOUTS_DIR = 'rollouts';

export async function runStage2(o: Stage2Options): Promise<Stage2Result> {
  const samples = o.samples ?? 1;
  const temperature = o.temperature ?? 0;
  const topP = o.topP ?? 1;
  const rolloutsDir = path.join(o.out, ROLLOUTS_DIR);
  const run = await runEval({
    datasets: [o.dataset],
    k: samples,
    modes: ['parallel'],
    concurrency: o.concurrency ?? 1,
    temperature,
    topP,
    seedBase: o.seed ?? 0,
    out: rolloutsDir,
    // The budget is the solver's, not a recorded setting of the rollouts' eval run.
    solve: engineSolver(o.engine, { maxTokens: o.maxTokens }),
    prompt: o.prompt,
    preset: o.preset,
    grade: gradeAnswer,
    progress: o.progress ?? process.stderr,
    keepText: true,
    signal: o.signal,
  });

  const rows = await planRows(path.join(rolloutsDir, RESULTS_FILE), o.dataset, samples);
  const problems = new Map(o.dataset.problems.map((p) => [p.id, p]));
  const all: Assessment[] = [];
  const kept: Assessment[] = [];
  const examples: SftExample[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (const row of rows) {
    if (row.text === undefined)
      throw new ResultsError(
        `${rolloutsDir}/${RESULTS_FILE}: ${row.problemId} sample ${row.sample} was stored without its text`,
      );
    const a = assessTrajectory(row.text, row.gold, o.engine.tokenizer);
    all.push(a);
    if (!passesFilter(a)) continue;
    const key = `${row.problemId}\u0000${row.text}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    kept.push(a);
    examples.push({
      id: `${row.problemId}#${row.sample}`,
      problem: problems.get(row.problemId)!.problem,
      trajectory: row.text,
    });
  }

  const files = await writeSftDataset(o.out, examples, o.engine.tokenizer, writeOptions(o));
  const stats: Stage2Stats = {
    stage: 2,
    dataset: o.dataset.name,
    problems: o.dataset.problems.length,
    samples,
    temperature,
    topP,
    ...datasetStats(all, kept),
    duplicates,
    problemsKept: new Set(examples.map((e) => e.id.slice(0, e.id.lastIndexOf('#')))).size,
    trieFile: files.trie,
    ...(files.trieError ? { trieError: files.trieError } : {}),
  };
  const title = `SFT stage 2: ${stats.dataset}, ${stats.problems} problems × ${samples} → ${stats.kept} kept`;
  const report = renderReport(title, stats, [
    {
      heading: 'Run',
      rows: [
        ['engine', o.engine.name],
        ['sampling', `temperature ${temperature}, top-p ${topP}, seed ${o.seed ?? 0}`],
        ['duplicates dropped', duplicates],
        ['problems with a kept trajectory', `${stats.problemsKept} / ${stats.problems}`],
        ['rollouts (eval run folder)', ROLLOUTS_DIR],
        ['trie file', files.trie ? path.basename(files.trie) : `not written: ${files.trieError}`],
      ],
    },
  ]);
  const written = await writeStats(o.out, stats, report);
  return {
    stats,
    ran: run.ran,
    resumed: run.resumed,
    files: { ...files, rollouts: rolloutsDir, ...written },
    aborted: run.aborted,
  };
}

/** This run's stored rollouts, in problem and sample order (other rows of the file are left out). */
async function planRows(file: string, dataset: Dataset, samples: number): Promise<ResultRow[]> {
  const store = await openResults(file);
  const rows = store.rows();
  await store.close();
  const order = new Map(dataset.problems.map((p, i) => [p.id, i]));
  return rows
    .filter((r) => r.dataset === dataset.name && r.mode === 'parallel' && r.sample < samples && order.has(r.problemId))
    .sort((a, b) => order.get(a.problemId)! - order.get(b.problemId)! || a.sample - b.sample);
}
