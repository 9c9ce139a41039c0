/**
 * Eval datasets: JSONL benchmark files (validated row by row) and the built-in `arith` generator.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { generateArith } from './arith.js';
import { BENCHMARKS, benchmark } from './catalog.js';
import { createRng } from '../src/internal/random.js';
import { parseJsonLines, type RowIssue } from '../src/internal/jsonl.js';
import { packageRoot } from '../src/internal/package-root.js';
import { ThreadweaverError } from '../src/errors.js';

/** One problem of a dataset: its id, text and gold answer, and the row's other fields. */
export interface Problem {
  /** Unique within its dataset (the results store keys on it). */
  id: string;
  problem: string;
  /** The gold answer, as text. */
  answer: string;
  /** Any extra fields of the row (source, subject, level, family, ...), kept as they were. */
  [field: string]: unknown;
}

/** Where a dataset's rows came from: recorded in a run's provenance. */
export interface DatasetSource {
  /** The file read (absolute), or null for a generated set. */
  path: string | null;
  /** sha256 of the file's bytes, or of the generated rows written as JSONL. */
  sha256: string;
  /** Rows in the file (or generated), before any limit. */
  rows: number;
  /** The generator's seed (generated sets). */
  seed?: number;
}

/** A named list of problems, with where its rows came from. */
export interface Dataset {
  name: string;
  problems: Problem[];
  /** Where the rows came from (datasets built by hand may leave it out). */
  source?: DatasetSource;
}

/**
 * Which dataset loadDataset loads (a benchmark name, `arith` or a file), with the limit and seed
 * that pick its problems.
 */
export interface DatasetSpec {
  /** A benchmark name (see BENCHMARK_FILES), `arith`, or a path to a JSONL file. */
  name?: string | undefined;
  /** An explicit JSONL file; wins over `name` for locating rows (`name` then only labels the dataset). */
  file?: string | undefined;
  /** Folder holding the benchmark files. Default: $THREADWEAVER_DATA_DIR, else `<repo>/../shared/benchmarks`. */
  dataDir?: string | undefined;
  /** Keep at most this many problems. */
  limit?: number | undefined;
  /**
   * For `arith`: the generator seed (default ARITH_DEFAULT_SEED).
   * For files with a `limit`: pick a seeded random subset (in file order) instead of the first rows.
   */
  seed?: number | undefined;
}

export { BENCHMARK_FILES } from './catalog.js';

export const ARITH_DEFAULT_SEED = 2026;
export const ARITH_DEFAULT_COUNT = 500;

/** A dataset that cannot be loaded; the message names the file (and line) at fault. */
export class DatasetError extends ThreadweaverError {
  override name = 'DatasetError';
}

const idOrText = z.union([z.string(), z.number()]).transform(String);
const rowSchema = z.looseObject({
  id: idOrText.pipe(z.string().min(1, 'must not be empty')),
  problem: z.string().refine((s) => s.trim().length > 0, 'must be a non-empty string'),
  answer: idOrText,
});

const EXPECTED: Record<string, string> = {
  id: 'a non-empty string or a number',
  problem: 'a non-empty string',
  answer: 'a string or a number',
};

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.trim() ? 'a string' : 'an empty string';
  return `a ${typeof value}`;
}

/** A row error in plain words: which field, what it should be, what it was. */
function describeIssue(row: unknown, key: PropertyKey | undefined): string {
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    return `row must be a JSON object, got ${kindOf(row)}`;
  const field = String(key);
  const value = (row as Record<string, unknown>)[field];
  if (value === undefined) return `field "${field}" is missing`;
  return `field "${field}" must be ${EXPECTED[field] ?? 'valid'}, got ${kindOf(value)}`;
}

/**
 * The default data folder: $THREADWEAVER_DATA_DIR, else a checkout's `../shared/benchmarks` when
 * present; undefined otherwise (then the fetch cache, defaultCacheDir(), is where names resolve).
 */
export function defaultDataDir(): string | undefined {
  const env = process.env.THREADWEAVER_DATA_DIR;
  if (env) return env;
  const root = packageRoot();
  const dir = root && path.resolve(root, '../shared/benchmarks');
  return dir && existsSync(dir) ? dir : undefined;
}

/**
 * Where `threadweaver data fetch` stores benchmarks unless told otherwise, under the user's cache
 * directory: $THREADWEAVER_CACHE_DIR/datasets, else $XDG_CACHE_HOME/threadweaver/datasets, else
 * ~/Library/Caches/threadweaver/datasets (macOS), %LOCALAPPDATA%\threadweaver\Cache\datasets
 * (Windows), ~/.cache/threadweaver/datasets.
 */
export function defaultCacheDir(): string {
  const own = process.env.THREADWEAVER_CACHE_DIR;
  if (own) return path.join(own, 'datasets');
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg) return path.join(xdg, 'threadweaver', 'datasets');
  const home = os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'threadweaver', 'datasets');
  if (process.platform === 'win32')
    return path.join(
      process.env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'),
      'threadweaver',
      'Cache',
      'datasets',
    );
  return path.join(home, '.cache', 'threadweaver', 'datasets');
}

