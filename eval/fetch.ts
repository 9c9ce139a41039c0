/**
 * `threadweaver data fetch`: download a benchmark's public files from the Hugging Face hub (or a
 * mirror of it), convert the rows to ours, check the counts, and store the JSONL file in a data
 * folder (by default the user's cache) where `--dataset NAME` finds it.
 */
import path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { z } from 'zod';
import { jsonlText, writeFileAtomic } from '../src/internal/files.js';
import { parseJsonLines } from '../src/internal/jsonl.js';
import { BENCHMARKS, benchmark, type Benchmark, type ConvertedRow, type HubFile, type SourceRow } from './catalog.js';
import { DatasetError, defaultCacheDir, parseProblems } from './dataset.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/**
 * The hub (or mirror) to download from: `endpoint` when given, else $HF_ENDPOINT (the variable
 * huggingface_hub reads, so a mirror set up for it works here too), else huggingface.co.
 */
export function hubEndpoint(endpoint?: string): string {
  const url = endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT;
  if (!/^https?:\/\/[^/]/.test(url)) throw new DatasetError(`mirror must be an http:// or https:// URL, got "${url}"`);
  return url.replace(/\/+$/, '');
}

/** The URL of a hub file: `<endpoint>/datasets/<repo>/resolve/<revision>/<path>`. */
export function fileUrl(endpoint: string, f: HubFile): string {
  const segments = (p: string) => p.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/datasets/${segments(f.repo)}/resolve/${encodeURIComponent(f.revision)}/${segments(f.path)}`;
}

/** Options of fetchBenchmark: the data folder, hub or mirror, token, timeout, abort signal and a callback per file. */
export interface FetchOptions {
  /** Where to store the converted file (default: defaultCacheDir()). */
  dataDir?: string | undefined;
  /** Hub or mirror root (default: $HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string | undefined;
  /** Bearer token for gated or private repositories (default: $HF_TOKEN). */
  token?: string | undefined;
  /** Per-file timeout (default 120 s). */
  timeoutMs?: number | undefined;
  /** Stops the download (the error is the signal's reason); nothing is written. */
  signal?: AbortSignal | undefined;
  /** Told about each file as it downloads. */
  onFile?: ((e: { benchmark: string; url: string; bytes: number }) => void) | undefined;
}

/** What fetchBenchmark stored: the converted file, its rows, and the files downloaded. */
export interface FetchResult {
  name: string;
  /** The converted JSONL file written. */
  file: string;
  rows: number;
  /** The files downloaded, with their sizes. */
  sources: Array<{ url: string; bytes: number }>;
}

/** A download that failed: the message says which URL and what to do. */
export class FetchError extends DatasetError {
  override name = 'FetchError';
}

async function download(url: string, o: FetchOptions): Promise<Uint8Array> {
  const token = o.token ?? process.env.HF_TOKEN;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { 'user-agent': 'threadweaver-ts', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: o.signal
        ? AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs ?? 120_000)])
        : AbortSignal.timeout(o.timeoutMs ?? 120_000),
      redirect: 'follow',
    });
  } catch (err) {
    if (o.signal?.aborted) throw o.signal.reason;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new FetchError(
      `${url}: cannot download (${why}). Offline or behind a proxy? Point --mirror (or $HF_ENDPOINT) at a Hugging Face mirror you can reach.`,
    );
  }
  if (!res.ok) {
    const hint =
      res.status === 401 || res.status === 403
        ? 'the repository needs an access token: set $HF_TOKEN'
        : res.status === 404
          ? 'the file is not there: the dataset may have moved, or the mirror does not have it'
          : 'try again later, or use --mirror';
    throw new FetchError(`${url}: HTTP ${res.status} ${res.statusText}: ${hint}.`);
  }
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    if (o.signal?.aborted) throw o.signal.reason;
    throw new FetchError(`${url}: the download broke off (${(err as Error).message})`);
  }
}

/** The rows of a downloaded file. */
export async function readSourceRows(bytes: Uint8Array, f: HubFile, where: string): Promise<SourceRow[]> {
  if (f.format === 'jsonl') {
    const object = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' });
    return parseJsonLines(new TextDecoder().decode(bytes), where, object, { error: FetchError }).map((r) => r.row);
  }
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    return (await parquetReadObjects({ file: buffer })) as SourceRow[];
  } catch (err) {
    throw new FetchError(`${where}: not a readable Parquet file (${(err as Error).message})`);
  }
}

/** Download, convert, check and store one benchmark. */
export async function fetchBenchmark(name: string, o: FetchOptions = {}): Promise<FetchResult> {
  const b = benchmark(name);
  if (!b)
    throw new DatasetError(
      `unknown dataset "${name}": use one of ${BENCHMARKS.map((x) => x.name).join(', ')} (or all)`,
    );
  if (!b.source || !b.convert)
    throw new DatasetError(`${b.name} has no public download: ${b.origin ?? 'not published'}`);
  const endpoint = hubEndpoint(o.endpoint);
  const rows: ConvertedRow[] = [];
  const sources: FetchResult['sources'] = [];
  for (const [fileIndex, f] of b.source.entries()) {
    const url = fileUrl(endpoint, f);
    const bytes = await download(url, o);
    sources.push({ url, bytes: bytes.byteLength });
    o.onFile?.({ benchmark: b.name, url, bytes: bytes.byteLength });
    const source = await readSourceRows(bytes, f, url);
    if (source.length !== f.rows) {
      throw new FetchError(
        `${url}: expected ${f.rows} rows, got ${source.length}: the upstream file changed; nothing was written`,
      );
    }
    source.forEach((row, i) => {
      try {
        rows.push({ ...b.convert!(row, i, fileIndex), source: `hf:${f.repo}@${f.revision}:${f.path}` });
      } catch (err) {
        throw new FetchError(`${url}: row ${i + 1}: ${(err as Error).message}`);
      }
    });
  }
  if (rows.length !== b.rows)
    throw new FetchError(`${b.name}: expected ${b.rows} rows, got ${rows.length}; nothing was written`);
  const jsonl = jsonlText(rows);
  const dir = o.dataDir ?? defaultCacheDir();
  const file = path.join(dir, b.file);
  // Validate the converted rows exactly as `--dataset` will read them, before anything is written.
  parseProblems(jsonl, `${b.name} (converted from ${sources.map((s) => s.url).join(', ')})`);
  await writeFileAtomic(file, jsonl);
  return { name: b.name, file, rows: rows.length, sources };
}

/** The benchmarks that can be downloaded. */
export function fetchable(): Benchmark[] {
  return BENCHMARKS.filter((b) => b.source !== null);
}
