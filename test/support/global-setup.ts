import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// CLI tests spawn the built `dist/`: rebuild it first when any source is newer than the build.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(p));
    else if (entry.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const built = path.join(root, 'dist/src/cli/main.js');
  const sources = Math.max(
    ...['src', 'eval', 'rl', 'bench']
      .filter((d) => existsSync(path.join(root, d)))
      .map((d) => newest(path.join(root, d))),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], {
      stdio: 'inherit',
    });
  } catch {
    // tsc still emits on type errors; `npm run typecheck` and `prepare` are where they fail.
    console.warn('[tests] tsc reported errors while rebuilding dist/');
  }
  // As `npm run build` does: tests run the bin through npx too.
  execFileSync(process.execPath, [path.join(root, 'scripts/bin-executable.mjs')]);
}
