/**
 * Compare two runs: a markdown table of every metric per dataset and mode, with B − A deltas.
 */
import type { GroupSummary, ModeSummary, SpeedupSummary } from './metrics.js';
import { describeDifferences, differingSettings } from '../src/batch/setting-differences.js';
import { readSummary, type RunSummary } from './summary.js';

type Kind = 'share' | 'tokens' | 'ratio' | 'number' | 'ms';

const MODE_METRICS: Array<[string, (s: ModeSummary) => number | null | undefined, Kind]> = [
  ['accuracy (avg@k)', (s) => s.accuracy, 'share'],
  ['pass@k', (s) => s.passAtK, 'share'],
  ['maj@k', (s) => s.majAtK, 'share'],
  ['format correct', (s) => s.formatCorrect, 'share'],
  ['format correct, lenient', (s) => s.formatCorrectLenient, 'share'],
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
  ['parallel width T/L (not a speedup)', (s) => s.parallelOwnTotalOverCriticalPath, 'ratio'],
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
 * What makes two runs' figures not directly comparable, in words: settings that differ (every
 * one named), datasets in only one run, datasets whose problems or files differ. Empty when the
 * runs match.
 */
export function compareWarnings(a: RunSummary, b: RunSummary, labels: [string, string] = ['A', 'B']): string[] {
  const [la, lb] = labels;
  const out: string[] = [];
  const pa = a.provenance;
  const pb = b.provenance;
  if (pa && pb) {
    const { datasets: da, node: _na, ...sa } = pa;
    const { datasets: db, node: _nb, ...sb } = pb;
    const diffs = differingSettings(sa, sb);
    if (diffs.length) out.push(`the runs differ in settings (${la}'s value first): ${describeDifferences(diffs, lb)}`);
    for (const name of Object.keys(a.datasets)) {
      const x = da[name];
      const y = db[name];
      if (!x || !y) continue;
      if (x.problemIdsSha256 !== y.problemIdsSha256) {
        out.push(
          `the runs cover different problems of ${name}: ${x.problems} in ${la}, ${y.problems} in ${lb}${x.problems === y.problems ? ' (same count, other problems or order)' : ''}`,
        );
      }
      if (x.sha256 !== y.sha256)
        out.push(
          `${name} was read from different data: ${x.path ?? 'generated'} (sha256 ${short(x.sha256)}) in ${la}, ${y.path ?? 'generated'} (sha256 ${short(y.sha256)}) in ${lb}`,
        );
    }
  } else {
    const missing = [pa ? undefined : la, pb ? undefined : lb].filter(Boolean);
    out.push(
      `${missing.join(' and ')} ${missing.length > 1 ? 'have' : 'has'} no provenance (written by an earlier version): only k, sampling and extraction can be compared, and the problems cannot`,
    );
    const { modes: _ma, ...ca } = a.config;
    const { modes: _mb, ...cb } = b.config;
    const diffs = differingSettings({ extract: 'boxed', ...ca }, { extract: 'boxed', ...cb });
    if (diffs.length) out.push(`the runs differ in settings (${la}'s value first): ${describeDifferences(diffs, lb)}`);
  }
  const names = (s: RunSummary) => Object.keys(s.datasets);
  const onlyA = names(a).filter((n) => !(n in b.datasets));
  const onlyB = names(b).filter((n) => !(n in a.datasets));
  if (onlyA.length) out.push(`only ${la} has ${onlyA.join(', ')}`);
  if (onlyB.length) out.push(`only ${lb} has ${onlyB.join(', ')}`);
  for (const name of names(a).filter((n) => n in b.datasets)) {
    for (const mode of ['parallel', 'sequential'] as const) {
      const x = a.datasets[name]![mode];
      const y = b.datasets[name]![mode];
      if (x && y && (x.problems !== y.problems || x.samples !== y.samples) && !(pa && pb)) {
        out.push(`${name} ${mode}: ${x.problems} problems × ${x.k} in ${la}, ${y.problems} × ${y.k} in ${lb}`);
      }
    }
  }
  return out;
}

const short = (sha: string | null): string => (sha ? sha.slice(0, 12) : 'unknown');

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
  const warnings = compareWarnings(a, b, labels).map((w) => `> **Warning:** ${w}.`);
  if (warnings.length) head.splice(2, 0, ...warnings, '');
  if (!rows.length)
    return [...head.slice(0, 2 + (warnings.length ? warnings.length + 1 : 0)), 'Neither run has results.', ''].join(
      '\n',
    );
  return [...head, ...rows, ''].join('\n');
}

/** Read two run folders (or summary.json files), validate them, and compare: the table and the warnings. */
export async function compareRunFolders(runA: string, runB: string): Promise<{ table: string; warnings: string[] }> {
  const [a, b] = await Promise.all([readSummary(runA), readSummary(runB)]);
  return { table: compareRuns(a, b, [runA, runB]), warnings: compareWarnings(a, b, [runA, runB]) };
}
