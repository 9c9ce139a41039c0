/** Files written whole or not at all: readers (and a rerun after a kill) see the old content or the complete new one. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/**
 * Write `file` through a temporary file beside it, renamed into place once `fill` has written
 * everything: a failure (a bad input row, a full disk) or a kill leaves `file` as it was and no
 * partial file behind. The folder is created if missing. Returns what `fill` returns.
 */
export async function writeAtomically<T>(file: string, fill: (out: FileHandle) => Promise<T>): Promise<T> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const out = await open(tmp, 'w');
  try {
    const result = await fill(out);
    await out.close();
    await rename(tmp, file);
    return result;
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Write `data` to `file` atomically (see writeAtomically). */
export function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  return writeAtomically(file, (out) => out.writeFile(data));
}

export const jsonText = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';
export const jsonlText = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r) + '\n').join('');
