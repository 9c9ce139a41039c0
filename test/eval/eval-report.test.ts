import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRunFolders, compareRuns, compareWarnings } from '../../eval/compare.js';
import type { SampleRow } from '../../eval/metrics.js';
import { accuracyByLatency, datasetCharts, renderReport, summaryTable } from '../../eval/report.js';
import { readSummary, summarizeRun, type RunSummary } from '../../eval/summary.js';
import { histogramSvg, lineChartSvg, niceStep } from '../../eval/svg.js';
import { assertWellFormed } from '../support/eval-xml.js';

function row(
  problemId: string,
  sample: number,
  mode: SampleRow['mode'],
  correct: boolean,
  T: number,
  L: number,
  wallMs = T,
): SampleRow & { dataset: string } {
  return {
    dataset: 'x',
    problemId,
    sample,
    mode,
    correct,
    answer: correct ? '1' : '2',
    formatValid: true,
    parallelBlocks: L < T ? 1 : 0,
    totalTokens: T,
    criticalPathTokens: L,
    acceleration: 1 - L / T,
    wallMs,
  };
}

const config = {
  k: 1,
  modes: ['parallel', 'sequential'] as ('parallel' | 'sequential')[],
  temperature: 0.6,
  topP: 0.95,
  seedBase: 0,
};

function runOf(datasets: Record<string, Array<SampleRow & { dataset: string }>>): RunSummary {
  const rows = Object.entries(datasets).flatMap(([name, rs]) => rs.map((r) => ({ ...r, dataset: name })));
  return summarizeRun(rows, config, Object.keys(datasets));
}

describe('the XML checker used on the charts', () => {
  it('accepts well-formed and rejects broken markup', () => {
    expect(() => assertWellFormed('<svg a="1"><g><rect x="1"/></g><text>a &amp; b</text></svg>')).not.toThrow();
    expect(() => assertWellFormed('<svg><g></svg>')).toThrow();
    expect(() => assertWellFormed('<svg><g>')).toThrow(/unclosed/);
    expect(() => assertWellFormed('<svg><text>a & b</text></svg>')).toThrow(/bare &/);
    expect(() => assertWellFormed('<svg><text>a < b</text></svg>')).toThrow(/stray/);
    expect(() => assertWellFormed('<svg><rect x=1/></svg>')).toThrow();
  });
});