/** Parse and validate JSONL text; `file` is only used in error messages. */
export function parseProblems(text: string, file: string): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  const options = {
    error: DatasetError,
    describe: (json: unknown, issue: RowIssue) => describeIssue(json, issue.path[0]),
  };
  for (const { row, line } of parseJsonLines(text, file, rowSchema, options)) {
    const problem = row;
    const first = seen.get(problem.id);
    if (first !== undefined)
      throw new DatasetError(`${file}:${line}: duplicate id "${problem.id}" (first on line ${first})`);
    seen.set(problem.id, line);
    problems.push(problem);
  }
  if (problems.length === 0) throw new DatasetError(`${file}: no problems (the file is empty)`);
  return problems;
}

async function loadFile(file: string): Promise<{ problems: Problem[]; source: DatasetSource }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetError(code === 'ENOENT' ? `${file}: no such dataset file` : `${file}: ${(err as Error).message}`);
  }
  const problems = parseProblems(bytes.toString('utf8'), file);
  return { problems, source: { path: path.resolve(file), sha256: sha256(bytes), rows: problems.length } };
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

function arithProblems(count: number, seed: number): Problem[] {
  return generateArith(count, seed).map((t, i) => ({
    id: `arith-${seed}-${i}`,
    problem: t.problem,
    answer: String(t.answer),
    family: t.family,
    parallelizable: t.subs !== null,
  }));
}

/** Keep `limit` problems: the first ones, or with a seed a random subset kept in file order. */
function applyLimit(problems: Problem[], limit: number | undefined, seed: number | undefined): Problem[] {
  if (limit === undefined || limit >= problems.length) return problems;
  if (seed === undefined) return problems.slice(0, limit);
  const picked = createRng(seed)
    .sample(
      problems.map((_, i) => i),
      limit,
    )
    .sort((a, b) => a - b);
  return picked.map((i) => problems[i]!);
}

/**
 * The folders a benchmark name is looked up in, in order: `dataDir` alone when given, else
 * $THREADWEAVER_DATA_DIR alone when set, else the fetch cache, then a checkout's ../shared/benchmarks.
 */
export function dataFolders(dataDir?: string): string[] {
  if (dataDir) return [dataDir];
  if (process.env.THREADWEAVER_DATA_DIR) return [process.env.THREADWEAVER_DATA_DIR];
  return [defaultCacheDir(), defaultDataDir()].filter((d): d is string => d !== undefined);
}

/** The file of a benchmark name: the first of dataFolders() that holds it. */
function resolveFile(name: string, dataDir: string | undefined): string {
  const b = benchmark(name);
  if (b) {
    if (dataDir) return path.join(dataDir, b.file);
    const folders = dataFolders();
    const found = folders.map((d) => path.join(d, b.file)).find((f) => existsSync(f));
    if (found) return found;
    const how = b.source
      ? `run \`threadweaver data fetch ${b.name}\` (it stores ${b.file} in ${defaultCacheDir()})`
      : `it has no public download (${b.origin})`;
    throw new DatasetError(
      `dataset "${name}" is not in ${folders.join(' or ')}: ${how}, or pass dataDir (--data-dir) or set THREADWEAVER_DATA_DIR`,
    );
  }
  if (name.endsWith('.jsonl') || name.includes('/') || name.includes(path.sep)) return name;
  throw new DatasetError(
    `unknown dataset "${name}": use one of ${[...BENCHMARKS.map((x) => x.name), 'arith'].join(', ')} or a .jsonl path`,
  );
}

/** A dataset's display name for a file path: its base name without `.jsonl`. */
function nameOfFile(file: string): string {
  return path.basename(file).replace(/\.jsonl$/, '');
}

/**
 * Load a dataset by name (benchmark, `arith`) or file path.
 * Throws DatasetError naming the file and line for malformed rows, an empty file, a missing file.
 */
export async function loadDataset(spec: DatasetSpec): Promise<Dataset> {
  if (spec.limit !== undefined && (!Number.isInteger(spec.limit) || spec.limit < 1)) {
    throw new DatasetError(`limit must be a positive whole number, got ${spec.limit}`);
  }
  if (!spec.file && spec.name === 'arith') {
    const seed = spec.seed ?? ARITH_DEFAULT_SEED;
    const problems = arithProblems(spec.limit ?? ARITH_DEFAULT_COUNT, seed);
    const jsonl = problems.map((p) => JSON.stringify(p) + '\n').join('');
    return { name: 'arith', problems, source: { path: null, sha256: sha256(jsonl), rows: problems.length, seed } };
  }
  const file = spec.file ?? (spec.name !== undefined ? resolveFile(spec.name, spec.dataDir) : undefined);
  if (!file) throw new DatasetError('a dataset needs a name or a file');
  const { problems, source } = await loadFile(file);
  const known = spec.name === undefined ? undefined : benchmark(spec.name);
  const name = spec.name && spec.file ? spec.name : known ? known.name : nameOfFile(file);
  return { name, problems: applyLimit(problems, spec.limit, spec.seed), source };
}
