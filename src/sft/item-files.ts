/**
 * One item's folder in a stage-1 run (`items/<id>/`): each step's output and `trace.jsonl`, the
 * record of every request, answer and guard decision, so a run can be inspected item by item.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { jsonText, writeFileAtomic } from '../internal/files.js';

export const TRACE_FILE = 'trace.jsonl';

/** A folder name for an item id: the id itself when it is safe, else a cleaned id plus a hash. */
export function itemDirName(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  return safe === id ? id : `${safe}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

export class ItemFiles {
  private constructor(readonly dir: string) {}

  /** The item's folder, emptied: a rerun rewrites it whole (its answers come from the LLM cache). */
  static async open(root: string, id: string): Promise<ItemFiles> {
    const dir = path.join(root, itemDirName(id));
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return new ItemFiles(dir);
  }

  write(name: string, data: string | object): Promise<void> {
    return writeFileAtomic(path.join(this.dir, name), typeof data === 'string' ? data : jsonText(data));
  }

  trace(step: string, event: object): Promise<void> {
    return appendFile(path.join(this.dir, TRACE_FILE), JSON.stringify({ step, ...event }) + '\n');
  }
}