describe('SVG charts', () => {
  it('niceStep picks 1-2-5 steps', () => {
    expect(niceStep(10, 5)).toBe(2);
    expect(niceStep(1, 4)).toBe(0.5);
    expect(niceStep(730, 8)).toBe(100);
    expect(niceStep(0, 5)).toBe(1);
  });

  it('a histogram counts every value once and escapes its labels', () => {
    const values = [0.9, 1, 1, 1.02, 1.3, 2.5, 2.5, 3];
    const svg = histogramSvg({
      title: 'T < 1 & "quoted"',
      xLabel: 'x',
      yLabel: 'n',
      values,
      markers: [{ x: 1, label: 'no speedup' }],
    });
    assertWellFormed(svg);
    expect(svg).toContain('T &lt; 1 &amp; &quot;quoted&quot;');
    const counts = [...svg.matchAll(/<title>[^<]*: (\d+)<\/title><\/rect>/g)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    expect(svg).toContain('no speedup');
  });

  it("no bar reaches up into the markers' labels", () => {
    const svg = histogramSvg({
      title: 't',
      xLabel: 'x',
      yLabel: 'n',
      values: [0.9, 1, 1, 1, 1.1],
      markers: [
        { x: 1, label: 'no speedup (1×)' },
        { x: 1.02, label: 'mean 1.02×' },
      ],
    });
    const barTops = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)"[^>]*fill-opacity/g)].map((m) => Number(m[1]));
    const labelBottoms = [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" font-size="11" fill="#6b7280">/g)].map(
      (m) => Number(m[1]) + 3,
    );
    expect(barTops.length).toBeGreaterThan(0);
    expect(labelBottoms).toHaveLength(2);
    expect(Math.min(...barTops)).toBeGreaterThan(Math.max(...labelBottoms));
  });

  it('a single repeated value still draws one bar', () => {
    const svg = histogramSvg({ title: 't', xLabel: 'x', yLabel: 'y', values: [1, 1, 1] });
    assertWellFormed(svg);
    expect([...svg.matchAll(/: 3<\/title><\/rect>/g)]).toHaveLength(1);
  });

  it('empty data gives a labelled empty chart', () => {
    for (const svg of [
      histogramSvg({ title: 't', xLabel: 'x', yLabel: 'y', values: [] }),
      lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }),
    ]) {
      assertWellFormed(svg);
      expect(svg).toContain('no data');
    }
  });

  it('a line chart draws a path and points per series with a legend', () => {
    const svg = lineChartSvg({
      title: 'acc',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 'parallel',
          points: [
            { x: 3, y: 0.5 },
            { x: 1, y: 0.9 },
          ],
        },
        { name: 'sequential', points: [{ x: 2, y: 0.7 }] },
      ],
      yRange: [0, 1],
    });
    assertWellFormed(svg);
    expect(svg.match(/<path /g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(3);
    expect(svg).toContain('>sequential</text>');
  });

  it('accuracy by latency bins samples into equal-count groups', () => {
    const rows = Array.from({ length: 8 }, (_, i) => row(`p${i}`, 0, 'parallel', i < 4, 100 + i * 10, 100 + i * 10));
    expect(accuracyByLatency(rows, 4)).toEqual([
      { x: 105, y: 1 },
      { x: 125, y: 1 },
      { x: 145, y: 0 },
      { x: 165, y: 0 },
    ]);
    expect(accuracyByLatency(rows.slice(0, 2), 8)).toHaveLength(2);
  });

  it('datasetCharts gives the histogram only when both modes are there', () => {
    const par = [row('a', 0, 'parallel', true, 100, 60)];
    expect(datasetCharts('d', par).map((c) => c.kind)).toEqual(['accuracy-vs-latency']);
    const both = datasetCharts('my set/1', [...par, row('a', 0, 'sequential', true, 90, 90)]);
    expect(both.map((c) => c.file)).toEqual(['charts/my_set_1-speedup.svg', 'charts/my_set_1-accuracy-vs-latency.svg']);
  });
});

describe('report.md', () => {
  const a = [row('p', 0, 'parallel', true, 200, 100), row('p', 0, 'sequential', true, 150, 150)];
  const b = [row('q', 0, 'parallel', false, 1000, 1000), row('q', 0, 'sequential', true, 3000, 3000)];

  it('has the paper-shaped table with an average column and definitions', () => {
    const md = renderReport(runOf({ a, b }));
    const lines = md.split('\n');
    const table = (label: string) =>
      lines
        .find((l) => l.startsWith(`| ${label} |`))!
        .split('|')
        .slice(2, -1)
        .map((c) => c.trim());
    expect(lines).toContain('|  | a | b | Avg |');
    expect(table('Accuracy, sequential')).toEqual(['100.0%', '100.0%', '100.0%']);
    expect(table('Accuracy, parallel')).toEqual(['100.0%', '0.0%', '50.0%']);
    expect(table('Latency (tokens), sequential')).toEqual(['150', '3.0k', '1.6k']);
    expect(table('Latency (tokens), parallel')).toEqual(['100', '1.0k', '550']);
    expect(table('Average speedup')).toEqual(['1.50×', '3.00×', '2.25×']);
    expect(table('Maximum speedup (correct only)')).toEqual(['1.50×', '–', '–']);
    expect(table('Wall-clock speedup')).toEqual(['0.75×', '3.00×', '1.88×']);
    expect(md).toContain('## Definitions');
    expect(md).toContain('**not** a speedup against the sequential mode');
  });

  it('shows dashes for a missing mode and says when there is nothing', () => {
    const md = renderReport(runOf({ a: a.slice(0, 1) }));
    expect(md).toMatch(/\| Accuracy, sequential \| – \|/);
    expect(md).toMatch(/\| Average speedup \| – \|/);
    expect(renderReport(runOf({}))).toContain('No results yet.');
  });
});

