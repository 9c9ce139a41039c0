/**
 * `report.md` and its charts: a results table shaped like the ThreadWeaver paper's (accuracy,
 * token latency, speedups per dataset), the secondary metrics, definitions, and SVG charts.
 */
import { writeFileAtomic } from '../src/internal/files.js';
import path from 'node:path';
import { problemSpeedups, type GroupSummary, type ModeSummary, type SampleRow } from './metrics.js';
import type { RunSummary } from './summary.js';
import { histogramSvg, lineChartSvg, type Point } from './svg.js';
import { frontierCharts, sweepSections } from './frontier.js';

/** The report's file name in a run folder. */
export const REPORT_FILE = 'report.md';
/** The charts' folder in a run folder (the SVG files the report shows). */
export const CHARTS_DIR = 'charts';

export interface Chart {
  dataset: string;
  kind: 'speedup-histogram' | 'accuracy-vs-latency' | 'frontier-tokens' | 'frontier-wall';
  /** Path relative to the run folder. */
  file: string;
  title: string;
  svg: string;
}

const pct = (v: number | null | undefined): string => (v == null ? '–' : `${(v * 100).toFixed(1)}%`);
const times = (v: number | null | undefined): string => (v == null ? '–' : `${v.toFixed(2)}×`);
const dec = (v: number | null | undefined, digits = 3): string => (v == null ? '–' : v.toFixed(digits));
export function tokens(v: number | null | undefined): string {
  if (v == null) return '–';
  return v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0);
}
const seconds = (ms: number | null | undefined): string => (ms == null ? '–' : `${(ms / 1000).toFixed(2)} s`);

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, '_');
}

/** Samples of one mode in `bins` equal-count groups by critical-path tokens: (mean L, accuracy) per group. */
export function accuracyByLatency(rows: readonly SampleRow[], bins = 8): Point[] {
  const sorted = [...rows].sort((a, b) => a.criticalPathTokens - b.criticalPathTokens);
  const n = Math.min(bins, sorted.length);
  const out: Point[] = [];
  for (let i = 0; i < n; i++) {
    const group = sorted.slice(Math.floor((i * sorted.length) / n), Math.floor(((i + 1) * sorted.length) / n));
    if (!group.length) continue;
    out.push({
      x: group.reduce((s, r) => s + r.criticalPathTokens, 0) / group.length,
      y: group.filter((r) => r.correct).length / group.length,
    });
  }
  return out;
}

/** The charts of one dataset: the per-problem speedup histogram (both modes needed) and accuracy against latency. */
export function datasetCharts(dataset: string, rows: readonly SampleRow[]): Chart[] {
  const charts: Chart[] = [];
  const base = `${CHARTS_DIR}/${safeName(dataset)}`;
  const speedups = problemSpeedups(rows).flatMap((p) => (p.speedup === null ? [] : [p.speedup]));
  if (speedups.length) {
    const mean = speedups.reduce((a, b) => a + b, 0) / speedups.length;
    const title = `${dataset}: per-problem token-latency speedup (${speedups.length} problems)`;
    charts.push({
      dataset,
      kind: 'speedup-histogram',
      file: `${base}-speedup.svg`,
      title,
      svg: histogramSvg({
        title,
        xLabel: 'speedup = mean sequential tokens / mean parallel critical-path tokens',
        yLabel: 'problems',
        values: speedups,
        markers: [
          { x: 1, label: 'no speedup (1×)', color: '#6b7280' },
          { x: mean, label: `mean ${mean.toFixed(2)}×`, color: '#dc2626' },
        ],
      }),
    });
  }
  const series = (['sequential', 'parallel'] as const)
    .map((mode) => ({ name: mode, points: accuracyByLatency(rows.filter((r) => r.mode === mode)) }))
    .filter((s) => s.points.length);
  if (series.length) {
    const title = `${dataset}: accuracy against critical-path tokens`;
    charts.push({
      dataset,
      kind: 'accuracy-vs-latency',
      file: `${base}-accuracy-vs-latency.svg`,
      title,
      svg: lineChartSvg({
        title,
        xLabel: 'critical-path tokens (mean of each equal-count bin of samples)',
        yLabel: 'accuracy',
        series: series.map((s) => ({ ...s, color: s.name === 'parallel' ? '#2563eb' : '#ea580c' })),
        yRange: [0, 1],
        yFormat: (v) => `${Math.round(v * 100)}%`,
      }),
    });
  }
  return charts;
}

