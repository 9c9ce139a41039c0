/**
 * The named benchmarks: where each one's public copy lives on the Hugging Face hub, how its rows
 * map to ours (`{id, problem, answer, ...}`), its licence and its expected row count.
 * `threadweaver data fetch` downloads from here; `--dataset NAME` reads the converted file.
 */
import { extractBoxedAll } from '../src/math/extract.js';
import { DatasetError } from './dataset.js';

/** One file of a hub dataset repository. */
export interface HubFile {
  /** `owner/name` of the dataset repository. */
  repo: string;
  /** A branch, tag or commit; `refs/convert/parquet` is the hub's own Parquet export of any dataset. */
  revision: string;
  /** Path inside the repository at that revision. */
  path: string;
  format: 'jsonl' | 'parquet';
  /** Rows this file holds. */
  rows: number;
}

/** A source row, as read from JSONL or Parquet. */
export type SourceRow = Record<string, unknown>;

/** One converted row; `fields` are extra metadata kept beside id, problem and answer. */
export interface ConvertedRow {
  id: string;
  problem: string;
  answer: string;
  [field: string]: unknown;
}

export interface Benchmark {
  name: string;
  /** The converted file's name in a data folder. */
  file: string;
  title: string;
  /** The public source: hub files (in order), or null for sets that are not published. */
  source: HubFile[] | null;
  /** Where the set comes from when it has no public download. */
  origin?: string;
  licence: string;
  /** Rows of the converted file. */
  rows: number;
  /**
   * One source row to ours. `index` counts rows within its file, `file` is the file's position
   * in `source`. Throw a plain Error (the fetcher adds file and row) for a row that cannot be read.
   */
  convert?: (row: SourceRow, index: number, file: number) => ConvertedRow;
  /** How the source's fields become ours, in words (shown by `data list --verbose` and the docs). */
  mapping?: string;
}

/** A field as text: strings as they are, whole numbers written without `.0`, others refused. */
export function text(row: SourceRow, ...names: string[]): string {
  for (const name of names) {
    const v = row[name];
    if (typeof v === 'string') return v;
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number' && Number.isFinite(v)) return String(v); // 27.0 is written 27
  }
  const present = Object.keys(row).join(', ') || 'none';
  throw new DatasetError(`no ${names.map((n) => `"${n}"`).join(' or ')} field (fields: ${present})`);
}

/** Fields kept as extra metadata: the named ones that are present, made JSON-safe. */
function keep(row: SourceRow, ...names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) if (row[n] !== undefined && row[n] !== null) out[n] = jsonSafe(row[n]);
  return out;
}

function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

const PARQUET_EXPORT = 'refs/convert/parquet';

