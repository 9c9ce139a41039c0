import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ThreadweaverError } from '../errors.js';

let cached: string | undefined;
let version: string | undefined;

/**
 * The threadweaver-ts package folder: the nearest folder above this module whose package.json is
 * ours (the same from `src/` under vitest, from `dist/src/` after a build, and when installed).
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'threadweaver-ts') return (cached = dir);
    } catch {
      // no (readable) package.json here: keep walking up
    }
    const up = path.dirname(dir);
    if (up === dir) throw new ThreadweaverError('threadweaver-ts: cannot locate the package folder');
    dir = up;
  }
}

/** The installed threadweaver-ts version (package.json's). */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
  return version;
}