type Cell = (g: GroupSummary) => number | null | undefined;

/** A markdown table: the first `labelColumns` columns left-aligned, the figures right-aligned. */
function table(header: string[], rows: string[][], labelColumns = 1): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i < labelColumns ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function meanOf(values: Array<number | null | undefined>): number | null {
  const xs = values.filter((v): v is number => v != null);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** The paper-shaped table: one column per dataset plus an unweighted average over datasets. */
function headlineTable(groups: Array<[string, GroupSummary]>, average = true): string {
  const rows: Array<[string, Cell, (v: number | null | undefined) => string, boolean]> = [
    ['Accuracy, sequential', (g) => g.sequential?.accuracy, pct, true],
    ['Accuracy, parallel', (g) => g.parallel?.accuracy, pct, true],
    ['Latency (tokens), sequential', (g) => g.sequential?.meanTotalTokens, tokens, true],
    ['Latency (tokens), parallel', (g) => g.parallel?.meanCriticalPathTokens, tokens, true],
    ['Average speedup', (g) => g.speedup.tokenLatencyMeanOfRatios, times, true],
    ['Speedup of mean latencies', (g) => g.speedup.tokenLatencyRatioOfMeans, times, true],
    ['Maximum speedup (correct only)', (g) => g.speedup.maxCorrect, times, false],
    ['Wall-clock speedup', (g) => g.speedup.wallClock, times, true],
    ['Wall-clock speedup, decode only', (g) => g.speedup.decodeWallClock, times, true],
    ['Wall time per sample, sequential', (g) => g.sequential?.wallMs.mean, seconds, true],
    ['Wall time per sample, parallel', (g) => g.parallel?.wallMs.mean, seconds, true],
  ];
  const showAvg = average && groups.length > 1;
  return table(
    ['', ...groups.map(([n]) => n), ...(showAvg ? ['Avg'] : [])],
    rows.map(([label, cell, format, averaged]) => [
      label,
      ...groups.map(([, g]) => format(cell(g))),
      ...(showAvg ? [averaged ? format(meanOf(groups.map(([, g]) => cell(g)))) : '–'] : []),
    ]),
  );
}

const interval = (iv: readonly [number, number] | null | undefined, unit: (v: number) => string): string =>
  iv ? `[${unit(iv[0])}, ${unit(iv[1])}]` : '–';
const pp = (v: number): string => (v * 100).toFixed(1);
const x2 = (v: number): string => v.toFixed(2);

type Mode = 'parallel' | 'sequential';

/** A group's mode summaries in this order, the modes it ran only. */
function modesOf(g: GroupSummary, order: readonly Mode[]): Array<[Mode, ModeSummary]> {
  return order.flatMap((mode) => (g[mode] ? [[mode, g[mode]] as [Mode, ModeSummary]] : []));
}

/**
 * The run's headline figures with their uncertainty, one metric a line (shaped like
 * lm-evaluation-harness's results table): accuracy per dataset and mode with its standard error
 * and 95% bootstrap interval over problems, and the speedups between modes with paired intervals.
 * Printed on the console at the end of a run and included in report.md.
 */
export function summaryTable(summary: RunSummary): string {
  const rows: string[][] = [];
  for (const [name, g] of Object.entries(summary.datasets)) {
    for (const [mode, s] of modesOf(g, ['parallel', 'sequential'])) {
      const n = `${s.problems}×${s.k}`;
      rows.push([
        name,
        mode,
        n,
        'accuracy (avg@k)',
        pct(s.accuracy),
        s.accuracyStderr === undefined ? '–' : `± ${pp(s.accuracyStderr)}`,
        interval(s.accuracyCI95, pp),
      ]);
      if (s.k > 1) {
        // Older summaries hold the figures at K only.
        const passAt = s.passAt ?? { [s.k]: s.passAtK };
        const majAt = s.majAt ?? { [s.k]: s.majAtK };
        for (const [k, v] of Object.entries(passAt))
          if (k !== '1') rows.push([name, mode, n, `pass@${k}`, pct(v), '', '']);
        for (const [k, v] of Object.entries(majAt))
          if (k !== '1') rows.push([name, mode, n, `maj@${k}`, pct(v), '', '']);
        for (const [tau, v] of Object.entries(s.gPassAt?.[s.k] ?? {}))
          rows.push([name, mode, n, `G-Pass@${s.k}, τ = ${tau}`, pct(v), '', '']);
      }
      if (mode === 'parallel')
        rows.push([
          name,
          mode,
          n,
          'parallel width T/L (not a speedup)',
          times(g.speedup.parallelOwnTotalOverCriticalPath),
          '',
          '',
        ]);
    }
    const sp = g.speedup;
    if (sp.tokenLatencyRatioOfMeans === null) continue;
    const paired = String(Math.min(g.parallel?.problems ?? 0, g.sequential?.problems ?? 0));
    const add = (
      metric: string,
      v: number | null | undefined,
      iv: readonly [number, number] | null | undefined,
    ): void => void rows.push([name, 'speedup', paired, metric, times(v), '', interval(iv, x2)]);
    add('tokens: seq T ÷ par L, ratio of means', sp.tokenLatencyRatioOfMeans, sp.ci95?.tokenLatencyRatioOfMeans);
    add('tokens: mean of per-problem ratios', sp.tokenLatencyMeanOfRatios, sp.ci95?.tokenLatencyMeanOfRatios);
    add('wall clock', sp.wallClock, sp.ci95?.wallClock);
    if (sp.decodeWallClock != null) add('wall clock, decode only', sp.decodeWallClock, sp.ci95?.decodeWallClock);
  }
  if (!rows.length) return 'No results.';
  return table(['dataset', 'mode', 'n', 'metric', 'value', 'stderr', '95% CI'], rows, 4);
}

/** One sentence on how the intervals were made. */
export function uncertaintyNote(summary: RunSummary): string {
  const u = summary.uncertainty;
  if (!u) return '';
  return (
    `Accuracy is in %, its standard error in percentage points (sample standard deviation of the per-problem accuracy ÷ √problems). ` +
    `95% CIs are percentile bootstrap intervals over problems (${u.resamples} resamples, seed ${u.seed}); ` +
    `a speedup's interval resamples the problems run in both modes, both modes of a problem together. n is problems × k, or paired problems.`
  );
}

/** Prompt length, prefill and decode-only wall time per mode, and whether the prompts differ. */
function wallClockSection(groups: Array<[string, GroupSummary]>): string[] {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const [name, g] of groups) {
    for (const [mode, s] of modesOf(g, ['sequential', 'parallel'])) {
      rows.push([
        name,
        mode,
        tokens(s.meanPromptTokens),
        s.prefillMs ? `${s.prefillMs.mean.toFixed(1)} ms` : '–',
        seconds(s.decodeWallMs?.mean),
        seconds(s.wallMs.mean),
      ]);
    }
    const seqPrompt = g.sequential?.meanPromptTokens;
    const parPrompt = g.parallel?.meanPromptTokens;
    if (seqPrompt != null && parPrompt != null && Math.abs(seqPrompt - parPrompt) >= 0.5) {
      notes.push(
        `**${name}: the modes' prompts differ in length**: ${tokens(seqPrompt)} tokens sequential, ${tokens(parPrompt)} parallel on average ` +
          `(each mode has its own prompt). Total wall time includes each prompt's prefill; the decode-only wall-clock speedup ` +
          `(${times(g.speedup.decodeWallClock)}, total ${times(g.speedup.wallClock)}) leaves it out.`,
      );
    }
  }
  if (!rows.some((r) => r[2] !== '–' || r[3] !== '–')) return [];
  return [
    '## Wall clock',
    '',
    "Per sample, means. Decode-only wall time is the wall time after the prompt's prefill (the first forward pass over the prompt), so equal outputs cost equal decode time whatever the prompt length.",
    '',
    table(['dataset', 'mode', 'prompt tokens', 'prefill', 'decode-only wall', 'total wall'], rows, 2),
    '',
    ...notes.flatMap((n) => [n, '']),
  ];
}

