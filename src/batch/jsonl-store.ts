/**
 * An append-only JSONL file of keyed rows, written as work finishes: one line per row, written
 * whole and synced at once, so a killed run loses at most the row being written and a rerun
 * resumes from what is stored. Eval results and RL rollouts are kept this way.
 */
import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { jsonLines } from '../internal/jsonl.js';

export interface JsonlStore<R, K = R> {
  readonly path: string;
  /** How many bytes of a torn last line were dropped when the file was opened (0 normally). */
  readonly repairedBytes: number;
  has(key: K): boolean;
  /** Append one row as one synced write. Throws if its key is already stored. */
  append(row: R): Promise<void>;
  /** All stored rows, in file order (the first of rows with the same key). */
  rows(): readonly R[];
  close(): Promise<void>;
}

export interface JsonlStoreOptions<R, K> {
  /** Parse and validate one stored line; `where` is `file:line`, which its errors should start with. */
  parse: (line: string, where: string) => R;
  /** A row's identity: two rows with the same key are the same work. */
  key: (row: K) => string;
  /** The error class of a duplicate append (default Error). */
  error?: new (message: string) => Error;
}

/**
 * Open (or create) a store. Complete lines are parsed; a torn last line (no newline: the process
 * died mid-write) is cut off the file. Duplicate keys in the file keep the first row.
 */
export async function openJsonlStore<R extends K, K>(
  path: string,
  o: JsonlStoreOptions<R, K>,
): Promise<JsonlStore<R, K>> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const end = text.lastIndexOf('\n') + 1;
  const repairedBytes = Buffer.byteLength(text.slice(end));
  if (repairedBytes > 0) await truncate(path, Buffer.byteLength(text.slice(0, end)));

  const rows: R[] = [];
  const keys = new Set<string>();
  for (const l of jsonLines(text.slice(0, end))) {
    const row = o.parse(l.text, `${path}:${l.line}`);
    const key = o.key(row);
    if (keys.has(key)) continue;
    keys.add(key);
    rows.push(row);
  }

  let handle: FileHandle | undefined;
  // Writes are chained so concurrent appends land as whole lines in call order.
  let tail: Promise<void> = Promise.resolve();
  const write = async (line: string): Promise<void> => {
    handle ??= await open(path, 'a');
    await handle.appendFile(line); // writes every byte (a bare write may be partial)
    await handle.datasync();
  };
  const Fail = o.error ?? Error;

  return {
    path,
    repairedBytes,
    has: (key) => keys.has(o.key(key)),
    append(row) {
      const key = o.key(row);
      if (keys.has(key)) return Promise.reject(new Fail(`${path}: duplicate row ${key}`));
      keys.add(key); // reserved now, so a concurrent append of the same key fails
      const line = JSON.stringify(row) + '\n';
      const done = tail
        .then(() => write(line))
        .then(
          () => void rows.push(row),
          (err: unknown) => {
            keys.delete(key);
            throw err;
          },
        );
      tail = done.catch(() => undefined);
      return done;
    },
    rows: () => rows,
    async close() {
      await tail;
      await handle?.close();
      handle = undefined;
    },
  };
}