describe('report.md: uncertainty and wall clock', () => {
  const withPrompts = (rs: Array<SampleRow & { dataset: string }>) =>
    rs.map((r) => ({
      ...r,
      promptTokens: r.mode === 'sequential' ? 105 : 49,
      prefillMs: r.mode === 'sequential' ? 8 : 4,
    }));
  const rows = withPrompts([
    row('p', 0, 'parallel', true, 200, 100),
    row('p', 0, 'sequential', true, 150, 150),
    row('q', 0, 'parallel', false, 300, 120),
    row('q', 0, 'sequential', true, 240, 240),
  ]);

  it('the summary table gives accuracy with its standard error and 95% interval, and speedups with paired intervals', () => {
    const run = runOf({ a: rows });
    const md = renderReport(run);
    expect(md).toContain('## Uncertainty');
    const line = (prefix: string) => md.split('\n').find((l) => l.startsWith(prefix));
    expect(line('| a | parallel | 2×1 | accuracy (avg@k) |')).toBe(
      '| a | parallel | 2×1 | accuracy (avg@k) | 50.0% | ± 50.0 | [0.0, 100.0] |',
    );
    expect(line('| a | sequential | 2×1 | accuracy (avg@k) |')).toBe(
      '| a | sequential | 2×1 | accuracy (avg@k) | 100.0% | ± 0.0 | [100.0, 100.0] |',
    );
    // Per problem: 150/100 = 1.5 and 240/120 = 2; pooled (150+240)/(100+120).
    expect(line('| a | speedup | 2 | tokens: seq T ÷ par L, ratio of means |')).toBe(
      `| a | speedup | 2 | tokens: seq T ÷ par L, ratio of means | ${(390 / 220).toFixed(2)}× |  | [1.50, 2.00] |`,
    );
    expect(line('| a | speedup | 2 | tokens: mean of per-problem ratios |')).toBe(
      '| a | speedup | 2 | tokens: mean of per-problem ratios | 1.75× |  | [1.50, 2.00] |',
    );
    expect(md).toMatch(/percentile bootstrap intervals over problems \(1000 resamples, seed 0\)/);
    expect(summaryTable(run)).toBe(md.slice(md.indexOf('| dataset | mode | n |'), md.indexOf('\n\nAccuracy is in %')));
  });

  it("says when the modes' prompts differ and shows decode-only wall time beside total", () => {
    const md = renderReport(runOf({ a: rows }));
    expect(md).toContain('## Wall clock');
    expect(md).toContain("**a: the modes' prompts differ in length**: 105 tokens sequential, 49 parallel on average");
    const line = (prefix: string) => md.split('\n').find((l) => l.startsWith(prefix));
    // Sequential wall 150 and 240 ms, 8 ms prefill each: decode-only 187 ms, total 195 ms.
    expect(line('| a | sequential | 105 |')).toBe('| a | sequential | 105 | 8.0 ms | 0.19 s | 0.20 s |');
    expect(line('| Wall-clock speedup, decode only |')).toBe(
      `| Wall-clock speedup, decode only | ${((195 - 8) / (250 - 4)).toFixed(2)}× |`,
    );
    const same = renderReport(runOf({ a: rows.map((r) => ({ ...r, promptTokens: 60 })) }));
    expect(same).not.toContain('prompts differ');
  });
});