const share = (part: number | null, whole: number): string => (part === null || whole <= 0 ? '–' : pct(part / whole));
const perSample = (v: number | null, n: number): string => (v === null ? '–' : tokens(v / n));
const uncached = (prompt: number, cached: number | null): number | null => (cached === null ? null : prompt - cached);

/**
 * The prefill ledger: prompt tokens sent per sample and the share the servers' prefix caches
 * served, by phase; then what each join cost (the continuation's prompt, and how much of it the
 * server had to prefill). Only for runs whose rows record it.
 */
function prefillSection(groups: Array<[string, GroupSummary]>): string[] {
  const phases: string[][] = [];
  const joins: string[][] = [];
  for (const [name, g] of groups) {
    for (const [mode, s] of modesOf(g, ['sequential', 'parallel'])) {
      const p = s.promptTokens;
      const c = s.cachedPromptTokens;
      if (!p || !c) continue;
      const n = s.samples;
      phases.push([
        name,
        mode,
        perSample(p.total, n),
        share(c.total, p.total),
        perSample(uncached(p.total, c.total), n),
        perSample(uncached(p.sequential, c.sequential), n),
        perSample(uncached(p.threadStarts, c.threadStarts), n),
        perSample(uncached(p.afterJoin, c.afterJoin), n),
      ]);
      for (const j of s.joinPrefill ?? []) {
        joins.push([
          name,
          mode,
          String(j.block + 1),
          String(j.joins),
          tokens(j.promptTokens / j.joins),
          perSample(j.cachedPromptTokens, j.joins),
          perSample(uncached(j.promptTokens, j.cachedPromptTokens), j.joins),
          share(j.cachedPromptTokens, j.promptTokens),
        ]);
      }
    }
  }
  if (!phases.length) return [];
  return [
    '## Prefill',
    '',
    "Prompt tokens of every call, per sample, and the share the server's prefix cache served (`cached_tokens`; – where the server does not report it). Prefilled = prompt − cached: what the server computed. Phases: sequential calls before any block, thread starts (the block's context and the thread's header), and continuations after a join.",
    '',
    table(
      [
        'dataset',
        'mode',
        'prompt tokens',
        'cached',
        'prefilled',
        'prefilled, sequential',
        'prefilled, thread starts',
        'prefilled, after joins',
      ],
      phases,
      2,
    ),
    '',
    ...(joins.length
      ? [
          "What each join cost: the call that goes on after the joined block (join 1 is each sample's first), means per join.",
          '',
          table(
            ['dataset', 'mode', 'join', 'samples', 'prompt tokens', 'cached', 'prefilled', 'cached share'],
            joins,
            3,
          ),
          '',
        ]
      : []),
  ];
}

