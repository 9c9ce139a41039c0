/**
 * A run folder as the viewer shows it: the rows of an eval run (`results.jsonl`) or of RL
 * rollouts (`*.jsonl`, pending rows included), grouped by problem, with per-dataset summaries and
 * charts computed by the eval harness's own functions, and each sample's trajectory laid out.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { summarizeDataset, problemSpeedups, type DatasetSummary } from '../../../eval/metrics.js';
import { datasetCharts } from '../../../eval/report.js';
import { resultKey, resultRowSchema, type ResultRow } from '../../../eval/results.js';
import { RESULTS_FILE } from '../../../eval/runner.js';
import { readSummary, SUMMARY_FILE, type RunSummary } from '../../../eval/summary.js';
import { summarizeRollouts, type RolloutSummary } from '../../../rl/summary.js';
import type { Tokenizer } from '../../engine/types.js';
import { parseTrajectory } from '../../format/parse.js';
import { parallelStats } from '../../orchestrator/metrics.js';
import { jsonLines, parseJsonLine } from '../../internal/jsonl.js';
import { ThreadweaverError } from '../../errors.js';

export type RunKind = 'eval' | 'rollouts';
type Mode = ResultRow['mode'];

/** A stored row, where it came from, and the rollout fields when it is one. */
export interface RunRow extends ResultRow {
  file: string;
  line: number;
  /** From a rollouts' pending file: its group was not complete. */
  pending?: boolean;
  problem?: string;
  reward?: number;
  advantage?: number;
  ids?: number[];
  eos?: boolean;
}

export interface LoadedRun {
  dir: string;
  kind: RunKind;
  files: string[];
  rows: RunRow[];
  /** summary.json of an eval run, when present. */
  stored: RunSummary | null;
}

export class RunFolderError extends ThreadweaverError {
  override name = 'RunFolderError';
}

const isPending = (file: string) => file.endsWith('.pending.jsonl');

/** Every row of one JSONL file; a torn last line (a run killed mid-write) is skipped, any other bad line is an error naming file:line. */
async function readRows(file: string): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  for (const l of jsonLines(await readFile(file, 'utf8'))) {
    try {
      const row = parseJsonLine(l.text, `${file}:${l.line}`, resultRowSchema, { error: RunFolderError }) as ResultRow;
      rows.push({ ...row, file: path.basename(file), line: l.line, ...(isPending(file) ? { pending: true } : {}) });
    } catch (err) {
      if (l.complete) throw err;
    }
  }
  return rows;
}

/** Load `target`: a run folder (eval: results.jsonl; rollouts: its .jsonl files) or one results/rollouts file. */
export async function loadRun(target: string): Promise<LoadedRun> {
  let info;
  try {
    info = await stat(target);
  } catch {
    throw new RunFolderError(`${target}: no such run folder or file`);
  }
  const dir = info.isDirectory() ? target : path.dirname(target);
  let files: string[];
  if (!info.isDirectory()) files = [target];
  else {
    const names = (await readdir(target)).filter((n) => n.endsWith('.jsonl')).sort();
    files = (names.includes(RESULTS_FILE) ? [RESULTS_FILE] : names).map((n) => path.join(target, n));
    // Final rows first, so a pending row is kept only when its final row is not written yet.
    files.sort((a, b) => Number(isPending(a)) - Number(isPending(b)));
  }
  if (files.length === 0)
    throw new RunFolderError(`${target}: no ${RESULTS_FILE} or rollout .jsonl files in this folder`);
  const rows: RunRow[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    for (const row of await readRows(file)) {
      const key = resultKey(row);
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push(row);
    }
  }
  let stored: RunSummary | null = null;
  if (info.isDirectory()) {
    try {
      await stat(path.join(dir, SUMMARY_FILE));
      stored = await readSummary(dir);
    } catch {
      stored = null; // no summary yet (a run in progress): the viewer computes its own
    }
  }
  const kind: RunKind = rows.some((r) => typeof r.reward === 'number') ? 'rollouts' : 'eval';
  return { dir, kind, files: files.map((f) => path.basename(f)), rows, stored };
}

