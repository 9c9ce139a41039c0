/**
 * The on-disk LLM answer cache: one JSON file per request, named by a hash of what was asked
 * (model, messages, parameters; never the endpoint), so a rerun pays nothing twice.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../internal/files.js';

/** One entry of the answer cache: the request's key, what was asked, the answer and its usage. */
export interface CachedAnswer {
  key: string;
  /** What was asked, kept for inspection. */
  request: unknown;
  content: string;
  usage?: { promptTokens: number; completionTokens: number };
}

/** The cache key of a request: sha256 of its canonical JSON (object keys sorted). */
export function requestKey(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The on-disk LLM answer cache in `dir`, one JSON file per request key (in a folder named by the
 * key's first two characters).
 */
export class AnswerCache {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The stored answer, or undefined (an unreadable entry counts as absent and is rewritten later). */
  async get(key: string): Promise<CachedAnswer | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const entry = JSON.parse(text) as CachedAnswer;
      return entry.key === key && typeof entry.content === 'string' ? entry : undefined;
    } catch {
      return undefined;
    }
  }

  /** Store an answer atomically: a reader sees the whole file or none. */
  async put(entry: CachedAnswer): Promise<void> {
    await writeFileAtomic(this.file(entry.key), JSON.stringify(entry, null, 1) + '\n');
  }
}