function modeTable(groups: Array<[string, GroupSummary]>): string {
  const rows: string[][] = [];
  for (const [name, g] of groups) {
    for (const [mode, s] of modesOf(g, ['sequential', 'parallel'])) {
      rows.push([
        name,
        mode,
        `${s.problems} × ${s.k}`,
        String(s.samples),
        pct(s.accuracy),
        pct(s.passAtK),
        pct(s.majAtK),
        pct(s.formatCorrect),
        pct(s.formatCorrectLenient),
        pct(s.activationRatio),
        tokens(s.meanTotalTokens),
        tokens(s.meanCriticalPathTokens),
        dec(s.meanAcceleration),
        mode === 'parallel' ? times(g.speedup.parallelOwnTotalOverCriticalPath) : '–',
        seconds(s.wallMs.sum),
      ]);
    }
  }
  return table(
    [
      'dataset',
      'mode',
      'problems × k',
      'samples',
      'avg@k',
      'pass@k',
      'maj@k',
      'format strict',
      'format lenient',
      'activation',
      'mean T',
      'mean L',
      'mean η',
      'own T/L',
      'wall total',
    ],
    rows,
    2,
  );
}

const DEFINITIONS = `## Definitions

- **T** (total tokens) counts every generated token of a trajectory, all threads included. **L** (critical-path
  tokens, the token latency) counts the sequential tokens plus, per parallel block, its non-thread tokens and its
  longest thread. **η** = 1 − L/T.
- **Accuracy** is avg@k: the mean correctness over all k samples of all problems (the reference's pass@1).
  **pass@k** is the unbiased estimator 1 − C(n−c, k)/C(n, k) per problem (n samples, c correct), averaged over
  problems. **maj@k** is the expected correctness of a majority vote over k samples drawn from a problem's n (samples
  without an answer do not vote; a tie counts the share of correct answers among the tied). **G-Pass@k, τ** is the
  probability that at least ⌈τk⌉ of k drawn samples are correct, Σ_{j≥⌈τk⌉} C(c, j)·C(n−c, k−j)/C(n, k). In the
  per-mode table pass@k and maj@k are at k = K (maj@K there: ties to the answer seen first).
- **Latency (tokens), sequential** is the sequential mode's mean T; **latency (tokens), parallel** is the parallel
  mode's mean L.
- **Average speedup** is the mean over problems of (mean sequential T / mean parallel L) for that problem.
  **Speedup of mean latencies** is mean sequential T / mean parallel L over all samples; the two differ, and the
  paper's "average speedup" appears to be the former.
- **Maximum speedup (correct only)** is the largest per-problem ratio, each side averaged over the problem's correct
  samples (problems with a correct sample in both modes).
- **Wall-clock speedup** is the mean sequential wall time per sample / the mean parallel wall time per sample, both
  measured in this run, interleaved per problem under the same load.
- **own T/L** is the parallel trajectories' own mean T / mean L. It measures how much work the threads overlap; it is
  **not** a speedup against the sequential mode.
- **format strict** is the share of samples passing every rule of the format's validator; **format lenient** the share
  whose fork/join structure is sound (blocks and threads closed, no stray close tag, every outline answered by a thread
  of its number); **activation** is the share of samples with at least one parallel block. **Avg** is the unweighted mean over datasets.
`;