/** One mode's samples of a problem. */
export interface ModeCell {
  samples: number;
  correct: number;
  meanTotalTokens: number;
  meanCriticalPathTokens: number;
  meanWallMs: number;
}

export interface ProblemEntry {
  dataset: string;
  problemId: string;
  family: string | null;
  gold: string;
  problem: string | null;
  modes: Partial<Record<Mode, ModeCell>>;
  /** Mean sequential T over mean parallel L (null without both modes). */
  speedup: number | null;
}

export interface RunOverview {
  dir: string;
  kind: RunKind;
  files: string[];
  rows: number;
  config: RunSummary['config'] | null;
  datasets: Record<string, DatasetSummary>;
  rollouts: RolloutSummary | null;
  charts: { dataset: string; title: string; file: string }[];
  problems: ProblemEntry[];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

function cell(rows: readonly RunRow[]): ModeCell {
  return {
    samples: rows.length,
    correct: rows.filter((r) => r.correct).length,
    meanTotalTokens: mean(rows.map((r) => r.totalTokens)),
    meanCriticalPathTokens: mean(rows.map((r) => r.criticalPathTokens)),
    meanWallMs: mean(rows.map((r) => r.wallMs)),
  };
}

function byDataset(rows: readonly RunRow[]): Map<string, RunRow[]> {
  const out = new Map<string, RunRow[]>();
  for (const r of rows) out.set(r.dataset, [...(out.get(r.dataset) ?? []), r]);
  return out;
}

/** The charts of a run: the eval report's per-dataset charts, drawn from the rows. */
export function runCharts(run: LoadedRun) {
  return [...byDataset(run.rows)].flatMap(([dataset, rows]) => datasetCharts(dataset, rows));
}

/** The run's summary, charts and problem table. */
export function runOverview(run: LoadedRun): RunOverview {
  const datasets: Record<string, DatasetSummary> = {};
  const problems: ProblemEntry[] = [];
  for (const [dataset, rows] of byDataset(run.rows)) {
    const k = Math.max(1, ...rows.map((r) => r.sample + 1));
    datasets[dataset] = summarizeDataset(rows, { k });
    const speedups = new Map(problemSpeedups(rows).map((p) => [p.problemId, p.speedup]));
    const groups = new Map<string, RunRow[]>();
    for (const r of rows) groups.set(r.problemId, [...(groups.get(r.problemId) ?? []), r]);
    for (const [problemId, mine] of groups) {
      const modes: Partial<Record<Mode, ModeCell>> = {};
      for (const mode of ['parallel', 'sequential'] as const) {
        const m = mine.filter((r) => r.mode === mode);
        if (m.length) modes[mode] = cell(m);
      }
      const first = mine[0]!;
      problems.push({
        dataset,
        problemId,
        family: first.family ?? null,
        gold: first.gold,
        problem: mine.find((r) => typeof r.problem === 'string')?.problem ?? null,
        modes,
        speedup: speedups.get(problemId) ?? null,
      });
    }
  }
  return {
    dir: run.dir,
    kind: run.kind,
    files: run.files,
    rows: run.rows.length,
    config: run.stored?.config ?? null,
    datasets,
    rollouts: run.kind === 'rollouts' ? summarizeRollouts(run.rows as Parameters<typeof summarizeRollouts>[0]) : null,
    charts: runCharts(run).map((c, i) => ({ dataset: c.dataset, title: c.title, file: `${i}.svg` })),
    problems,
  };
}

/**
 * A trajectory laid out for display: sequential text and blocks with their threads as columns.
 * `block` counts from 0, as in the JSON everywhere; the labels and titles a person reads count from 1.
 */
export type Segment =
  | { kind: 'sequential'; text: string; tokens: number }
  | {
      kind: 'block';
      block: number;
      outlines: { number: string | null; text: string }[];
      /** In-block tokens outside thread bodies (outlines, wrappers). */
      overheadTokens: number;
      threads: { thread: string | null; text: string; tokens: number; critical: boolean }[];
    };

export interface TimelineBar {
  start: number;
  end: number;
  kind: 'sequential' | 'parallel' | 'thread';
  critical: boolean;
  title: string;
}

export interface SampleView {
  row: Omit<RunRow, 'text' | 'ids' | 'calls' | 'promptIds' | 'prompt'>;
  segments: Segment[];
  /** The timeline in tokens along the critical path (the live view's shape, unit 'tokens'). */
  timeline: { unit: 'tokens'; rows: { label: string; bars: TimelineBar[] }[] };
}

/**
 * Lay out one row's trajectory. Token counts come from the row's own ids when it has them
 * (rollouts), else from `tokenizer` on its text; rows stored without text have no segments.
 */
export function sampleView(row: RunRow, tokenizer: Tokenizer): SampleView {
  const {
    text = '',
    ids,
    calls: _calls,
    promptIds: _promptIds,
    prompt: _prompt,
    ...rest
  } = row as RunRow & { calls?: unknown; promptIds?: unknown; prompt?: unknown };
  const tree = parseTrajectory(text);
  const tokens = ids ?? tokenizer.encode(text);
  // An eval row does not say whether the model ended with EOS (a token the text does not show); its T does.
  const eos = row.eos ?? parallelStats(text, tokens, tokenizer, { tree }).totalTokens + 1 === row.totalTokens;
  const stats = parallelStats(text, tokens, tokenizer, { eos, tree });
  const segments: Segment[] = [];
  const phases: TimelineBar[] = [];
  const threadRows: { label: string; bars: TimelineBar[] }[] = [];
  let x = 0;
  const sequentialRun = (n: number) => {
    if (n > 0)
      phases.push({ start: x, end: x + n, kind: 'sequential', critical: true, title: `sequential: ${n} tokens` });
    x += n;
  };
  let blockIndex = 0;
  for (const seg of tree.segments) {
    if (seg.kind === 'sequential') {
      segments.push({ kind: 'sequential', text: seg.text, tokens: tokenizer.count(seg.text) });
      continue;
    }
    const b = blockIndex++;
    sequentialRun(stats.sequentialRuns[b] ?? 0);
    const stat = stats.blocks[b] ?? { overheadTokens: 0, threadTokens: seg.threads.map(() => 0) };
    const longest = Math.max(0, ...stat.threadTokens);
    const critical = stat.threadTokens.indexOf(longest);
    segments.push({
      kind: 'block',
      block: b,
      outlines: seg.outlines.map((o) => ({ number: o.number, text: o.text })),
      overheadTokens: stat.overheadTokens,
      threads: seg.threads.map((t, i) => ({
        thread: t.number,
        text: t.text,
        tokens: stat.threadTokens[i] ?? 0,
        critical: i === critical,
      })),
    });
    const span = stat.overheadTokens + longest;
    phases.push({
      start: x,
      end: x + span,
      kind: 'parallel',
      critical: true,
      title: `parallel block ${b + 1}: ${stat.overheadTokens} + ${longest} tokens on the critical path`,
    });
    seg.threads.forEach((t, i) => {
      const n = stat.threadTokens[i] ?? 0;
      threadRows.push({
        label: `block ${b + 1} · thread ${t.number ?? '?'}`,
        bars: [
          {
            start: x + stat.overheadTokens,
            end: x + stat.overheadTokens + n,
            kind: 'thread',
            critical: i === critical,
            title: `thread ${t.number ?? '?'}: ${n} tokens`,
          },
        ],
      });
    });
    x += span;
  }
  sequentialRun(stats.sequentialRuns[blockIndex] ?? 0);
  return {
    row: rest,
    segments,
    timeline: { unit: 'tokens', rows: [{ label: 'phases', bars: phases }, ...threadRows] },
  };
}

/** The samples of one problem, parallel and sequential, in sample order. */
export function problemView(run: LoadedRun, dataset: string, problemId: string, tokenizer: Tokenizer) {
  const rows = run.rows
    .filter((r) => r.dataset === dataset && r.problemId === problemId)
    .sort((a, b) => a.sample - b.sample || a.mode.localeCompare(b.mode));
  if (rows.length === 0) return undefined;
  const first = rows[0]!;
  return {
    dataset,
    problemId,
    family: first.family ?? null,
    gold: first.gold,
    problem: rows.find((r) => typeof r.problem === 'string')?.problem ?? null,
    samples: rows.map((r) => sampleView(r, tokenizer)),
  };
}
