/** `stats.json` and the short `report.md` of an SFT run. */
import path from 'node:path';
import { jsonText, writeFileAtomic } from '../internal/files.js';
import type { DatasetStats, Distribution } from './stats.js';

export const STATS_FILE = 'stats.json';
export const REPORT_FILE = 'report.md';

export interface ReportSection {
  heading: string;
  rows: readonly (readonly [string, string | number])[];
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const num = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(3));
const spread = (d: Distribution | null): string =>
  d
    ? `mean ${num(d.mean)}, median ${num(d.median)}, p10 ${num(d.p10)}, p90 ${num(d.p90)}, min ${num(d.min)}, max ${num(d.max)}`
    : 'n/a';

function table(rows: ReportSection['rows'], head: readonly [string, string] = ['', '']): string {
  const cell = (v: string | number) => String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [`| ${head[0]} | ${head[1]} |`, '| --- | --- |', ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`)].join(
    '\n',
  );
}

export function renderReport(title: string, stats: DatasetStats, sections: readonly ReportSection[] = []): string {
  const threadCounts = Object.entries(stats.threadsPerBlockCounts)
    .map(([k, n]) => `${k} threads: ${n}`)
    .join(', ');
  const main: ReportSection['rows'] = [
    ['generated', stats.generated],
    ['format pass', `${stats.formatPass} (${pct(stats.formatPassRate)})`],
    ['correct', `${stats.correct} (${pct(stats.accuracy)})`],
    ['kept', `${stats.kept} (${pct(stats.keptShare)} of generated)`],
    ['kept with a parallel block', stats.keptWithParallel],
    ['blocks per trajectory', spread(stats.blocksPerTrajectory)],
    ['threads per block', stats.threadsPerBlock ? `${spread(stats.threadsPerBlock)} (${threadCounts})` : 'n/a'],
    ['η = 1 − L/T', spread(stats.acceleration)],
    ['tokens T per trajectory', spread(stats.totalTokens)],
    ['critical path L per trajectory', spread(stats.criticalPathTokens)],
    ['tokens kept (sum of T)', stats.keptTokens],
  ];
  const parts = [`# ${title}`, '', 'Figures over kept trajectories unless said otherwise.', '', table(main)];
  const bins = Object.entries(stats.accelerationHistogram);
  if (bins.length) parts.push('', '## η histogram (kept)', '', table(bins, ['η', 'trajectories']));
  for (const s of sections) if (s.rows.length) parts.push('', `## ${s.heading}`, '', table(s.rows));
  return parts.join('\n') + '\n';
}

/** Write `stats.json` (the given object) and `report.md` into `dir`. */
export async function writeStats(
  dir: string,
  stats: object,
  report: string,
): Promise<{ stats: string; report: string }> {
  const files = { stats: path.join(dir, STATS_FILE), report: path.join(dir, REPORT_FILE) };
  await writeFileAtomic(files.stats, jsonText(stats));
  await writeFileAtomic(files.report, report);
  return files;
}