describe('compare', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tw-compare-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const runA = runOf({ a: [row('p', 0, 'parallel', false, 200, 100), row('p', 0, 'sequential', true, 150, 150)] });
  const runB = runOf({
    a: [row('p', 0, 'parallel', true, 200, 80), row('p', 0, 'sequential', true, 150, 150)],
    extra: [row('z', 0, 'parallel', true, 10, 10)],
  });

  it('tabulates deltas per dataset, mode and metric', () => {
    const md = compareRuns(runA, runB);
    const find = (prefix: string) => md.split('\n').find((l) => l.startsWith(prefix));
    expect(find('| a | parallel | accuracy (avg@k) |')).toBe(
      '| a | parallel | accuracy (avg@k) | 0.0% | 100.0% | +100.0 pp |',
    );
    expect(find('| a | parallel | mean critical-path tokens |')).toBe(
      '| a | parallel | mean critical-path tokens | 100 | 80 | −20 (−20.0%) |',
    );
    expect(find('| a | sequential | mean total tokens |')).toBe(
      '| a | sequential | mean total tokens | 150 | 150 | ±0 (±0.0%) |',
    );
    expect(find('| a | speedup | speedup of mean latencies |')).toBe(
      '| a | speedup | speedup of mean latencies | 1.50× | 1.88× | +0.38× |',
    );
    expect(find('| extra | parallel | accuracy (avg@k) |')).toBe(
      '| extra | parallel | accuracy (avg@k) | – | 100.0% | – |',
    );
    expect(find('| extra | sequential')).toBeUndefined();
    expect(md).toContain('Δ = B − A');
  });

  it('warns when the runs cover different problems or were made with different settings', () => {
    const prov = (over: Record<string, unknown>, problems: number, ids: string) => ({
      version: '0.1.0',
      node: 'v20',
      model: 'm',
      modelFile: null,
      modelSha256: 'aa',
      dtype: 'q8',
      engine: 'embedded' as const,
      promptStyle: 'trained',
      maxTokens: null,
      temperature: 0.6,
      topP: 0.95,
      seedBase: 0,
      extract: 'boxed' as const,
      k: 1,
      preset: null,
      datasets: { a: { path: '/d/a.jsonl', sha256: 'f1', rows: 50, problems, problemIdsSha256: ids } },
      ...over,
    });
    const a = { ...runA, provenance: prov({}, 30, 'x') };
    const b = { ...runB, provenance: prov({ temperature: 0, modelSha256: 'bb' }, 40, 'y') };
    const warnings = compareWarnings(a, b);
    expect(warnings).toContain(
      'the runs differ in settings (A\'s value first): model sha256 "aa" (B: "bb"), temperature 0.6 (B: 0)',
    );
    expect(warnings).toContain('the runs cover different problems of a: 30 in A, 40 in B');
    expect(warnings).toContain('only B has extra');
    expect(compareRuns(a, b)).toContain('> **Warning:** the runs cover different problems of a: 30 in A, 40 in B.');
    const same = { ...runA, provenance: prov({}, 30, 'x') };
    expect(compareWarnings(a, same)).toEqual([]);
    // Summaries without provenance: say so, compare what the config holds.
    expect(compareWarnings(runA, { ...runA, config: { ...runA.config, temperature: 0 } })).toEqual([
      'A and B have no provenance (written by an earlier version): only k, sampling and extraction can be compared, and the problems cannot',
      "the runs differ in settings (A's value first): temperature 0.6 (B: 0)",
    ]);
  });

  it('reads run folders and validates summary.json', async () => {
    const da = path.join(dir, 'A');
    const db = path.join(dir, 'B');
    await mkdir(da);
    await mkdir(db);
    await writeFile(path.join(da, 'summary.json'), JSON.stringify(runA));
    await writeFile(path.join(db, 'summary.json'), JSON.stringify(runB));
    expect(await readSummary(da)).toEqual(JSON.parse(JSON.stringify(runA)));
    const { table: md, warnings } = await compareRunFolders(da, db);
    expect(md).toContain(`| dataset | mode | metric | ${da} | ${db} | Δ |`);
    expect(warnings).toContain(`only ${db} has extra`);

    await expect(readSummary(path.join(dir, 'none'))).rejects.toThrow(/no such run folder/);
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    await expect(readSummary(empty)).rejects.toThrow(/summary.json: not found/);
    await writeFile(path.join(empty, 'summary.json'), '{oops');
    await expect(readSummary(empty)).rejects.toThrow(/summary.json: invalid JSON/);
    const broken = JSON.parse(JSON.stringify(runA));
    broken.datasets.a.parallel.accuracy = 'high';
    await writeFile(path.join(empty, 'summary.json'), JSON.stringify(broken));
    await expect(readSummary(empty)).rejects.toThrow(/not a run summary: datasets\.a\.parallel\.accuracy/);
  });
});
