/**
 * The accuracy–latency frontier of a sweep (as the ThreadWeaver and APR papers draw it): per
 * dataset, accuracy against mean critical-path tokens and against mean wall clock, one point per
 * budget, parallel and sequential on one plot; and the sweep's table for report.md.
 */
import type { ModeSummary } from './metrics.js';
import type { Chart } from './report.js';
import type { RunSummary } from './summary.js';
import { lineChartSvg, type Point } from './svg.js';
import type { SweepSummary } from './sweep.js';

type Mode = 'parallel' | 'sequential';
const MODES: readonly Mode[] = ['parallel', 'sequential'];
const COLORS: Record<Mode, string> = { parallel: '#2563eb', sequential: '#ea580c' };

/** A sweep of summary.json, named for charts and headings. */
interface Sweep {
  key: 'budgets' | 'threadBudgets';
  /** What a point's number is. */
  what: string;
  /** File name part of its charts. */
  slug: string;
  points: Array<[number, SweepSummary]>;
}

function sweeps(summary: RunSummary): Sweep[] {
  const out: Sweep[] = [];
  const points = (r: Record<string, SweepSummary>) =>
    Object.entries(r)
      .map(([k, v]): [number, SweepSummary] => [Number(k), v])
      .sort((a, b) => a[0] - b[0]);
  if (summary.budgets)
    out.push({ key: 'budgets', what: 'response budget', slug: 'budget', points: points(summary.budgets) });
  if (summary.threadBudgets)
    out.push({
      key: 'threadBudgets',
      what: 'thread budget',
      slug: 'thread-budget',
      points: points(summary.threadBudgets),
    });
  return out;
}

/** One mode's frontier: a point per budget at (mean critical-path tokens or wall seconds, accuracy). */
export function frontierSeries(
  points: ReadonlyArray<[number, SweepSummary]>,
  dataset: string,
  mode: Mode,
  x: (m: ModeSummary) => number,
): Point[] {
  return points.flatMap(([tokens, p]) => {
    const m = p.datasets[dataset]?.[mode];
    return m ? [{ x: x(m), y: m.accuracy, label: String(tokens) }] : [];
  });
}

const safeName = (name: string): string => name.replace(/[^A-Za-z0-9_-]+/g, '_');

/** The frontier charts of every sweep in the summary: tokens and wall clock, per dataset. */
export function frontierCharts(summary: RunSummary, dir = 'charts'): Chart[] {
  const charts: Chart[] = [];
  for (const sw of sweeps(summary)) {
    const datasets = [...new Set(sw.points.flatMap(([, p]) => Object.keys(p.datasets)))];
    for (const dataset of datasets) {
      const axes = [
        {
          kind: 'frontier-tokens' as const,
          file: 'tokens',
          xLabel: 'mean critical-path tokens per sample (sequential: all its tokens)',
          x: (m: ModeSummary) => m.meanCriticalPathTokens,
        },
        {
          kind: 'frontier-wall' as const,
          file: 'wall',
          xLabel: 'mean wall clock per sample (s)',
          x: (m: ModeSummary) => m.wallMs.mean / 1000,
        },
      ];
      for (const axis of axes) {
        const series = MODES.map((mode) => ({
          name: mode,
          color: COLORS[mode],
          points: frontierSeries(sw.points, dataset, mode, axis.x),
        })).filter((s) => s.points.length);
        if (!series.length) continue;
        const title = `${dataset}: accuracy against ${axis.file === 'tokens' ? 'token latency' : 'wall clock'}, by ${sw.what}`;
        charts.push({
          dataset,
          kind: axis.kind,
          file: `${dir}/${safeName(dataset)}-${sw.slug}-frontier-${axis.file}.svg`,
          title,
          svg: lineChartSvg({
            title,
            xLabel: axis.xLabel,
            yLabel: 'accuracy (points labelled by budget)',
            series,
            yRange: [0, 1],
            yFormat: (v) => `${Math.round(v * 100)}%`,
            inOrder: true,
          }),
        });
      }
    }
  }
  return charts;
}

const pct = (v: number | null | undefined): string => (v == null ? '–' : `${(v * 100).toFixed(1)}%`);
const tokens = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0));

/** The sweep's table: one line per dataset, point and mode. */
export function sweepTable(points: ReadonlyArray<[number, SweepSummary]>, what: string): string {
  const header = [
    'dataset',
    what,
    'mode',
    'accuracy',
    'mean L (critical path)',
    'mean T (all tokens)',
    'wall per sample',
    'format strict',
    'format lenient',
  ];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i < 3 ? '---' : '---:')).join(' | ')} |`];
  const datasets = [...new Set(points.flatMap(([, p]) => Object.keys(p.datasets)))];
  for (const dataset of datasets)
    for (const [budget, p] of points)
      for (const mode of MODES) {
        const m = p.datasets[dataset]?.[mode];
        if (!m) continue;
        lines.push(
          `| ${[
            dataset,
            String(budget),
            mode,
            pct(m.accuracy),
            tokens(m.meanCriticalPathTokens),
            tokens(m.meanTotalTokens),
            `${(m.wallMs.mean / 1000).toFixed(2)} s`,
            pct(m.formatCorrect),
            pct(m.formatCorrectLenient),
          ].join(' | ')} |`,
        );
      }
  return lines.join('\n');
}

/** report.md's sweep sections (none without a sweep). */
export function sweepSections(summary: RunSummary): string[] {
  const out: string[] = [];
  for (const sw of sweeps(summary)) {
    out.push(
      `## ${sw.key === 'budgets' ? 'Budget sweep' : 'Thread-budget sweep'}`,
      '',
      sw.key === 'budgets'
        ? 'Every sample at each response budget (every thread counted). The Results above are the largest budget.'
        : 'Every sample with each thread capped at each budget, the response budget fixed; the sequential mode never forks, so its samples are run once and appear at every cap. The Results above are the largest cap.',
      '',
      sweepTable(sw.points, sw.what),
      '',
    );
  }
  return out;
}