/** The markdown report for a summary; `charts` are linked under their dataset. */
export function renderReport(summary: RunSummary, charts: readonly Chart[] = []): string {
  const groups = Object.entries(summary.datasets);
  const c = summary.config;
  const out: string[] = [
    '# Evaluation report',
    '',
    `Run of ${summary.createdAt}: k = ${c.k} samples per problem and mode, modes ${c.modes.join(' and ')}, ` +
      `temperature ${c.temperature}, top-p ${c.topP}, seed base ${c.seedBase}, answers extracted by the ` +
      `${c.extract ?? 'boxed'} policy.`,
    '',
  ];
  if (!groups.length) {
    out.push('No results yet.', '');
    return out.join('\n');
  }
  out.push('## Results', '', headlineTable(groups), '', '## Uncertainty', '', summaryTable(summary), '');
  const note = uncertaintyNote(summary);
  if (note) out.push(note, '');
  out.push(...wallClockSection(groups));
  out.push(...prefillSection(groups));
  out.push('## Per mode', '', modeTable(groups), '');
  for (const [name, g] of groups) {
    if (!g.families) continue;
    const families = Object.entries(g.families);
    out.push(`## ${name} by family`, '', headlineTable(families, false), '', modeTable(families), '');
  }
  out.push(...sweepSections(summary));
  if (charts.length) {
    out.push('## Charts', '');
    for (const ch of charts) out.push(`![${ch.title}](${ch.file})`, '');
  }
  out.push(DEFINITIONS);
  return out.join('\n');
}

/** Write report.md and the charts into `outDir`; returns the paths written. */
export async function writeReport(
  outDir: string,
  summary: RunSummary,
  rows: ReadonlyArray<SampleRow & { dataset: string }>,
): Promise<{ report: string; charts: string[] }> {
  const charts = [
    ...Object.keys(summary.datasets).flatMap((name) =>
      datasetCharts(
        name,
        rows.filter((r) => r.dataset === name),
      ),
    ),
    ...frontierCharts(summary, CHARTS_DIR),
  ];
  const written: string[] = [];
  for (const ch of charts) {
    const file = path.join(outDir, ch.file);
    await writeFileAtomic(file, ch.svg);
    written.push(file);
  }
  const report = path.join(outDir, REPORT_FILE);
  await writeFileAtomic(report, renderReport(summary, charts));
  return { report, charts: written };
}
