import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Write a file so that readers see the old content or the whole new one (tmp + rename). */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export const jsonText = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';
export const jsonlText = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r) + '\n').join('');