export const BENCHMARKS: readonly Benchmark[] = [
  {
    name: 'aime24',
    file: 'aime24.jsonl',
    title: 'AIME 2024 I and II',
    source: [
      {
        repo: 'Maxwell-Jia/AIME_2024',
        revision: 'main',
        path: 'aime_2024_problems.parquet',
        format: 'parquet',
        rows: 30,
      },
    ],
    licence: 'MIT (dataset card); problems © MAA',
    rows: 30,
    mapping: 'id ← ID (e.g. 2024-I-1), problem ← Problem, answer ← Answer; solution kept',
    convert: (r) => ({
      id: text(r, 'ID', 'id'),
      problem: text(r, 'Problem', 'problem'),
      answer: text(r, 'Answer', 'answer'),
      ...keep(r, 'Solution'),
    }),
  },
  {
    name: 'aime25',
    file: 'aime25.jsonl',
    title: 'AIME 2025 I and II',
    source: [
      { repo: 'opencompass/AIME2025', revision: 'main', path: 'aime2025-I.jsonl', format: 'jsonl', rows: 15 },
      { repo: 'opencompass/AIME2025', revision: 'main', path: 'aime2025-II.jsonl', format: 'jsonl', rows: 15 },
    ],
    licence: 'see the dataset card; problems © MAA',
    rows: 30,
    mapping: 'id ← 2025-I-n / 2025-II-n by row order in each file, problem ← question, answer ← answer',
    convert: (r, i, f) => ({
      id: `2025-${f === 0 ? 'I' : 'II'}-${i + 1}`,
      problem: text(r, 'question', 'problem'),
      answer: text(r, 'answer'),
    }),
  },
  {
    name: 'amc23',
    file: 'amc23.jsonl',
    title: 'AMC 12 2023 (A and B)',
    source: [
      {
        repo: 'math-ai/amc23',
        revision: PARQUET_EXPORT,
        path: 'default/test/0000.parquet',
        format: 'parquet',
        rows: 40,
      },
    ],
    licence: 'Apache-2.0 (dataset card); problems © MAA',
    rows: 40,
    mapping:
      'id ← 2023-12A-n / 2023-12B-n from url (else amc23-<id>), problem ← question, answer ← answer (27.0 → 27); url kept',
    convert: (r, i) => {
      const url = typeof r.url === 'string' ? r.url : '';
      const m = /AMC_12([AB])_Problems\/Problem_(\d+)/.exec(url);
      const id = m ? `2023-12${m[1]}-${m[2]}` : `amc23-${r.id === undefined ? i : text(r, 'id')}`;
      return { id, problem: text(r, 'question', 'problem'), answer: text(r, 'answer'), ...keep(r, 'url') };
    },
  },
  {
    name: 'math500',
    file: 'math500.jsonl',
    title: 'MATH-500 (the PRM800K test split of MATH)',
    source: [{ repo: 'HuggingFaceH4/MATH-500', revision: 'main', path: 'test.jsonl', format: 'jsonl', rows: 500 }],
    licence: 'see the dataset card; MATH: MIT',
    rows: 500,
    mapping: 'id ← unique_id, problem ← problem, answer ← answer; subject, level, solution kept',
    convert: (r) => ({
      id: text(r, 'unique_id'),
      problem: text(r, 'problem'),
      answer: text(r, 'answer'),
      ...keep(r, 'subject', 'level', 'solution'),
    }),
  },
  {
    name: 'minerva',
    file: 'minerva_math.jsonl',
    title: 'Minerva Math (MIT OCW problems), benchmark name minerva_math',
    source: [
      {
        repo: 'math-ai/minervamath',
        revision: PARQUET_EXPORT,
        path: 'default/test/0000.parquet',
        format: 'parquet',
        rows: 272,
      },
    ],
    licence: 'see the dataset card; problems from MIT OpenCourseWare',
    rows: 272,
    mapping: 'id ← minerva-<row>, problem ← question, answer ← answer (or the last \\boxed{} of solution)',
    convert: (r, i) => {
      let answer: string;
      try {
        answer = text(r, 'answer');
      } catch (err) {
        const boxed = typeof r.solution === 'string' ? extractBoxedAll(r.solution).at(-1) : undefined;
        if (boxed === undefined) throw err;
        answer = boxed;
      }
      return { id: `minerva-${i}`, problem: text(r, 'question', 'problem'), answer, ...keep(r, 'solution', 'type') };
    },
  },
  {
    name: 'olympiadbench',
    file: 'olympiadbench.jsonl',
    title: 'OlympiadBench, open-ended text-only maths in English (OE_TO_maths_en_COMP)',
    source: [
      {
        repo: 'Hothan/OlympiadBench',
        revision: PARQUET_EXPORT,
        path: 'OE_TO_maths_en_COMP/train/0000.parquet',
        format: 'parquet',
        rows: 674,
      },
    ],
    licence: 'Apache-2.0 (OlympiadBench)',
    rows: 674,
    mapping:
      'id ← olympiadbench-<id>, problem ← question (after context, if any), answer ← final_answer joined by ", " with unescaped $ removed; subfield, answer_type, unit kept',
    convert: (r, i) => {
      const finals = Array.isArray(r.final_answer) ? r.final_answer.map(String) : [text(r, 'final_answer')];
      if (!finals.length) throw new DatasetError('final_answer is empty');
      const answer = finals.map((a) => a.replace(/(?<!\\)\$/g, '').trim()).join(', ');
      const context = typeof r.context === 'string' && r.context.trim() ? `${r.context.trim()}\n\n` : '';
      const id = r.id === undefined || r.id === null ? String(i) : text(r, 'id');
      return {
        id: `olympiadbench-${id}`,
        problem: context + text(r, 'question'),
        answer,
        final_answer: finals,
        ...keep(r, 'subfield', 'answer_type', 'unit', 'is_multiple_answer'),
      };
    },
  },
  {
    name: 'gsm8k',
    file: 'gsm8k.jsonl',
    title: 'GSM8K test split',
    source: [
      {
        repo: 'openai/gsm8k',
        revision: 'main',
        path: 'main/test-00000-of-00001.parquet',
        format: 'parquet',
        rows: 1319,
      },
    ],
    licence: 'MIT',
    rows: 1319,
    mapping: 'id ← gsm8k-<row>, problem ← question, answer ← the text after ####, solution ← the text before it',
    convert: (r, i) => {
      const full = text(r, 'answer');
      const cut = full.lastIndexOf('####');
      if (cut < 0) throw new DatasetError('answer has no "####" line');
      return {
        id: `gsm8k-${i}`,
        problem: text(r, 'question'),
        answer: full.slice(cut + 4).trim(),
        solution: full.slice(0, cut).trim(),
      };
    },
  },
  {
    name: 'arith500',
    file: 'arith500.jsonl',
    title: "arith500: 500 problems of the bundled model's task generator",
    source: null,
    origin:
      "made for the bundled model (its recipe's tasks.py, fixed seed); not published: use `--dataset arith` (the same generator in TypeScript, another stream of problems) or a copy of arith500.jsonl with --data-dir",
    licence: 'MIT (this project)',
    rows: 500,
  },
];

/** Benchmark names and their file names in the data folder. */
export const BENCHMARK_FILES: Readonly<Record<string, string>> = Object.fromEntries(
  BENCHMARKS.map((b) => [b.name, b.file]),
);

/** A benchmark by name; `minerva_math` (its file's name) is accepted for `minerva`. */
export function benchmark(name: string): Benchmark | undefined {
  return BENCHMARKS.find((b) => b.name === name || b.file === `${name}.jsonl`);
}
