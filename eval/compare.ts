/**
 * Compare two runs: a markdown table of every metric per dataset and mode, with B − A deltas.
 */
import type { GroupSummary, ModeSummary, SpeedupSummary } from './metrics.js';
import { readSummary, type RunSummary } from './summary.js';

type Kind = 'share' | 'tokens' | 'ratio' | 'number' | 'ms';

const MODE_METRICS: Array<[string, (s: ModeSummary) => number, Kind]> = [
  ['accuracy (avg@k)', (s) => s.accuracy, 'share'],
  ['pass@k', (s) => s.passAtK, 'share'],
  ['maj@k', (s) => s.majAtK, 'share'],
  ['format correct', (s) => s.formatCorrect, 'share'],
  ['activation ratio', (s) => s.activationRatio, 'share'],
  ['mean total tokens', (s) => s.meanTotalTokens, 'tokens'],
  ['mean critical-path tokens', (s) => s.meanCriticalPathTokens, 'tokens'],
  ['mean acceleration η', (s) => s.meanAcceleration, 'number'],
  ['mean wall time per sample', (s) => s.wallMs.mean, 'ms'],
  ['samples', (s) => s.samples, 'number'],
];

const SPEEDUP_METRICS: Array<[string, (s: SpeedupSummary) => number | null, Kind]> = [
  ['average speedup (mean of per-problem ratios)', (s) => s.tokenLatencyMeanOfRatios, 'ratio'],
  ['speedup of mean latencies', (s) => s.tokenLatencyRatioOfMeans, 'ratio'],
  ['maximum speedup (correct only)', (s) => s.maxCorrect, 'ratio'],
  ['wall-clock speedup', (s) => s.wallClock, 'ratio'],
  ['parallel own T/L (not a speedup)', (s) => s.parallelOwnTotalOverCriticalPath, 'ratio'],
];

function value(v: number | null | undefined, kind: Kind): string {
  if (v == null) return '–';
  switch (kind) {
    case 'share':
      return `${(v * 100).toFixed(1)}%`;
    case 'tokens':
      return v.toFixed(0);
    case 'ratio':
      return `${v.toFixed(2)}×`;
    case 'ms':
      return `${(v / 1000).toFixed(2)} s`;
    default:
      return Number.isInteger(v) ? String(v) : v.toFixed(3);
  }
}

function delta(a: number | null | undefined, b: number | null | undefined, kind: Kind): string {
  if (a == null || b == null) return '–';
  const d = b - a;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  const m = Math.abs(d);
  const rel = a !== 0 && kind !== 'share' ? ` (${sign}${((m / Math.abs(a)) * 100).toFixed(1)}%)` : '';
  switch (kind) {
    case 'share':
      return `${sign}${(m * 100).toFixed(1)} pp`;
    case 'tokens':
      return `${sign}${m.toFixed(0)}${rel}`;
    case 'ratio':
      return `${sign}${m.toFixed(2)}×`;
    case 'ms':
      return `${sign}${(m / 1000).toFixed(2)} s${rel}`;
    default:
      return `${sign}${Number.isInteger(m) ? m : m.toFixed(3)}`;
  }
}

/**
 * A markdown table comparing run A with run B: per dataset, each mode's metrics and the speedups,
 * with the delta B − A (shares in percentage points). Datasets present in only one run show `–`.
 */
export function compareRuns(a: RunSummary, b: RunSummary, labels: [string, string] = ['A', 'B']): string {
  const names = [...new Set([...Object.keys(a.datasets), ...Object.keys(b.datasets)])];
  const rows: string[] = [];
  const push = (cells: string[]): void => void rows.push(`| ${cells.join(' | ')} |`);
  for (const name of names) {
    const ga: GroupSummary | undefined = a.datasets[name];
    const gb: GroupSummary | undefined = b.datasets[name];
    for (const mode of ['sequential', 'parallel'] as const) {
      const sa = ga?.[mode];
      const sb = gb?.[mode];
      if (!sa && !sb) continue;
      for (const [label, get, kind] of MODE_METRICS) {
        const va = sa ? get(sa) : null;
        const vb = sb ? get(sb) : null;
        push([name, mode, label, value(va, kind), value(vb, kind), delta(va, vb, kind)]);
      }
    }
    for (const [label, get, kind] of SPEEDUP_METRICS) {
      const va = ga ? get(ga.speedup) : null;
      const vb = gb ? get(gb.speedup) : null;
      if (va == null && vb == null) continue;
      push([name, 'speedup', label, value(va, kind), value(vb, kind), delta(va, vb, kind)]);
    }
  }
  const [la, lb] = labels;
  const head = [
    `Comparing ${la} (${a.createdAt}, k=${a.config.k}, T=${a.config.temperature}) with ` +
      `${lb} (${b.createdAt}, k=${b.config.k}, T=${b.config.temperature}); Δ = ${lb} − ${la}.`,
    '',
    `| dataset | mode | metric | ${la} | ${lb} | Δ |`,
    '| --- | --- | --- | ---: | ---: | ---: |',
  ];
  if (!rows.length) return [...head.slice(0, 2), 'Neither run has results.', ''].join('\n');
  return [...head, ...rows, ''].join('\n');
}

/** Read two run folders (or summary.json files), validate them, and compare. */
export async function compareRunFolders(runA: string, runB: string): Promise<string> {
  const [a, b] = await Promise.all([readSummary(runA), readSummary(runB)]);
  return compareRuns(a, b, [runA, runB]);
}
